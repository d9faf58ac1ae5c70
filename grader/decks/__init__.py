"""Deck readers (markdown, brainscape, anki-txt/csv, apkg), format detection and the writers."""

from __future__ import annotations

from grader.decks._common import deck_id
from grader.decks.apkg import MAX_COLLECTION_BYTES, MAX_PACKAGE_BYTES, read_apkg
from grader.decks.detect import FORMATS, IMPORT_FORMATS, detect_format
from grader.decks.lint import Finding, check_deck
from grader.decks.load import load_deck, parse_deck
from grader.decks.writer import to_markdown

__all__ = [
    "FORMATS",
    "IMPORT_FORMATS",
    "MAX_COLLECTION_BYTES",
    "MAX_PACKAGE_BYTES",
    "Finding",
    "check_deck",
    "deck_id",
    "detect_format",
    "load_deck",
    "parse_deck",
    "read_apkg",
    "to_markdown",
]
