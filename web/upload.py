"""Deck upload: read an uploaded deck file, keep it for a preview, then save it as Markdown.

Step 1 (``read_upload`` + ``Stash.put``): the bytes must be within the size limit, UTF-8
text that parses as a deck (brainscape export, Anki text or flashgrade Markdown) or an Anki
package (.apkg, read by ``grader.decks.read_apkg`` within the same limit), and hold at least
one card; the parsed deck is kept in ``<data dir>/uploads/<token>.json`` as Markdown, and the
page shows a preview. Step 2 (``save``): the deck is written into the decks directory as
``<name>.md`` atomically, never over another deck unless the person asked to replace it.
A refused file changes nothing. Both steps are CSRF-protected forms (see routes_progress).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path, PurePath

from grader import Deck, DeckError
from grader.decks import FORMATS, detect_format, parse_deck, read_apkg, to_markdown
from grader.decks._common import deck_id as deck_id_of
from grader.decks.apkg import MAX_COLLECTION_BYTES, looks_like_apkg
from grader.decks.lint import Finding, check_cards
from web.catalog import DECK_SUFFIXES, Catalog, DeckNotFound, is_notes

NAME_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MAX_NAME = 80
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
STASH_TTL = 3600.0  # seconds a preview stays saveable
# Previews are written before anyone saves them: caps keep uploads from filling the disk
STASH_MAX_BYTES = 64 * 1_048_576
STASH_MAX_FILES = 100
# What the upload form's Format offers: the text formats and Anki packages.
UPLOAD_FORMATS: tuple[str, ...] = (*FORMATS, "apkg")


class UploadError(ValueError):
    """A file that cannot become a deck; the message says why, for the person."""


class NameTaken(ValueError):
    """The chosen name belongs to another deck (and replacing was not asked for)."""


@dataclass(frozen=True, slots=True)
class Upload:
    """A parsed upload, ready to preview and save."""

    filename: str
    format: str  # the reader used
    deck: Deck  # as parsed (its id from the file name)
    markdown: str  # what will be saved
    findings: tuple[Finding, ...]  # the deck's warnings and ``flashgrade check``'s findings

    @property
    def suggested_name(self) -> str:
        return self.deck.id

    @property
    def points(self) -> int:
        return sum(len(card.points) for card in self.deck.cards)


def format_of(text: str, source: str, wanted: str) -> str:
    return wanted if wanted != "auto" else detect_format(text, source)


def read_upload(
    data: bytes,
    filename: str,
    *,
    limit: int,
    wanted: str = "auto",
    max_collection_bytes: int = MAX_COLLECTION_BYTES,
) -> Upload:
    """Parse an uploaded file; ``UploadError`` with a clear message when it is no deck.

    An Anki package (a zip, or ``wanted="apkg"``) is read within ``limit`` bytes, and its
    collection within ``max_collection_bytes`` once unpacked (a zip bomb stops there)."""
    name = PurePath(filename.replace("\\", "/")).name.strip() or "upload.txt"
    if not data:
        raise UploadError(f"{name} is empty: a deck needs a title and cards.")
    if len(data) > limit:  # the caller may have read only limit + 1 bytes of it
        raise UploadError(
            f"{name} is larger than {limit:,} bytes, the largest deck that can be uploaded."
        )
    if wanted != "auto" and wanted not in UPLOAD_FORMATS:
        raise UploadError(f"unknown format {wanted!r}; choose auto, {', '.join(UPLOAD_FORMATS)}.")
    if wanted == "apkg" or (wanted == "auto" and looks_like_apkg(data)):
        return _read_package(data, name, limit, max_collection_bytes)
    if looks_like_apkg(data):
        raise UploadError(
            f"{name} is a zip archive, not a text deck; choose Detect or Anki package under Format."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UploadError(
            f"{name} is not UTF-8 text (byte {exc.start:,} cannot be read); "
            "save or export it as UTF-8 and upload it again."
        ) from None
    if "\x00" in text:
        raise UploadError(f"{name} looks like a binary file, not a text deck.")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        used = format_of(text.removeprefix("\ufeff"), name, wanted)
    except DeckError:  # the grader's message names the command line's --format
        raise UploadError(
            f"{name}: cannot tell the deck's format; choose it under Format "
            "(a Brainscape export, Anki text or flashgrade Markdown) and upload it again."
        ) from None
    try:
        deck = parse_deck(text, source=name, format=used)
    except DeckError as exc:
        raise UploadError(str(exc)) from None
    if not deck.cards:
        raise UploadError(
            f"{name}: no card could be read (a card needs a question and reference points)."
        )
    return _upload(name, used, deck)


def _read_package(data: bytes, name: str, limit: int, max_collection_bytes: int) -> Upload:
    try:
        deck = read_apkg(
            data, source=name, max_bytes=limit, max_collection_bytes=max_collection_bytes
        )
    except DeckError as exc:  # one line naming the file: a zip that is no package, a bomb...
        raise UploadError(str(exc)) from None
    return _upload(name, "apkg", deck)


def _upload(name: str, used: str, deck: Deck) -> Upload:
    findings = tuple(Finding("warning", w) for w in deck.warnings) + tuple(check_cards(deck))
    return Upload(name, used, deck, to_markdown(deck), findings)


def check_name(name: str) -> str:
    """The deck name (its id and file stem) if valid, else ``UploadError`` saying why."""
    name = name.strip()
    if not name:
        raise UploadError("Give the deck a name.")
    if len(name) > MAX_NAME or not NAME_RE.match(name):
        raise UploadError(
            "A deck name uses lowercase letters, digits and single hyphens "
            f"(at most {MAX_NAME} characters), like my-deck-2."
        )
    if name.upper() == "README":
        raise UploadError("README is kept for notes about the decks; choose another name.")
    return name


def files_named(decks_dir: Path, name: str) -> list[Path]:
    """Deck files in ``decks_dir`` whose deck id would be ``name`` (a README is notes)."""
    try:
        children = sorted(decks_dir.iterdir())
    except OSError:
        return []
    return [
        p
        for p in children
        if p.suffix.lower() in DECK_SUFFIXES
        and not p.name.startswith(".")
        and not is_notes(p)
        and p.is_file()
        and deck_id_of(p.name) == name
    ]


def taken(catalog: Catalog, name: str) -> bool:
    try:
        catalog.get(name)
    except DeckNotFound:
        return bool(files_named(catalog.decks_dir, name))
    return True


def free_name(catalog: Catalog, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... the first name no deck uses."""
    base = base if NAME_RE.match(base) and len(base) <= MAX_NAME - 4 else "deck"
    if base.upper() == "README":
        base = "readme-deck"
    name, n = base, 1
    while taken(catalog, name):
        n += 1
        name = f"{base}-{n}"
    return name


