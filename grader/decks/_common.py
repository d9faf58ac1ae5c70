"""Helpers shared by the deck readers: text cleaning, slugs, card assembly and errors."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePath

from grader.cards import Alias, Card, DeckError, Point

# Characters that look like spaces or are invisible; editors and web exports scatter them.
_SPACES_RE = re.compile(r"[\s\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE_RE = re.compile(r"[\u200b\u200c\u200d\u2060\ufeff]")
_SLUG_WORD_RE = re.compile(r"[a-z0-9]+")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

# Words that carry no meaning in a card id ("Let's say we've built ..." -> "built-...").
_SLUG_STOP = frozenset(
    """
    a an and are as at be been being but by can could did do does for from had has have how i
    if im imagine in into is it its ive just let lets me my now of on or our over say says
    shall should so some such suppose than that the their them then there these they this
    those to too up us was we well were weve what when where which while who why will with
    would you your youre youve
    """.split()
)


def where(source: str, line: int | None) -> str:
    """``source:line`` for messages, or just ``source`` when the line is unknown."""
    return f"{source}:{line}" if line else source


def fail(source: str, line: int | None, message: str) -> DeckError:
    """A DeckError whose message starts with the file and line."""
    return DeckError(f"{where(source, line)}: {message}")


def clean_line(text: str) -> str:
    """One line of text: NFC, odd spaces and invisible characters removed, runs collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE_RE.sub("", text)
    return _SPACES_RE.sub(" ", text).strip()


class Verbatim(str):
    """A line of fenced code: kept as written (less trailing spaces), never cleaned."""

    __slots__ = ()


def clean_block(lines: Iterable[str]) -> str:
    """Canonical multi-line text: each line cleaned, blank runs to one blank line, trimmed.

    ``Verbatim`` lines (fenced code) are kept as they are, blank ones too."""
    out: list[str] = []
    for raw in lines:
        if isinstance(raw, Verbatim):
            out.append(raw.rstrip())
            continue
        line = clean_line(raw)
        if line or (out and out[-1]):
            out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def slugify(text: str, *, max_words: int = 6) -> str:
    """A lowercase ASCII slug of the first ``max_words`` significant words of ``text``."""
    # Drop apostrophes first so "we’ve" becomes the stop word "weve", not "we" + "ve".
    text = re.sub(r"['’‘`]", "", text)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = _SLUG_WORD_RE.findall(folded)
    significant = [w for w in words if w not in _SLUG_STOP]
    return "-".join((significant or words)[:max_words])


def unique_slug(base: str, taken: set[str], *, fallback: str) -> str:
    """``base`` (or ``fallback`` when empty), suffixed ``-2``, ``-3``... until unused."""
    base = base or fallback
    if base.isdigit():  # a numeric id would shadow the card's 1-based position
        base = f"card-{base}"
    slug, n = base, 1
    while slug in taken:
        n += 1
        slug = f"{base}-{n}"
    taken.add(slug)
    return slug


def deck_id(source: str) -> str:
    """The deck id: a slug of the file's stem."""
    stem = PurePath(source).stem
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode().lower()
    return "-".join(_SLUG_WORD_RE.findall(folded)) or "deck"


@dataclass
class PointDraft:
    """A point being read: its text, line and aliases."""

    text: str
    line: int = 0
    aliases: list[Alias] = field(default_factory=list)


@dataclass
class SectionDraft:
    """A section being read: its title, line and points."""

    title: str
    line: int = 0
    points: list[PointDraft] = field(default_factory=list)
    number: int | None = None  # the number written in the file, if any


def build_card(
    card_id: str, question: str, sections: list[SectionDraft], summary: str | None, position: int
) -> Card:
    """A Card with point ids ``<section>.<point>``; sections without points are left out."""
    points: list[Point] = []
    number = 0
    for section in sections:
        texts = [p for p in section.points if p.text]
        if not texts:
            continue
        number += 1
        for i, draft in enumerate(texts, 1):
            points.append(Point(f"{number}.{i}", section.title, draft.text, tuple(draft.aliases)))
    return Card(card_id, question, tuple(points), summary or None, position)
