"""`flashgrade grade` and `flashgrade eval`: outputs, exit codes and one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from web.cli import main

ROOT = Path(__file__).resolve().parent.parent
DECK = str(ROOT / "decks" / "mlops.md")
FIXTURES = Path(__file__).parent / "fixtures"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str) -> None:
    assert code != 0
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith("flashgrade: error: ")


def test_grade_json_prints_the_design_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "grade",
        "--deck",
        DECK,
        "--card",
        "1",
        "--answer",
        "retrain and monitor drift",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "score",
        "coverage",
        "method",
        "points",
        "missing",
        "warnings",
        "grader_version",
    }
    assert 1 <= data["score"] <= 5 and data["method"] == "fuzzy"
    assert len(data["points"]) == 9


def test_grade_text_output_shows_label_and_points(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "grade", "--deck", DECK, "--card", "1", "--answer", "")
    assert code == 0
    assert out.startswith("Score: 1 Not at all")
    assert out.count("[-]") == 9


def test_grade_takes_the_card_by_id(capsys: pytest.CaptureFixture[str]) -> None:
    card_id = "built-churn-prediction-model-subscription-service"
    code, out, _ = run(
        capsys, "grade", "--deck", DECK, "--card", card_id, "--answer", "x", "--json"
    )
    assert code == 0 and json.loads(out)["score"] == 1


def test_grade_reads_the_answer_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    answer = tmp_path / "answer.txt"
    answer.write_text("Package the model with its preprocessing steps.", encoding="utf-8")
    code, out, _ = run(
        capsys, "grade", "--deck", DECK, "--card", "1", "--answer-file", str(answer), "--json"
    )
    assert code == 0
    assert json.loads(out)["points"][0]["status"] == "covered"


def test_grade_reads_the_answer_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("monitor drift over time"))
    code, out, _ = run(capsys, "grade", "--deck", DECK, "--card", "1", "--json")
    assert code == 0
    assert next(p for p in json.loads(out)["points"] if p["id"] == "2.4")["status"] == "covered"


def test_empty_answer_is_graded_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "grade", "--deck", DECK, "--card", "2", "--answer", " ", "--json")
    data = json.loads(out)
    assert code == 0 and data["score"] == 1
    assert len(data["missing"]) == 13 and data["warnings"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--deck", "nope.md", "--card", "1", "--answer", "x"], "deck not found"),
        (["--deck", DECK, "--card", "99", "--answer", "x"], "no card '99'"),
        (["--deck", DECK, "--card", "no-such-card", "--answer", "x"], "no card 'no-such-card'"),
        (["--deck", DECK, "--card", "①", "--answer", "x"], "no card '①'"),
        (["--deck", DECK, "--card", "1", "--answer-file", "missing.txt"], "answer file not found"),
    ],
)
def test_grade_errors_name_the_problem(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, "grade", *argv)
    assert_one_line_error(code, err)
    assert message in err


def test_non_utf8_answer_file_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    code, _, err = run(capsys, "grade", "--deck", DECK, "--card", "1", "--answer-file", str(bad))
    assert_one_line_error(code, err)
    assert "latin1.txt" in err and "UTF-8" in err


def test_an_empty_answer_file_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["grade", "--deck", DECK, "--card", "1", "--answer-file", ""])
    assert exit_.value.code == 2
    assert "--answer-file: give a file name" in capsys.readouterr().err


def test_llm_flag_without_a_model_names_the_missing_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "grade", "--deck", DECK, "--card", "1", "--answer", "x", "--llm")
    assert_one_line_error(code, err)
    assert "FLASHGRADE_LLM_MODEL" in err


def test_a_100k_character_answer_is_graded_by_the_real_command(tmp_path: Path) -> None:
    answer = tmp_path / "big.txt"
    answer.write_text(("retrain the model and monitor drift. " * 3000)[:100_000], encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "web.cli",
            "grade",
            "--deck",
            DECK,
            "--card",
            "1",
            "--answer-file",
            str(answer),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert 1 <= json.loads(proc.stdout)["score"] <= 5


def test_eval_json_prints_the_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", str(FIXTURES / "labelled_seed.jsonl"), "--no-llm", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == {
        "n",
        "pearson",
        "spearman",
        "qwk",
        "rmse",
        "exact",
        "within1",
        "missing_precision",
        "missing_recall",
        "missing_f1",
    }
    assert data["n"] == 8


def test_eval_plain_reference_has_no_missing_metrics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "eval", str(FIXTURES / "labelled_plain.jsonl"), "--json")
    assert code == 0 and "missing_f1" not in json.loads(out)


def test_eval_out_writes_one_prediction_per_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "pred.jsonl"
    code, _, _ = run(capsys, "eval", str(FIXTURES / "labelled_seed.jsonl"), "--out", str(out_file))
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert code == 0 and len(lines) == 8
    assert set(lines[0]) == {"id", "score", "coverage", "method", "points"}
    assert set(lines[0]["points"][0]) == {"id", "status"}


def test_eval_out_of_text_that_cannot_be_written_is_one_line_and_leaves_no_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    row = json.loads((FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0])
    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps({**row, "id": "\ud800x"}) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(data), "--out", str(tmp_path / "pred.jsonl"))
    assert_one_line_error(code, err)
    assert "cannot write" in err and not list(tmp_path.glob("*pred*"))
    assert not list(tmp_path.glob(".flashgrade-*"))


def test_eval_broken_line_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    data = tmp_path / "broken.jsonl"
    first = (FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0]
    data.write_text(f"{first}\n\n{first[:40]}\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(data))
    assert_one_line_error(code, err)
    assert "broken.jsonl:3:" in err


def test_eval_missing_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "eval", "no-such.jsonl")
    assert_one_line_error(code, err)


def test_eval_reports_progress_on_stderr_for_long_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = (FIXTURES / "labelled_plain.jsonl").read_text().splitlines()
    data = tmp_path / "long.jsonl"
    data.write_text("\n".join(rows * 40) + "\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(data), "--json")
    assert code == 0
    assert "eval: 240/240 graded" in err


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err
