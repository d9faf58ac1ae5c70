# One command per task. `make run` and `make test` create .venv on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint format bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,semantic]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flashgrade serve

test: $(STAMP)
	$(BIN)/pytest

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
	$(BIN)/python tests/benchmarks/bench_apkg.py
	$(BIN)/python tests/benchmarks/bench_upload_preview.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
