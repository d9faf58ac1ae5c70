"""Deck readers (markdown, brainscape, anki-txt), format detection and the markdown writer."""

from __future__ import annotations

from pathlib import Path

from grader.cards import Deck


def load_deck(path: str | Path, *, format: str = "auto") -> Deck:
    """Read a deck file in any supported format; raises ``DeckError`` naming file and line."""
    raise NotImplementedError
