"""Reading a deck from text or a file, in any supported format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from grader.cards import Deck, DeckError
from grader.decks.anki import parse_anki
from grader.decks.apkg import (
    MAX_PACKAGE_BYTES,
    check_package_size,
    looks_like_apkg,
    read_apkg,
)
from grader.decks.brainscape import parse_brainscape
from grader.decks.detect import FORMATS, IMPORT_FORMATS, detect_format
from grader.decks.markdown import parse_markdown

_READERS: dict[str, Callable[[str, str], Deck]] = {
    "markdown": parse_markdown,
    "brainscape": parse_brainscape,
    "anki-txt": parse_anki,
    "csv": parse_anki,  # CSV/TSV: Anki's text reader, which also takes a header row
}


def parse_deck(text: str, *, source: str = "<text>", format: str = "auto") -> Deck:
    """Parse deck ``text``; ``source`` names it in messages and gives the deck id (its stem)."""
    if format == "apkg":
        raise DeckError(f"{source}: an Anki package is binary; read it with read_apkg")
    if format != "auto" and format not in _READERS:
        raise DeckError(f"unknown deck format {format!r} (use auto, {', '.join(FORMATS)})")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise DeckError(f"{source}: the file is empty; a deck needs a title and cards")
    name = detect_format(text, source) if format == "auto" else format
    return _READERS[name](text, source)


def load_deck(
    path: str | Path, *, format: str = "auto", max_package_bytes: int = MAX_PACKAGE_BYTES
) -> Deck:
    """Read a deck file in any supported format; raises ``DeckError`` naming file and line.

    An Anki package (``format="apkg"``, or a zip archive with ``"auto"``) is refused
    unread when it is over ``max_package_bytes``."""
    if format != "auto" and format not in IMPORT_FORMATS:
        raise DeckError(f"unknown deck format {format!r} (use auto, {', '.join(IMPORT_FORMATS)})")
    p = Path(path)
    try:
        # a package over the limit is refused unread: the limit is there to spare memory
        if (format == "apkg" or p.suffix.lower() == ".apkg") and p.is_file():
            check_package_size(p.stat().st_size, source=str(p), max_bytes=max_package_bytes)
        data = p.read_bytes()
    except FileNotFoundError:
        raise DeckError(f"{p}: no such deck file") from None
    except IsADirectoryError:
        raise DeckError(f"{p}: is a directory, not a deck file") from None
    except OSError as exc:
        raise DeckError(f"{p}: cannot read the deck ({exc.strerror})") from None
    if format == "apkg" or (format == "auto" and looks_like_apkg(data)):
        return read_apkg(data, source=str(p), max_bytes=max_package_bytes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeckError(f"{p}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return parse_deck(text, source=str(p), format=format)
