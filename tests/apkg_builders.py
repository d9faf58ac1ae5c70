"""Real Anki packages for the tests, built in tmp_path.

- ``legacy_apkg``: what genanki writes (and Anki before 2.1.50): a zip with a plain SQLite
  ``collection.anki2`` (schema 11: note types and decks as JSON in ``col``) and ``media``.
- ``current_apkg``: Anki's current layout, as rslib/src/import_export/package/colpkg/export.rs
  writes it: ``meta`` (protobuf PackageMetadata, version 3 = LATEST), ``collection.anki21b``
  (the schema 18 collection, zstd-compressed), the stub ``collection.anki2`` whose one note
  says "Please update to the latest Anki version", and ``media`` (zstd, an empty list).
"""

from __future__ import annotations

import io
import itertools
import sqlite3
import zipfile
from collections.abc import Sequence
from pathlib import Path

import genanki
import zstandard

from grader.decks.protobuf import encode_varint_field

STUB_TEXT = "Please update to the latest Anki version, then import the .colpkg/.apkg file again."
BASIC_ID, CLOZE_ID, WIDE_ID = 1_700_000_001, 1_700_000_002, 1_700_000_003
BASIC = genanki.Model(
    BASIC_ID,
    "Basic",
    fields=[{"name": "Front"}, {"name": "Back"}],
    templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{FrontSide}}<hr>{{Back}}"}],
)
WIDE = genanki.Model(
    WIDE_ID,
    "Basic (with source)",
    fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Source"}],
    templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": "{{FrontSide}}<hr>{{Back}}"}],
)
CLOZE = genanki.Model(
    CLOZE_ID,
    "Cloze",
    model_type=genanki.Model.CLOZE,
    fields=[{"name": "Text"}, {"name": "Back Extra"}],
    templates=[{"name": "Cloze", "qfmt": "{{cloze:Text}}", "afmt": "{{cloze:Text}}"}],
)
# What a note is in these builders: its fields, and its note type (Basic by default).
NoteSpec = Sequence[str] | tuple[genanki.Model, Sequence[str]]


def _split(note: NoteSpec) -> tuple[genanki.Model, list[str]]:
    if len(note) == 2 and isinstance(note[0], genanki.Model):
        return note[0], list(note[1])  # type: ignore[arg-type]
    return BASIC, [str(f) for f in note]


def legacy_bytes(notes: Sequence[NoteSpec], *, deck: str = "Test Deck") -> bytes:
    """A legacy package written by genanki, as bytes."""
    anki_deck = genanki.Deck(2_059_400_110, deck)
    for note in notes:
        model, fields = _split(note)
        anki_deck.add_note(genanki.Note(model=model, fields=fields))
    # genanki's write_to_file, minus the temporary file that it leaves behind
    conn = sqlite3.connect(":memory:")
    genanki.Package(anki_deck).write_to_db(conn.cursor(), 1_700_000_000, itertools.count(10**12))
    conn.commit()
    collection = conn.serialize()
    conn.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("collection.anki2", collection)
        archive.writestr("media", "{}")
    return buffer.getvalue()


def legacy_apkg(path: Path, notes: Sequence[NoteSpec], *, deck: str = "Test Deck") -> Path:
    """Write a legacy package (genanki) to ``path``."""
    path.write_bytes(legacy_bytes(notes, deck=deck))
    return path


# The tables of Anki's schema 18 that a reader touches, as Anki creates them
# (rslib/src/storage/schema11.sql and upgrades/schema15_upgrade.sql).
_SCHEMA_18 = """
CREATE TABLE col (id integer PRIMARY KEY, crt integer NOT NULL, mod integer NOT NULL,
  scm integer NOT NULL, ver integer NOT NULL, dty integer NOT NULL, usn integer NOT NULL,
  ls integer NOT NULL, conf text NOT NULL, models text NOT NULL, decks text NOT NULL,
  dconf text NOT NULL, tags text NOT NULL);
CREATE TABLE notes (id integer PRIMARY KEY, guid text NOT NULL, mid integer NOT NULL,
  mod integer NOT NULL, usn integer NOT NULL, tags text NOT NULL, flds text NOT NULL,
  sfld integer NOT NULL, csum integer NOT NULL, flags integer NOT NULL, data text NOT NULL);
CREATE TABLE cards (id integer PRIMARY KEY, nid integer NOT NULL, did integer NOT NULL,
  ord integer NOT NULL, mod integer NOT NULL, usn integer NOT NULL, type integer NOT NULL,
  queue integer NOT NULL, due integer NOT NULL, ivl integer NOT NULL, factor integer NOT NULL,
  reps integer NOT NULL, lapses integer NOT NULL, left integer NOT NULL, odue integer NOT NULL,
  odid integer NOT NULL, flags integer NOT NULL, data text NOT NULL);
CREATE TABLE fields (ntid integer NOT NULL, ord integer NOT NULL,
  name text NOT NULL COLLATE unicase, config blob NOT NULL, PRIMARY KEY (ntid, ord))
  without rowid;
CREATE UNIQUE INDEX idx_fields_name_ntid ON fields (name, ntid);
CREATE TABLE notetypes (id integer NOT NULL PRIMARY KEY, name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL, usn integer NOT NULL, config blob NOT NULL);
CREATE UNIQUE INDEX idx_notetypes_name ON notetypes (name);
CREATE TABLE decks (id integer PRIMARY KEY NOT NULL, name text NOT NULL COLLATE unicase,
  mtime_secs integer NOT NULL, usn integer NOT NULL, common blob NOT NULL, kind blob NOT NULL);
CREATE UNIQUE INDEX idx_decks_name ON decks (name);
"""


