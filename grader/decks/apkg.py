"""Anki packages (.apkg) -> a Deck: the current format and the legacy ones.

A package is a zip. Anki's current format holds ``meta`` (a protobuf naming the version),
``collection.anki21b`` (the SQLite collection, zstd-compressed) and a ``collection.anki2``
beside it that is only a stub whose one note says "Please update to the latest Anki
version"; the legacy formats hold a plain SQLite ``collection.anki21`` or ``collection.anki2``.
Media files are ignored. Each note's first field is the question; its second field, HTML,
becomes points split on line breaks, list items, ``<div>``s and ``;``.
"""

from __future__ import annotations

import io
import sqlite3
import zipfile
import zlib
from typing import IO

import zstandard

from grader.cards import Card, Deck
from grader.decks._common import deck_id, fail
from grader.decks._html import html_to_text, semicolons_to_breaks
from grader.decks.answer import note_card
from grader.decks.apkg_collection import Collection, NoteType, read_collection
from grader.decks.protobuf import varint_fields

MAX_PACKAGE_BYTES = 100 * 2**20
MAX_COLLECTION_BYTES = 512 * 2**20
_ZIP_MAGIC = b"PK\x03\x04"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_STUB_TEXT = "please update to the latest anki version"
# The collection's file name for each version that ``meta`` can name (Anki's meta.rs).
_COLLECTIONS = {1: "collection.anki2", 2: "collection.anki21", 3: "collection.anki21b"}
_CHUNK = 1 << 20


def looks_like_apkg(data: bytes) -> bool:
    """True when ``data`` starts like a zip archive (as every .apkg does)."""
    return data.startswith(_ZIP_MAGIC)


def read_apkg(
    data: bytes,
    *,
    source: str,
    max_bytes: int = MAX_PACKAGE_BYTES,
    max_collection_bytes: int = MAX_COLLECTION_BYTES,
) -> Deck:
    """The deck in an Anki package's bytes; DeckError (one line, naming ``source``) if bad.

    ``max_bytes`` bounds the package and ``max_collection_bytes`` its collection once
    decompressed, whatever the zip claims, so that a zip bomb is refused, not unpacked."""
    if len(data) > max_bytes:
        raise fail(
            source, None, f"the package is {_size(len(data))}, over the {_size(max_bytes)} limit"
        )
    collection = _unpack(data, source, max_collection_bytes)
    try:
        found = read_collection(collection)
    # a collection whose tables hold what Anki never writes (note types that are not
    # objects, field numbers that are not numbers) is as unreadable as a corrupt file
    except (sqlite3.DatabaseError, ValueError, TypeError, AttributeError, KeyError) as exc:
        raise fail(source, None, f"the package's collection cannot be read ({exc})") from None
    if not found.notes:
        raise fail(source, None, "the package's collection has no notes")
    if len(found.notes) == 1 and _STUB_TEXT in found.notes[0].fields[0].lower():
        raise fail(source, None, "the package holds only Anki's 'please update' stub collection")
    return _deck(found, source)


def check_package_size(size: int, *, source: str, max_bytes: int = MAX_PACKAGE_BYTES) -> None:
    """DeckError when a package of ``size`` bytes is over ``max_bytes``."""
    if size > max_bytes:
        raise fail(source, None, f"the package is {_size(size)}, over the {_size(max_bytes)} limit")


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def _unpack(data: bytes, source: str, limit: int) -> bytes:
    """The collection's SQLite bytes, read from the zip within ``limit`` bytes."""
    if not looks_like_apkg(data):
        raise fail(source, None, "not an Anki package (.apkg is a zip archive)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            name = _collection_name(archive, names, source)
            with archive.open(name) as member:
                if name.endswith("b"):
                    raw = _read_zstd(member, limit, source)
                else:
                    raw = _read_bounded(member, limit, source)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise fail(source, None, f"a damaged or unsupported zip archive ({exc})") from None
    if not raw.startswith(_SQLITE_MAGIC):
        raise fail(source, None, f"the package's {name} is not an SQLite collection")
    return raw


def _collection_name(archive: zipfile.ZipFile, names: set[str], source: str) -> str:
    """The file that holds the real collection: as ``meta`` says, else the newest there."""
    if "meta" in names:
        with archive.open("meta") as meta:  # a few bytes; never unpacked whole
            version = _meta_version(meta.read(64))
        if version not in _COLLECTIONS:
            raise fail(source, None, "the package was made by a newer Anki than flashgrade reads")
        if _COLLECTIONS[version] in names:
            return _COLLECTIONS[version]
    for name in ("collection.anki21b", "collection.anki21", "collection.anki2"):
        if name in names:
            return name
    raise fail(source, None, "a zip archive but not an Anki package (no collection inside)")


def _meta_version(meta: bytes) -> int:
    """Field 1 (a varint) of Anki's PackageMetadata protobuf; 0 where it is absent."""
    return dict(varint_fields(meta)).get(1, 0)


def _read_bounded(stream: IO[bytes], limit: int, source: str) -> bytes:
    out = bytearray()
    while chunk := stream.read(_CHUNK):
        out += chunk
        if len(out) > limit:
            raise fail(source, None, f"the collection unpacks to over {_size(limit)}; refused")
    return bytes(out)


def _read_zstd(member: IO[bytes], limit: int, source: str) -> bytes:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(member, read_across_frames=True)
        with reader:
            return _read_bounded(reader, limit, source)
    except zstandard.ZstdError as exc:
        raise fail(source, None, f"the collection's zstd stream is corrupt ({exc})") from None


def _deck(found: Collection, source: str) -> Deck:
    warnings: list[str] = []
    cards: list[Card] = []
    taken: set[str] = set()
    cloze = 0
    wide: dict[int, NoteType] = {}
    for number, note in enumerate(found.notes, 1):
        kind = found.types.get(note.type_id)
        if kind is not None and kind.cloze:
            cloze += 1
            continue
        if kind is not None and len(kind.fields) > 2:
            wide[note.type_id] = kind
        front, back = [*note.fields, "", ""][:2]
        answer = html_to_text(semicolons_to_breaks(back)).splitlines()
        card = note_card(
            html_to_text(front), answer, taken=taken, position=len(cards) + 1, line_points=True
        )
        if isinstance(card, str):
            warnings.append(f"{source}: note {number} has {card}; skipped")
        else:
            cards.append(card)
    for kind in wide.values():
        first, second = kind.fields[:2]
        warnings.append(
            f"{source}: note type {kind.name!r} has {len(kind.fields)} fields; only the first "
            f"two ({first}, {second}) are read"
        )
    if cloze:
        warnings.append(
            f"{source}: skipped {cloze} cloze note{'s' * (cloze != 1)} (flashgrade needs a "
            "question and an answer)"
        )
    if not cards:
        raise fail(source, None, "no notes with both a front and a back")
    title = found.title or deck_id(source).replace("-", " ").capitalize()
    return Deck(deck_id(source), title, tuple(cards), source=source, warnings=tuple(warnings))
