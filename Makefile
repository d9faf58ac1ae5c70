# One command per task. `make run` and `make test` create .venv on a fresh machine.
# `make run PORT=8080 DATA=/path/to/data` serves on another port, with another data folder.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pip's output: read it when an install fails
LOG := $(VENV)/install.log
PORT ?=
DATA ?=

.PHONY: run test test-fast lint format bench clean

# Our own steps on the terminal, pip's to $(LOG) (its last lines shown if it fails).
$(STAMP): pyproject.toml
	@echo "flashgrade: creating $(VENV) with $(PY)"
	@$(PY) -m venv $(VENV)
	@echo "flashgrade: installing flashgrade, its embedding model and the test tools (a minute or two)"
	@{ $(BIN)/pip install --upgrade pip && $(BIN)/pip install -e '.[dev,semantic]'; } >$(LOG) 2>&1 || { \
		echo "flashgrade: the install failed; the end of pip's log:" >&2; tail -n 25 $(LOG) >&2; \
		echo "flashgrade: pip's whole log is $(LOG)" >&2; exit 1; }
	@touch $(STAMP)
	@echo "flashgrade: installed into $(VENV)"

run: $(STAMP)
	@echo "flashgrade: starting the server$(if $(DATA), with its data in $(DATA)) (Ctrl+C stops it)"
	@$(if $(DATA),FLASHGRADE_DATA_DIR='$(DATA)' )$(BIN)/flashgrade serve $(if $(PORT),--port $(PORT))

test: $(STAMP)
	@echo "flashgrade: running the test suite"
	@$(BIN)/pytest

# the quick loop while editing: no browser, no real servers, no long simulations
test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/bench_grade.py
	$(BIN)/python tests/benchmarks/bench_memory.py
	$(BIN)/python tests/benchmarks/bench_llm.py
	$(BIN)/python tests/benchmarks/bench_http.py
	$(BIN)/python tests/benchmarks/bench_history.py
	$(BIN)/python tests/benchmarks/bench_login.py
	$(BIN)/python tests/benchmarks/bench_class.py
	$(BIN)/python tests/benchmarks/bench_apkg.py
	$(BIN)/python tests/benchmarks/bench_upload_preview.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
