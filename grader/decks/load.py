"""Reading a deck from text or a file, in any supported format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grader.cards import Deck, DeckError
from grader.decks.anki import parse_anki
from grader.decks.brainscape import parse_brainscape
from grader.decks.detect import FORMATS, detect_format
from grader.decks.markdown import parse_markdown

_READERS: dict[str, Callable[[str, str], Deck]] = {
    "markdown": parse_markdown,
    "brainscape": parse_brainscape,
    "anki-txt": parse_anki,
}


def parse_deck(text: str, *, source: str = "<text>", format: str = "auto") -> Deck:
    """Parse deck ``text``; ``source`` names it in messages and gives the deck id (its stem)."""
    if format != "auto" and format not in _READERS:
        raise DeckError(f"unknown deck format {format!r} (use auto, {', '.join(FORMATS)})")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DeckError(f"{source}: the file is empty; a deck needs a title and cards")
    name = detect_format(text, source) if format == "auto" else format
    return _READERS[name](text, source)


def load_deck(path: str | Path, *, format: str = "auto") -> Deck:
    """Read a deck file in any supported format; raises ``DeckError`` naming file and line."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise DeckError(f"{p}: no such deck file") from None
    except IsADirectoryError:
        raise DeckError(f"{p}: is a directory, not a deck file") from None
    except OSError as exc:
        raise DeckError(f"{p}: cannot read the deck ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeckError(f"{p}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return parse_deck(text, source=str(p), format=format)