def _unicase(a: str, b: str) -> int:
    return (a.casefold() > b.casefold()) - (a.casefold() < b.casefold())


def collection_v18(
    notes: Sequence[NoteSpec], *, deck: str = "Parent\x1fTest Deck", path: Path
) -> bytes:
    """A schema 18 collection's SQLite bytes (written at ``path`` on the way)."""
    conn = sqlite3.connect(path)
    conn.create_collation("unicase", _unicase)
    conn.executescript(_SCHEMA_18)
    conn.execute(
        "INSERT INTO col VALUES (1, 0, 0, 0, 18, 0, 0, 0, '', '', '', '', '')"
    )  # schema 18 leaves the JSON columns empty
    for model in (BASIC, WIDE, CLOZE):
        # Notetype.Config: field 1 is the kind (omitted when 0, as prost does); 3 the CSS
        kind = encode_varint_field(1, 1) if model is CLOZE else b""
        config = kind + b"\x1a\x05.card"
        conn.execute(
            "INSERT INTO notetypes VALUES (?, ?, 0, 0, ?)", (model.model_id, model.name, config)
        )
        for ord_, field in enumerate(model.fields):
            conn.execute(
                "INSERT INTO fields VALUES (?, ?, ?, ?)", (model.model_id, ord_, field["name"], b"")
            )
    conn.execute("INSERT INTO decks VALUES (1, 'Default', 0, 0, x'', x'')")
    conn.execute("INSERT INTO decks VALUES (1500, ?, 0, 0, x'', x'')", (deck,))
    for i, note in enumerate(notes):
        model, fields = _split(note)
        nid = 1_600_000_000_000 + i
        conn.execute(
            "INSERT INTO notes VALUES (?, ?, ?, 0, 0, '', ?, ?, 0, 0, '')",
            (nid, f"guid{i}", model.model_id, "\x1f".join(fields), fields[0]),
        )
        conn.execute(
            "INSERT INTO cards VALUES (?, ?, 1500, 0, 0, 0, 0, 0, ?, 0, 0, 0, 0, 0, 0, 0, 0, '')",
            (nid, nid, i + 1),
        )
    conn.commit()
    conn.execute("PRAGMA journal_mode = delete")
    conn.close()
    return path.read_bytes()


def current_bytes(
    notes: Sequence[NoteSpec],
    tmp_path: Path,
    *,
    deck: str = "Parent\x1fTest Deck",
    collection: bytes | None = None,
) -> bytes:
    """A package in Anki's current format, as bytes; ``collection`` replaces the zstd member."""
    raw = collection_v18(notes, deck=deck, path=tmp_path / "build-v18.sqlite")
    (tmp_path / "build-v18.sqlite").unlink()
    compressed = zstandard.ZstdCompressor().compress(raw) if collection is None else collection
    stub = legacy_bytes([[STUB_TEXT, ""]], deck="Default")
    with zipfile.ZipFile(io.BytesIO(stub)) as old:
        stub_collection = old.read("collection.anki2")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("meta", encode_varint_field(1, 3))
        archive.writestr("collection.anki21b", compressed)
        archive.writestr("collection.anki2", stub_collection)
        archive.writestr("media", zstandard.ZstdCompressor().compress(b""))
    return buffer.getvalue()


def current_apkg(path: Path, notes: Sequence[NoteSpec], **kwargs: object) -> Path:
    """Write a package in Anki's current format to ``path``."""
    path.write_bytes(current_bytes(notes, path.parent, **kwargs))  # type: ignore[arg-type]
    return path
