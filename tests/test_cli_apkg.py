"""`flashgrade import FILE.apkg` and `flashgrade export DECK --out NAME.apkg`."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard
from apkg_builders import CLOZE, current_apkg, current_bytes, legacy_apkg
from cli_helpers import one_line_error

from grader.decks import load_deck
from web.cli import main

NOTES = [
    ["What is a canary release?", "Deploy to a few users first; watch the error rate"],
    ["Why use feature flags?", "<ul><li>Turn features off without a deploy</li></ul>"],
]


@pytest.mark.parametrize("build", [current_apkg, legacy_apkg], ids=["current", "legacy"])
def test_import_apkg_prints_the_deck_as_markdown(
    build,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    path = build(tmp_path / "deck.apkg", [*NOTES, (CLOZE, ["{{c1::Paris}}", ""])])
    assert main(["import", str(path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# Test Deck\n")
    assert "- Deploy to a few users first\n- watch the error rate\n" in captured.out
    assert "skipped 1 cloze note" in captured.err


def test_import_apkg_out_writes_a_markdown_deck(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = current_apkg(tmp_path / "deck.apkg", NOTES)
    out = tmp_path / "mine.md"
    assert main(["import", str(path), "--format", "apkg", "--out", str(out)]) == 0
    assert f"wrote {out}: 2 cards" in capsys.readouterr().err
    assert load_deck(out).cards == load_deck(path).cards


def test_import_a_corrupt_package_is_one_line_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = zstandard.ZstdCompressor().compress(bytes(5000))[:-20] + b"\x00" * 20
    path = tmp_path / "bad.apkg"
    path.write_bytes(current_bytes(NOTES, tmp_path, collection=corrupt))
    out = tmp_path / "out.md"
    assert main(["import", str(path), "--out", str(out)]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert f"{path}: " in line
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["bad.apkg"]


def test_import_a_zip_that_is_not_anki_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import zipfile

    path = tmp_path / "notes.apkg"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert main(["import", str(path)]) == 2
    assert "not an Anki package" in one_line_error(capsys.readouterr().err)


def test_export_writes_a_package_that_imports_back_the_same(
    mlops_md: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlops.apkg"
    assert main(["export", str(mlops_md), "--out", str(out)]) == 0
    assert f"wrote {out}: 7 notes" in capsys.readouterr().err
    before, after = load_deck(mlops_md), load_deck(out)
    assert [c.question for c in after.cards] == [c.question for c in before.cards]
    assert [[p.text for p in c.points] for c in after.cards] == [
        [p.text for p in c.points] for c in before.cards
    ]


def test_import_export_import_keeps_every_question_and_point(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = legacy_apkg(tmp_path / "first.apkg", NOTES)
    md, again = tmp_path / "first.md", tmp_path / "again.apkg"
    assert main(["import", str(first), "--out", str(md)]) == 0
    assert main(["export", str(md), "--out", str(again)]) == 0
    a, b = load_deck(first), load_deck(again)
    assert [(c.question, [p.text for p in c.points]) for c in a.cards] == [
        (c.question, [p.text for p in c.points]) for c in b.cards
    ]


def test_export_refuses_to_replace_a_file_without_force(
    mlops_md: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlops.apkg"
    out.write_bytes(b"keep me")
    assert main(["export", str(mlops_md), "--out", str(out)]) == 2
    assert "exists: add --force" in one_line_error(capsys.readouterr().err)
    assert out.read_bytes() == b"keep me"
    assert main(["export", str(mlops_md), "--out", str(out), "--force"]) == 0
    assert len(load_deck(out).cards) == 7


def test_export_needs_an_apkg_name(
    mlops_md: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mlops.zip"
    assert main(["export", str(mlops_md), "--out", str(out)]) == 2
    assert "ends in .apkg" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


def test_export_of_a_bad_deck_is_one_line_error_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deck = tmp_path / "broken.md"
    deck.write_text("# T\n\n## 12\n\nQ?\n\n- p\n", encoding="utf-8")
    out = tmp_path / "broken.apkg"
    assert main(["export", str(deck), "--out", str(out)]) == 2
    assert "broken.md:3" in one_line_error(capsys.readouterr().err)
    assert not out.exists()


def test_check_reads_a_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = current_apkg(tmp_path / "deck.apkg", NOTES)
    assert main(["check", str(path)]) == 0
    assert "checked 1 deck: 0 errors" in capsys.readouterr().err
