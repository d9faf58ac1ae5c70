"""Which reader a deck file needs: by its content first, then by its extension."""

from __future__ import annotations

from pathlib import PurePath

from grader.cards import DeckError
from grader.decks.anki import has_header_row, looks_like_anki
from grader.decks.brainscape import looks_like_brainscape
from grader.decks.markdown import HEADING_RE

FORMATS: tuple[str, ...] = ("markdown", "brainscape", "anki-txt")
# What `flashgrade import --format` takes: the text formats, "csv" (Anki's text reader, which
# also takes a header row) and Anki packages, which are binary.
IMPORT_FORMATS: tuple[str, ...] = (*FORMATS, "csv", "apkg")


def looks_like_markdown(text: str) -> bool:
    """True when the first line of substance is ``# Title`` and a ``## card-id`` follows."""
    levels = []
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match:
            levels.append(len(match.group(1)))
        elif line.strip() and not levels and not line.lstrip().startswith("<!--"):
            return False  # text before the title: not one of our decks
    return bool(levels) and levels[0] == 1 and 2 in levels


def detect_format(text: str, source: str = "<text>") -> str:
    """One of FORMATS for ``text``; DeckError naming ``source`` when it cannot tell."""
    suffix = PurePath(source).suffix.lower()
    if suffix in (".md", ".markdown") and looks_like_markdown(text):
        return "markdown"
    if looks_like_anki(text) or has_header_row(text):
        return "anki-txt"
    if looks_like_markdown(text):
        return "markdown"
    if looks_like_brainscape(text):
        return "brainscape"
    if suffix in (".md", ".markdown"):
        return "markdown"
    if suffix in (".csv", ".tsv") or "\t" in text:
        return "anki-txt"
    raise DeckError(
        f"{source}: cannot tell the deck's format; give --format ({', '.join(FORMATS)})"
    )
