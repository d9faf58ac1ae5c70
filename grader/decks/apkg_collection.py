"""The notes, note types and deck name inside an Anki collection's SQLite bytes.

Two schemas: the legacy one (schema 11) keeps note types and decks as JSON in ``col``; the
current one (schema 18) has ``notetypes``, ``fields`` and ``decks`` tables, a note type's kind
in its protobuf ``config``, and ``\\x1f`` between the parts of a nested deck's name.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from dataclasses import dataclass
from typing import Any

from grader.decks.protobuf import varint_fields

_FIELD_SEP = "\x1f"
_CLOZE = 1  # Notetype.Config.Kind.KIND_CLOZE, and the legacy model's "type"


@dataclass(frozen=True, slots=True)
class Note:
    """One note: its note type's id and its fields (HTML), in order."""

    type_id: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NoteType:
    """A note type: its name, its field names in order, and whether it is a cloze type."""

    name: str
    fields: tuple[str, ...]
    cloze: bool


@dataclass(frozen=True, slots=True)
class Collection:
    """What a deck needs from a collection: notes in creation order, note types, a title."""

    notes: list[Note]
    types: dict[int, NoteType]
    title: str


def _unicase(a: str, b: str) -> int:
    # Anki's tables declare this collation; SQLite wants it before using their indexes.
    x, y = a.casefold(), b.casefold()
    return (x > y) - (x < y)


def read_collection(data: bytes) -> Collection:
    """Read a collection from its SQLite bytes, in memory (nothing is written to disk).

    Raises ``sqlite3.DatabaseError`` or ``ValueError`` for a damaged or foreign database."""
    if data[18:20] == b"\x02\x02":  # WAL mode, which a deserialised database cannot open
        data = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    try:
        conn.create_collation("unicase", _unicase)
        conn.deserialize(data)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA trusted_schema = OFF")
        current = _has_table(conn, "notetypes")
        types = _types(conn) if current else _legacy_types(conn)
        notes = [
            Note(int(mid or 0), tuple(str(flds).split(_FIELD_SEP)))
            for mid, flds in conn.execute("SELECT mid, flds FROM notes ORDER BY id")
        ]
        return Collection(notes, types, _title(conn, current=current))
    finally:
        conn.close()


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _types(conn: sqlite3.Connection) -> dict[int, NoteType]:
    fields: dict[int, list[str]] = {}
    for ntid, name in conn.execute("SELECT ntid, name FROM fields ORDER BY ntid, ord"):
        fields.setdefault(int(ntid), []).append(str(name))
    types = {}
    for ntid, name, config in conn.execute("SELECT id, name, config FROM notetypes"):
        kind = dict(varint_fields(bytes(config or b""))).get(1, 0)
        types[int(ntid)] = NoteType(str(name), tuple(fields.get(int(ntid), [])), kind == _CLOZE)
    return types


def _col_json(conn: sqlite3.Connection, column: str) -> dict[str, Any]:
    row = conn.execute(f"SELECT {column} FROM col LIMIT 1").fetchone()
    value = json.loads(row[0]) if row and row[0] else {}
    if not isinstance(value, dict):
        raise ValueError(f"col.{column} is not a JSON object")
    return value


def _legacy_types(conn: sqlite3.Connection) -> dict[int, NoteType]:
    types = {}
    for key, model in _col_json(conn, "models").items():
        if not isinstance(model, dict):
            continue
        flds = sorted(model.get("flds") or [], key=lambda f: f.get("ord", 0))
        names = tuple(str(f.get("name", "")) for f in flds)
        types[int(key)] = NoteType(str(model.get("name", "")), names, model.get("type") == _CLOZE)
    return types


def _title(conn: sqlite3.Connection, *, current: bool) -> str:
    """The last part of the name of the deck that holds most of the cards."""
    counts = Counter(did for (did,) in conn.execute("SELECT did FROM cards"))
    if not counts:
        return ""
    did = counts.most_common(1)[0][0]
    if current:
        row = conn.execute("SELECT name FROM decks WHERE id = ?", (did,)).fetchone()
        name = str(row[0]) if row else ""
    else:
        deck = _col_json(conn, "decks").get(str(did))
        name = str(deck.get("name", "")) if isinstance(deck, dict) else ""
    return name.replace("::", _FIELD_SEP).split(_FIELD_SEP)[-1].strip()
