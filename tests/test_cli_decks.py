"""`flashgrade import` and `flashgrade check` through web.cli.main."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cli_helpers import one_line_error

from grader.decks import load_deck
from web.cli import main

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def seed_copy(tmp_path: Path) -> Path:
    path = tmp_path / "export.txt"
    shutil.copy(FIXTURES / "brainscape_mlops.txt", path)
    return path


# --- import -----------------------------------------------------------------------------------


def test_import_prints_markdown_on_stdout(
    seed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(seed_copy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ML Ops Flashcards\n")
    assert "## built-churn-prediction-model-subscription-service\n" in out


def test_import_prints_warnings_on_stderr(
    seed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["import", str(seed_copy)])
    err = capsys.readouterr().err
    assert f"warning: {seed_copy}:267: card 8 is empty; skipped" in err


def test_import_out_writes_a_deck_that_reads_back(
    seed_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlops.md"
    assert main(["import", str(seed_copy), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"wrote {out}: 7 cards" in captured.err
    assert load_deck(out).cards == load_deck(seed_copy).cards


def test_import_out_refuses_to_replace_a_deck_and_says_which(
    seed_copy: Path, mlops_md: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine.md"
    shutil.copy(mlops_md, out)
    export = tmp_path / "small.txt"
    export.write_text("Small\n\n1\nQ\nWhat is drift?\nA\nA change in the inputs.\n")
    before = out.read_bytes()
    assert main(["import", str(export), "--out", str(out)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{out} exists: add --force to replace it (deck 'ML Ops Flashcards', 7 cards)" in line
    assert out.read_bytes() == before


def test_import_out_writes_over_its_own_earlier_output_without_force(
    seed_copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mlops.md"
    assert main(["import", str(seed_copy), "--out", str(out)]) == 0
    assert main(["import", str(seed_copy), "--out", str(out)]) == 0


def test_import_out_force_overwrites_without_leaving_temp_files(
    seed_copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "mlops.md"
    out.write_text("old content", encoding="utf-8")
    assert main(["import", str(seed_copy), "--out", str(out), "--force"]) == 0
    assert out.read_text(encoding="utf-8").startswith("# ML Ops Flashcards")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "export.txt", "mlops.md"]


def test_import_out_gets_the_mode_of_a_new_file_or_keeps_the_old_one(
    seed_copy: Path, tmp_path: Path
) -> None:
    new, old = tmp_path / "new.md", tmp_path / "old.md"
    old.write_text("old content", encoding="utf-8")
    old.chmod(0o640)
    mask = os.umask(0o022)
    try:
        assert main(["import", str(seed_copy), "--out", str(new)]) == 0
        assert main(["import", str(seed_copy), "--out", str(old), "--force"]) == 0
    finally:
        os.umask(mask)
    assert (new.stat().st_mode & 0o777, old.stat().st_mode & 0o777) == (0o644, 0o640)


def test_import_with_explicit_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.dat"
    shutil.copy(FIXTURES / "anki_comma.csv", path)
    assert main(["import", str(path), "--format", "anki-txt"]) == 0
    assert "## data-drift\n" in capsys.readouterr().out


def test_import_with_the_wrong_format_isone_line_error(
    seed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(seed_copy), "--format", "markdown"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{seed_copy}:1: a deck starts with its title" in line


def test_import_missing_file_isone_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(tmp_path / "nope.txt")]) == 2
    assert "nope.txt: no such deck file" in one_line_error(capsys.readouterr().err)


def test_import_non_utf8_file_isone_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("Déck\n\n1\nQ\nQué?\nA\n- Sí\n".encode("latin-1"))
    assert main(["import", str(path)]) == 2
    assert f"{path}: not UTF-8 text" in one_line_error(capsys.readouterr().err)


def test_import_empty_file_isone_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.txt"
    path.write_text("", encoding="utf-8")
    assert main(["import", str(path)]) == 2
    assert "empty.txt: the file is empty" in one_line_error(capsys.readouterr().err)


def test_import_out_into_missing_directory_isone_line_error(
    seed_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import", str(seed_copy), "--out", str(tmp_path / "no" / "x.md")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in one_line_error(err.split("\n", 1)[1])  # after the card 8 warning


@pytest.mark.parametrize("where", ["dir", "under-a-file", "long-name"])
def test_import_out_that_cannot_be_written_isone_line_error(
    seed_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    out = {
        "dir": tmp_path,
        "under-a-file": seed_copy / "x.md",
        "long-name": tmp_path / ("x" * 300 + ".md"),
    }[where]
    assert main(["import", str(seed_copy), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in one_line_error(err.split("\n", 1)[1])  # after the card 8 warning
    assert not list(tmp_path.glob(".flashgrade-*"))  # no temporary file left


def test_import_of_a_deck_titled_like_an_anki_header_reads_back_as_markdown(
    tmp_path: Path,
) -> None:
    export = tmp_path / "bs.txt"
    export.write_text(
        "Deck: ML Ops\n\n(1 cards)\n\n1\nQ\nWhat is drift?\nA\nA change in the inputs.\n",
        encoding="utf-8",
    )
    assert main(["import", str(export), "--out", str(tmp_path / "bs.md")]) == 0
    deck = load_deck(tmp_path / "bs.md")
    assert (deck.title, [c.question for c in deck.cards]) == ("Deck: ML Ops", ["What is drift?"])


# --- check ------------------------------------------------------------------------------------


def test_check_clean_deck_exits_0_and_prints_nothing(
    mlops_md: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(mlops_md)]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "checked 1 deck: 0 errors, 0 warnings" in captured.err


def test_check_reports_the_skipped_empty_card_as_a_warning(
    seed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(seed_copy)]) == 0
    assert capsys.readouterr().out == f"{seed_copy}: warning: line 267: card 8 is empty; skipped\n"


def test_check_ungradable_point_is_an_error_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    deck.write_text(
        "# D\n\n## a\n\nWhat is drift?\n\n- Inputs change over time.\n- And the, of it!\n", "utf-8"
    )
    assert main(["check", str(deck)]) == 1
    out = capsys.readouterr().out
    assert out == (
        f"{deck}: error: card 'a' point 1.2 has nothing to grade "
        "(only stop words or punctuation): 'And the, of it!'\n"
    )


def test_check_duplicate_questions_and_points_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    card = "What is drift?\n\n- Inputs change over time.\n- inputs change over time\n"
    deck.write_text(f"# D\n\n## a\n\n{card}\n## b\n\n{card}", "utf-8")
    assert main(["check", str(deck)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"{deck}: warning: cards 'a' and 'b' ask the same question" in out
    assert f"{deck}: warning: card 'a' point 1.2 repeats point 1.1" in out


def test_check_alias_term_missing_from_point_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    deck.write_text(
        "# D\n\n## a\n\nq?\n\n- Use a canary release.\n  - aliases: blue-green = blue/green\n",
        "utf-8",
    )
    assert main(["check", str(deck)]) == 0
    assert "alias term 'blue-green' does not occur in the point" in capsys.readouterr().out


def test_check_duplicate_card_id_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    deck.write_text(
        "# D\n\n## a\n\nq?\n\n- point one here\n\n## a\n\nr?\n\n- point two here\n", "utf-8"
    )
    assert main(["check", str(deck)]) == 1
    assert (
        capsys.readouterr().out
        == f"{deck}: error: line 9: duplicate card id 'a' (first at line 3)\n"
    )


def test_check_broken_deck_is_reported_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.md"
    bad.write_bytes(b"# D\n\n## a\n\n\xff\xfe\n")
    assert main(["check", str(bad), str(tmp_path / "missing.md")]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.splitlines() == [
        f"{bad}: error: not UTF-8 text (byte 11); save it as UTF-8",
        f"{tmp_path / 'missing.md'}: error: no such deck file",
    ]


def test_check_several_decks_reports_each(
    mlops_md: Path, seed_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(mlops_md), str(seed_copy)]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("warning") == 1
    assert "checked 2 decks: 0 errors, 1 warning" in captured.err


def test_check_passes_over_a_readme_among_the_decks(
    mlops_md: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Deck files\n\nNotes about the decks.\n", encoding="utf-8")
    assert main(["check", str(mlops_md), str(readme)]) == 0
    err = capsys.readouterr().err
    assert f"{readme}: skipped: a README holds notes, not a deck" in err
    assert "checked 1 deck: 0 errors, 0 warnings" in err


def test_check_names_a_point_with_only_the_questions_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    deck.write_text(
        "# D\n\n## a\n\nWhy monitor data drift?\n\n- Data drift monitoring.\n"
        "- Inputs change over time.\n",
        "utf-8",
    )
    assert main(["check", str(deck)]) == 0
    assert capsys.readouterr().out == (
        f"{deck}: warning: card 'a' point 1.1 has only words of the question ('data', "
        "'drift', 'monitoring'): an answer that repeats the question would seem to cover it\n"
    )


def test_check_names_a_point_with_the_same_words_as_another(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "d.md"
    deck.write_text(
        "# D\n\n## a\n\nWhat is drift?\n\n- Inputs change over time.\n"
        "- Over time, the inputs are changing.\n",
        "utf-8",
    )
    assert main(["check", str(deck)]) == 0
    assert f"{deck}: warning: card 'a' point 1.2 repeats point 1.1" in capsys.readouterr().out
