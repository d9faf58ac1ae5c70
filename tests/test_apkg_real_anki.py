"""Against Anki itself, where its `anki` package is installed (it is AGPL, so flashgrade
never depends on it; `pip install anki` in the test environment runs these): a package that
Anki writes in its current format reads, and a package that flashgrade writes imports."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.decks import load_deck
from grader.decks.apkg_writer import to_apkg

collection = pytest.importorskip(
    "anki.collection", reason="Anki's own `anki` package is not installed (optional, AGPL)"
)


def test_a_package_exported_by_anki_in_its_current_format_reads(tmp_path: Path) -> None:
    col = collection.Collection(str(tmp_path / "col.anki2"))
    did = col.decks.id("Ops::Deploy")
    basic = col.models.by_name("Basic")
    note = col.new_note(basic)
    note["Front"], note["Back"] = "What is a canary?", "A few users first<br>Watch; roll back"
    col.add_note(note, did)
    cloze = col.new_note(col.models.by_name("Cloze"))
    cloze["Text"] = "{{c1::Paris}} is in France"
    col.add_note(cloze, did)
    options = collection.ExportAnkiPackageOptions(
        with_scheduling=False, with_deck_configs=False, with_media=False, legacy=False
    )
    out = tmp_path / "anki.apkg"
    col.export_anki_package(out_path=str(out), options=options, limit=collection.DeckIdLimit(did))
    col.close()
    deck = load_deck(out)
    assert deck.title == "Deploy"
    assert [p.text for p in deck.cards[0].points] == ["A few users first", "Watch", "roll back"]
    assert any("skipped 1 cloze note" in w for w in deck.warnings)


def test_anki_imports_the_package_that_export_writes(mlops_md: Path, tmp_path: Path) -> None:
    package = tmp_path / "mlops.apkg"
    package.write_bytes(to_apkg(load_deck(mlops_md)))
    col = collection.Collection(str(tmp_path / "col.anki2"))
    request = collection.ImportAnkiPackageRequest(
        package_path=str(package),
        options=collection.ImportAnkiPackageOptions(with_scheduling=False),
    )
    col.import_anki_package(request)
    assert col.note_count() == 7
    assert "ML Ops Flashcards" in [d.name for d in col.decks.all_names_and_ids()]
    col.close()
