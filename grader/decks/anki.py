"""Anki's "Notes in Plain Text" export (.txt): one note a row, front then back.

Leading ``#key:value`` lines are Anki's file headers: ``separator`` (tab, comma, semicolon,
pipe, space, colon or the character itself), ``html`` (true/false), ``columns`` (labels),
``guid column``, ``notetype column``, ``deck column``, ``tags column`` (1-based) and ``deck``.
Fields may be quoted ("...", with "" for a quote) and then hold separators and line breaks.
"""

from __future__ import annotations

import csv
import io
import re

from grader.cards import Card, Deck, DeckError
from grader.decks._common import (
    deck_id,
    fail,
    where,
)
from grader.decks._html import html_to_text
from grader.decks.answer import note_card

SEPARATORS = {"tab": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " ", "colon": ":"}
# Column labels that say which column is the question and which the answer, in a
# `#columns:` header or a CSV's header row (compared case-insensitively).
COLUMN_PAIRS = (("front", "back"), ("question", "answer"), ("term", "definition"))
_META_COLUMNS = ("guid column", "notetype column", "deck column", "tags column")
_HEADER_KEYS = frozenset(
    {"separator", "html", "columns", "deck", "notetype", "tags", *_META_COLUMNS}
)
_LOOKS_HTML_RE = re.compile(
    r"<\s*/?\s*(?:br|div|p|span|b|i|u|em|strong|ul|ol|li|img|a|font|sup|sub|hr)\b[^>]*>"
    r"|&(?:nbsp|amp|lt|gt|quot|#\d+);",
    re.IGNORECASE,
)


def _header(line: str) -> tuple[str, str] | None:
    """``(key, value)`` of a leading ``#`` line, as Anki reads them: the key trimmed and
    lower-cased; None where it is not one of Anki's keys (Anki ignores such lines)."""
    key, sep, value = line[1:].partition(":")
    key = key.strip().lower()
    return (key, value.strip()) if sep and key in _HEADER_KEYS else None


def looks_like_anki(text: str) -> bool:
    """True when ``text`` starts with Anki's ``#separator:``/``#html:``... file headers.

    Anki writes them with the key right after the ``#``: "# Deck: ML Ops" is a Markdown
    title."""
    for line in text.splitlines():
        if not line.startswith("#") or line[1:2].isspace():
            return False
        if _header(line) is not None:
            return True
    return False


def has_header_row(text: str) -> bool:
    """True when the first line is a CSV header naming the columns ("Question,Answer")."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    for sep in ("\t", ",", ";", "|"):
        if sep in first:
            row = next(csv.reader([first], delimiter=sep), [])
            return _column_pair(_labels(row)) is not None
    return False


def _headers(lines: list[str]) -> tuple[dict[str, tuple[int, str]], int, list[int]]:
    """The leading file headers by key, with their line numbers; how many lines the leading
    ``#`` lines take (Anki reads them all as headers); and the lines among them it ignores."""
    headers: dict[str, tuple[int, str]] = {}
    count = 0
    ignored = []
    for n, line in enumerate(lines, 1):
        if not line.startswith("#"):
            break
        header = _header(line)
        if header is None:
            ignored.append(n)
        else:
            headers[header[0]] = (n, header[1])
        count = n
    return headers, count, ignored


def _separator(headers: dict[str, tuple[int, str]], body: str, source: str) -> str:
    if "separator" in headers:
        line, value = headers["separator"]
        if value.lower() in SEPARATORS:
            return SEPARATORS[value.lower()]
        if len(value) == 1:
            return value
        names = ", ".join(SEPARATORS)
        raise fail(source, line, f"unknown separator {value!r} (use one of {names})")
    first = next((line for line in body.splitlines() if line.strip()), "")
    return next((sep for sep in ("\t", ",", ";", "|") if sep in first), "\t")


def _column(headers: dict[str, tuple[int, str]], key: str, source: str) -> int | None:
    if key not in headers:
        return None
    line, value = headers[key]
    if not value.isdigit() or int(value) < 1:
        raise fail(source, line, f"'#{key}:' needs a column number from 1, not {value!r}")
    return int(value) - 1


def parse_anki(text: str, source: str) -> Deck:
    """Read an Anki plain-text export; notes without a front or back are skipped with a warning."""
    lines = text.splitlines()
    headers, skip, ignored = _headers(lines)
    body = "\n".join(lines[skip:])
    sep = _separator(headers, body, source)
    is_html = (
        headers["html"][1].lower() == "true"
        if "html" in headers
        else bool(_LOOKS_HTML_RE.search(body))
    )
    meta = {_column(headers, key, source) for key in _META_COLUMNS} - {None}
    labels: list[str] = []
    if "columns" in headers:
        row = next(csv.reader([headers["columns"][1]], delimiter=sep), [])
        labels = _labels(row)
    deck_col = _column(headers, "deck column", source)
    rows = _rows(body, sep, source, skip)
    if not labels and rows and _column_pair(_labels(rows[0][1])):
        labels = _labels(rows.pop(0)[1])  # a CSV header row names the columns; not a card
    title = headers["deck"][1] if "deck" in headers else ""
    # a note whose front begins with "#" up there is one Anki would not import either
    warnings = [f"{where(source, n)}: not an Anki header; skipped" for n in ignored]
    cards: list[Card] = []
    taken: set[str] = set()
    for note, (line, row) in enumerate(rows, 1):
        fields = [(i, value) for i, value in enumerate(row) if i not in meta]
        front, back = _front_back(fields, labels)
        if not title and deck_col is not None and deck_col < len(row):
            title = row[deck_col]
        if is_html:
            front, back = html_to_text(front), html_to_text(back)
        card = note_card(
            front, back.splitlines(), taken=taken, position=len(cards) + 1, first_line=line
        )
        if isinstance(card, str):
            warnings.append(f"{where(source, line)}: note {note} has {card}; skipped")
        else:
            cards.append(card)
    if not cards:
        raise fail(source, None, "no notes with both a front and a back")
    title = title.split("::")[-1].strip() or deck_id(source).replace("-", " ").capitalize()
    return Deck(deck_id(source), title, tuple(cards), source=source, warnings=tuple(warnings))


def _labels(row: list[str]) -> list[str]:
    return [label.strip().casefold() for label in row]


def _column_pair(labels: list[str]) -> tuple[str, str] | None:
    """The labels of the question and answer columns, where a known pair names them."""
    return next((pair for pair in COLUMN_PAIRS if pair[0] in labels and pair[1] in labels), None)


def _front_back(fields: list[tuple[int, str]], labels: list[str]) -> tuple[str, str]:
    # Prefer the columns labelled Front and Back (or Question and Answer, ...); otherwise the
    # first two non-meta fields.
    named = {labels[i]: value for i, value in fields if i < len(labels)}
    pair = _column_pair([label for label in labels if label in named])
    if pair:
        return named[pair[0]], named[pair[1]]
    values = [value for _, value in fields] + ["", ""]
    return values[0], values[1]


def _rows(body: str, sep: str, source: str, offset: int) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=sep, quotechar='"', strict=True)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if any(field.strip() for field in row):
                rows.append((offset + start, row))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise _csv_error(source, offset + start, exc) from None
    return rows


def _csv_error(source: str, line: int, exc: csv.Error) -> DeckError:
    if "end of data" in str(exc):
        return fail(source, line, "a quoted field is never closed (a '\"' is missing)")
    return fail(source, line, f"malformed row: {exc}")