def save(catalog: Catalog, markdown: str, name: str, *, replace: bool = False) -> Path:
    """Write ``markdown`` as ``<decks dir>/<name>.md`` atomically and reload the catalog.

    Without ``replace``, an existing deck of that name is never overwritten (``NameTaken``,
    also when another process creates the file meanwhile). With it, only ``<name>.md`` itself
    is replaced; a deck of that id kept in another file is refused.
    """
    name = check_name(name)
    decks_dir = catalog.decks_dir
    target = decks_dir / f"{name}.md"
    others = [p for p in files_named(decks_dir, name) if p != target]
    if others:
        raise NameTaken(f"the deck {name!r} is kept in {others[0].name}; choose another name.")
    if not replace and (target.exists() or taken(catalog, name)):
        raise NameTaken(f"a deck named {name!r} already exists.")
    # the file must read back as the same cards under its new name
    parsed = parse_deck(markdown, source=str(target), format="markdown")
    if parsed.id != name or not parsed.cards:
        raise UploadError("the deck could not be converted to Markdown faithfully.")
    try:
        decks_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UploadError(f"cannot create the decks directory: {exc.strerror}") from None
    tmp = decks_dir / f".{name}.{secrets.token_hex(6)}.tmp"  # hidden: the catalog skips it
    try:
        with open(tmp, "x", encoding="utf-8", newline="\n") as fh:
            fh.write(markdown)
            fh.flush()
            os.fsync(fh.fileno())
        if replace:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the name was taken meanwhile: never overwrites
            except FileExistsError:
                raise NameTaken(f"a deck named {name!r} already exists.") from None
    except OSError as exc:
        raise UploadError(f"cannot write {target.name}: {exc.strerror}") from None
    finally:
        tmp.unlink(missing_ok=True)
    sync_dir(decks_dir)
    catalog.refresh(force=True)
    return target


