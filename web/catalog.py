"""The decks directory: every deck file loaded once, and again when its mtime changes."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from grader import Deck, DeckError, load_deck
from grader.decks import deck_id as deck_id_of

log = logging.getLogger(__name__)

DECK_SUFFIXES = (".md", ".markdown", ".txt")


class DeckNotFound(LookupError):
    """No deck with that id in the decks directory."""


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: tuple[int, int]  # (mtime_ns, size)
    deck: Deck | None
    error: str | None


def is_notes(path: Path) -> bool:
    """Whether ``path`` is a README: notes about the decks beside them, not a deck."""
    return path.stem.upper() == "README"


class Catalog:
    """The decks of one directory, keyed by deck id; rescanned at most every ``interval`` s."""

    def __init__(
        self,
        decks_dir: Path,
        *,
        interval: float = 1.0,
        loader: Callable[[Path], Deck] = load_deck,
    ) -> None:
        self.decks_dir = decks_dir
        self._interval = interval
        self._loader = loader
        self._lock = threading.Lock()
        self._entries: dict[Path, _Entry] = {}
        self._by_id: dict[str, Deck] = {}
        self._problems: list[str] = []
        self._checked = float("-inf")

    def decks(self) -> list[Deck]:
        """Every readable deck, by title."""
        self.refresh()
        return sorted(self._by_id.values(), key=lambda d: (d.title.lower(), d.id))

    def get(self, deck_id: str) -> Deck:
        self.refresh()
        try:
            return self._by_id[deck_id]
        except KeyError:
            # a deck whose file cannot be read: say why rather than only that it is missing
            why = self._error_of(deck_id)
            reason = f" (its file cannot be read: {why})" if why else ""
            raise DeckNotFound(f"no deck {deck_id!r}{reason}") from None

    def problems(self) -> list[str]:
        """Files that could not be read, duplicate ids, and the readers' warnings."""
        self.refresh()
        return list(self._problems)

    def errors(self) -> list[str]:
        """Why each deck file that cannot be read now cannot be (its file and line); a deck
        edited into such a state is served as it last could be read."""
        self.refresh()
        return [e.error for e in self._entries.values() if e.error]

    def error_of(self, deck_id: str) -> str | None:
        """Why the file of ``deck_id`` cannot be read now, or None where it can."""
        self.refresh()
        return self._error_of(deck_id)

    def _error_of(self, deck_id: str) -> str | None:
        # the deck's id is its last good version's, or else the one its file name gives
        return next(
            (
                e.error
                for path, e in self._entries.items()
                if e.error and (e.deck.id if e.deck else deck_id_of(str(path))) == deck_id
            ),
            None,
        )

    def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked < self._interval:
            return
        with self._lock:
            if not force and now - self._checked < self._interval:
                return
            self._rescan()
            self._checked = time.monotonic()

    def _rescan(self) -> None:
        files = self._deck_files()
        changed = set(files) != set(self._entries)
        entries: dict[Path, _Entry] = {}
        for path, stamp in files.items():
            old = self._entries.get(path)
            if old is not None and old.stamp == stamp:
                entries[path] = old
                continue
            changed = True
            entries[path] = self._load(path, stamp, old)
        self._entries = entries
        if changed:
            self._index()

    def _deck_files(self) -> dict[Path, tuple[int, int]]:
        files: dict[Path, tuple[int, int]] = {}
        try:
            children = sorted(self.decks_dir.iterdir())
        except OSError as exc:
            log.warning("cannot read decks directory %s: %s", self.decks_dir, exc)
            return files
        for path in children:
            if (
                path.suffix.lower() not in DECK_SUFFIXES
                or path.name.startswith(".")
                or is_notes(path)
            ):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            if path.is_file():
                files[path] = (st.st_mtime_ns, st.st_size)
        return files

    def _load(self, path: Path, stamp: tuple[int, int], old: _Entry | None) -> _Entry:
        try:
            deck = self._loader(path)
        except (DeckError, OSError, UnicodeDecodeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, DeckError) else f"{path.name}: {exc}"
            log.warning("deck not loaded: %s", message)
            # keep serving the last good version of a file that was edited into a bad state
            return _Entry(stamp, old.deck if old else None, message)
        log.info("loaded deck %s (%d cards) from %s", deck.id, len(deck.cards), path.name)
        return _Entry(stamp, deck, None)

    def _index(self) -> None:
        by_id: dict[str, Deck] = {}
        problems: list[str] = []
        for path, entry in self._entries.items():
            deck = entry.deck
            if deck is None:
                continue
            if deck.id in by_id:
                problems.append(f"{path.name}: deck id {deck.id!r} is already used; skipped")
                continue
            by_id[deck.id] = deck
            # (a reader's warning names the file by its full path already)
            problems.extend(
                path.name + w[len(str(path)) :] if w.startswith(str(path)) else f"{path.name}: {w}"
                for w in deck.warnings
            )
        self._by_id = by_id
        self._problems = problems


def labelled(decks: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(id, label) of each (id, title): the title, with the id beside it where another deck
    has the same title, so that the two can be told apart in a list."""
    pairs = list(decks)
    counts = Counter(title.casefold() for _, title in pairs)
    return [(i, f"{t} ({i})" if counts[t.casefold()] > 1 else t) for i, t in pairs]
