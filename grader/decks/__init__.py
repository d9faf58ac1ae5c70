"""Deck readers (markdown, brainscape, anki-txt), format detection and the markdown writer."""

from __future__ import annotations

from grader.decks._common import deck_id
from grader.decks.detect import FORMATS, detect_format
from grader.decks.lint import Finding, check_deck
from grader.decks.load import load_deck, parse_deck
from grader.decks.writer import to_markdown

__all__ = [
    "FORMATS",
    "Finding",
    "check_deck",
    "deck_id",
    "detect_format",
    "load_deck",
    "parse_deck",
    "to_markdown",
]