def sync_dir(path: Path) -> None:
    """fsync a directory, so that a file just renamed into it survives a power cut."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class Stash:
    """Parsed uploads between preview and save, one JSON file each, for an hour; at most
    ``max_files`` of them and ``max_bytes`` in all, the oldest dropped first (the newest is
    always kept, whatever its size)."""

    def __init__(
        self,
        directory: Path,
        *,
        ttl: float = STASH_TTL,
        max_bytes: int = STASH_MAX_BYTES,
        max_files: int = STASH_MAX_FILES,
    ) -> None:
        self.directory = directory
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.max_files = max_files

    def put(self, upload: Upload) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(18)
        data = {
            "filename": upload.filename,
            "format": upload.format,
            "name": upload.deck.id,
            "markdown": upload.markdown,
            "findings": [[f.severity, f.message] for f in upload.findings],
            "created": time.time(),
        }
        blob = json.dumps(data).encode("utf-8")
        self._make_room(len(blob))
        tmp = self.directory / f".{token}.tmp"
        tmp.write_bytes(blob)
        # the age order of the caps: the file system's own clock may tick too coarsely
        now = time.time_ns()
        os.utime(tmp, ns=(now, now))
        os.replace(tmp, self.directory / f"{token}.json")
        return token

    def get(self, token: str) -> Upload:
        """The upload kept under ``token``; ``UploadError`` when unknown or expired."""
        self._expire()
        gone = UploadError("This preview has expired or was already saved; upload the file again.")
        if not TOKEN_RE.match(token or ""):
            raise gone
        path = self.directory / f"{token}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if time.time() - float(data.get("created", 0)) > self.ttl:
                path.unlink(missing_ok=True)
                raise gone
            markdown = str(data["markdown"])
            deck = parse_deck(markdown, source=f"{data['name']}.md", format="markdown")
            findings = tuple(Finding(str(a), str(b)) for a, b in data.get("findings", ()))
            return Upload(str(data["filename"]), str(data["format"]), deck, markdown, findings)
        except (OSError, ValueError, TypeError, KeyError, AttributeError, DeckError):
            raise gone from None  # a damaged file is as good as gone

    def drop(self, token: str) -> None:
        if TOKEN_RE.match(token or ""):
            (self.directory / f"{token}.json").unlink(missing_ok=True)

    def _expire(self) -> list[tuple[int, int, Path]]:
        """Remove expired previews; the others as (mtime in ns, size, path), oldest first."""
        try:
            entries = [*self.directory.glob("*.json"), *self.directory.glob(".*.tmp")]
        except OSError:
            return []
        now = time.time_ns()
        kept = []
        for path in entries:
            try:
                stat = path.stat()
                if now - stat.st_mtime_ns > self.ttl * 1e9:
                    path.unlink(missing_ok=True)
                elif path.suffix == ".json":
                    kept.append((stat.st_mtime_ns, stat.st_size, path))
            except OSError:
                continue
        return sorted(kept)

    def _make_room(self, size: int) -> None:
        """Drop the oldest previews until one of ``size`` bytes fits within the caps."""
        kept = self._expire()
        count, total = len(kept), sum(entry[1] for entry in kept)
        for _, entry_size, path in kept:
            if count < self.max_files and total + size <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            count, total = count - 1, total - entry_size
