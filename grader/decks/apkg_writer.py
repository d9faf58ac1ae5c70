"""Deck -> an Anki package (.apkg) that Anki imports: one note per card.

genanki writes the legacy package (a plain SQLite ``collection.anki2``), which every Anki
version still imports. The front is the question; the back lists the points, under their
section titles, then the summary. Reading the package back gives the same questions and
points: line breaks, list items and ``;`` are what split points on import, so a ``;`` inside
a point is written as ``&#59;``.
"""

from __future__ import annotations

import html
import io
import itertools
import sqlite3
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import genanki

from grader.cards import Card, Deck

# Fixed, so that exporting again updates the same note type in Anki instead of adding one.
_MODEL_ID = 1_738_214_566
_MODEL = genanki.Model(
    _MODEL_ID,
    "flashgrade: question and points",
    fields=[{"name": "Question"}, {"name": "Points"}],
    templates=[
        {
            "name": "Card 1",
            "qfmt": "{{Question}}",
            "afmt": '{{FrontSide}}<hr id="answer">{{Points}}',
        }
    ],
    css=".card { font-family: sans-serif; font-size: 20px; text-align: left; }",
)


def _text(text: str) -> str:
    """Plain text as field HTML: escaped, ``;`` kept from splitting, lines as <br>."""
    escaped = "&#59;".join(html.escape(part, quote=False) for part in text.split(";"))
    return "<br>".join(escaped.split("\n"))


def question_html(card: Card) -> str:
    """The front of a card's note."""
    return _text(card.question)


def points_html(card: Card) -> str:
    """The back of a card's note: ``Title:`` then a list of points per section; the summary."""
    parts: list[str] = []
    for title, points in card.sections:
        if title:
            parts.append(f"<div>{_text(title)}:</div>")
        items = "".join(f"<li>{_text(point.text)}</li>" for point in points)
        parts.append(f"<ul>{items}</ul>")
    if card.summary:
        parts.append(f"<div>Summary: {_text(card.summary)}</div>")
    return "".join(parts)


def _anki_id(deck: Deck) -> int:
    # Anki deck ids are positive 63-bit integers; genanki suggests 2**30 to 2**31.
    return (1 << 30) + zlib.crc32(deck.id.encode()) % (1 << 30)


def to_apkg(deck: Deck, *, timestamp: float | None = None) -> bytes:
    """The deck as an Anki package's bytes; ``timestamp`` fixes the note ids (tests)."""
    anki_deck = genanki.Deck(_anki_id(deck), deck.title)
    for card in deck.cards:
        anki_deck.add_note(
            genanki.Note(
                model=_MODEL,
                fields=[question_html(card), points_html(card)],
                guid=genanki.guid_for("flashgrade", deck.id, card.id),
            )
        )
    when = time.time() if timestamp is None else timestamp
    buffer = io.BytesIO()
    # genanki's own write_to_file leaves its temporary database behind; this one is removed.
    with tempfile.TemporaryDirectory(prefix="flashgrade-apkg-") as tmp:
        db = Path(tmp) / "collection.anki2"
        conn = sqlite3.connect(db)
        try:
            genanki.Package(anki_deck).write_to_db(
                conn.cursor(), when, itertools.count(int(when * 1000))
            )
            conn.commit()
        finally:
            conn.close()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.write(db, "collection.anki2")
            archive.writestr("media", "{}")
    return buffer.getvalue()
