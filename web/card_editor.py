"""Writing cards in the browser: edit a card of a Markdown deck, or add one; free of HTTP.

The editor's form holds the question, the points in the deck's own Markdown (``- point``,
``### 2. Section``, ``  - aliases: term = other, words``) and the summary. They are read by
the deck reader itself, so what is saved is what the form said. Saving rewrites only the
card's own lines of the deck file (the rest is kept byte for byte), keeps the card's id,
checks that the file reads back as intended, and replaces the file atomically. The form
carries the file's hash: a file changed on disk since the editor was opened is not
overwritten (``FileChanged``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import secrets
import stat
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import Card, Deck, DeckError
from grader.cards import Alias, CardNotFound
from grader.decks._common import (
    PointDraft,
    SectionDraft,
    build_card,
    clean_block,
    clean_line,
    slugify,
    unique_slug,
)
from grader.decks.blocks import literal_lines
from grader.decks.detect import looks_like_markdown
from grader.decks.markdown import HEADING_RE, ITEM_RE, parse_markdown
from grader.decks.writer import block_markdown, card_markdown, sections_markdown
from web.catalog import Catalog
from web.upload import sync_dir

# What one card may hold; the same limits bound /api/grade's drafts.
MAX_QUESTION_CHARS = 5_000
MAX_POINTS_CHARS = 20_000
MAX_SUMMARY_CHARS = 5_000
MAX_POINTS = 100
MAX_POINT_CHARS = 2_000
MAX_ALIASES = 20

_ERROR_LINE_RE = re.compile(r"^.*?:(\d+): (.*)$", re.DOTALL)
# one save at a time in this process: check the hash, write, replace
_WRITE_LOCK = threading.Lock()


class EditError(ValueError):
    """A card or a deck file that cannot be saved as asked; the message says why."""


class FileChanged(EditError):
    """The deck file is not what the editor was opened on: saving would lose that change."""


@dataclass(frozen=True, slots=True)
class CardForm:
    """The editor's fields, as text."""

    question: str = ""
    points: str = ""
    summary: str = ""

    @classmethod
    def of(cls, card: Card) -> CardForm:
        return cls(card.question, sections_markdown(card), card.summary or "")

    def normalised(self) -> CardForm:
        """Line breaks as ``\\n`` (browsers post ``\\r\\n``)."""
        return CardForm(*(_lf(v) for v in (self.question, self.points, self.summary)))


@dataclass(frozen=True, slots=True)
class DeckFile:
    """A deck's Markdown file as read now: its text, its hash and the deck in it."""

    path: Path
    text: str
    version: str  # sha256 of the file's bytes
    deck: Deck
    ids: frozenset[str]  # every card heading's id, skipped cards' too

    def card(self, key: str) -> Card:
        try:
            return self.deck.card(key)
        except CardNotFound as exc:
            raise LookupError(str(exc)) from None


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def open_deck_file(deck: Deck) -> DeckFile:
    """The file ``deck`` was read from, read again now; ``EditError`` unless it is a Markdown
    deck that reads without error."""
    if not deck.source:
        raise EditError(f"the deck {deck.id!r} has no file to edit.")
    path = Path(deck.source)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EditError(f"{path.name} cannot be read ({exc}).") from None
    if not looks_like_markdown(text.removeprefix("\ufeff")):
        raise EditError(
            f"{path.name} is not a flashgrade Markdown deck; only those are edited here. "
            "Upload it to save it as Markdown, then edit that deck."
        )
    try:
        parsed = parse_markdown(_lf(text).removeprefix("\ufeff"), str(path))
    except DeckError as exc:
        raise EditError(f"the deck file has an error; fix it first: {exc}") from None
    ids = frozenset(span.card_id for span in _card_spans(text.splitlines(keepends=True), text))
    return DeckFile(path, text, version_of(data), parsed, ids)


# --- the form -> a card -----------------------------------------------------------------------


def card_from_form(form: CardForm, card_id: str, *, position: int = 0) -> Card:
    """The card that ``form`` describes, read by the deck reader; ``EditError`` naming the
    field (and the line of the points) when it cannot be read."""
    form = form.normalised()
    question = form.question.strip("\n")
    summary = form.summary.strip("\n")
    points = form.points.strip("\n")
    if not question.strip():
        raise EditError("Question: write the question.")
    if not points.strip():
        raise EditError("Points: write at least one point, as '- point'.")
    for label, value, limit in (
        ("Question", question, MAX_QUESTION_CHARS),
        ("Points", points, MAX_POINTS_CHARS),
        ("Summary", summary, MAX_SUMMARY_CHARS),
    ):
        if len(value) > limit:
            raise EditError(f"{label}: {len(value):,} characters; at most {limit:,}.")
    first = next(line for line in points.split("\n") if line.strip())
    heading = HEADING_RE.match(first)
    if not ITEM_RE.match(first.strip()) and not (heading and len(heading.group(1)) == 3):
        raise EditError("Points, line 1: each point is a list item: write '- ' before it.")
    head = ["# Card", "", f"## {card_id}", "", block_markdown(question), ""]
    start = sum(part.count("\n") + 1 for part in head) + 1  # the points' first line
    lines = [*head, points, ""]
    end = start + points.count("\n")
    if summary.strip():
        lines += ["### Summary", "", block_markdown(summary), ""]
    try:
        deck = parse_markdown("\n".join(lines), "card")
    except DeckError as exc:
        raise EditError(_field_error(str(exc), start, end)) from None
    if [c.id for c in deck.cards] != [card_id]:
        raise EditError("Points: a '## ' heading would start another card; remove it.")
    card = deck.cards[0]
    if len(card.points) > MAX_POINTS:
        raise EditError(f"Points: {len(card.points)} points; at most {MAX_POINTS}.")
    return dataclasses.replace(card, position=position)


def _field_error(message: str, start: int, end: int) -> str:
    match = _ERROR_LINE_RE.match(message)
    if not match:
        return f"Points: {message.split(': ', 1)[-1]}"
    line, what = int(match.group(1)), match.group(2)
    if start <= line <= end:
        return f"Points, line {line - start + 1}: {what}"
    return f"{'Summary' if line > end else 'Question'}: {what}"


def draft_card(
    card_id: str,
    question: str,
    points: Iterable[tuple[str, str, Sequence[Alias]]],
    summary: str | None,
) -> Card:
    """A card from structured parts (section, text, aliases), as /api/grade's drafts give
    them; consecutive points of one section title form one section."""
    sections: list[SectionDraft] = []
    for section, text, aliases in points:
        title = clean_line(section)
        if not sections or sections[-1].title != title:
            sections.append(SectionDraft(title))
        cleaned = clean_block(_lf(text).split("\n"))
        sections[-1].points.append(PointDraft(cleaned, aliases=list(aliases)))
    question = clean_block(_lf(question).split("\n"))
    summary = clean_block(_lf(summary).split("\n")) if summary else None
    card = build_card(card_id, question, sections, summary, 0)
    if not card.question or not card.points:
        raise EditError("a draft needs a question and a point with text")
    return card


# --- saving -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Span:
    card_id: str
    start: int  # index of the card's "## id" line
    end: int  # index past its last line


def _card_spans(lines: list[str], text: str) -> list[_Span]:
    """Each card's lines, as the deck reader sees headings (not in fenced code or comments)."""
    literal = literal_lines(text)
    spans: list[_Span] = []
    current: tuple[str, int] | None = None
    comment = False
    for index, raw in enumerate(lines):
        line = raw.rstrip("\r\n").expandtabs(4).rstrip()
        if current is not None and index in literal and not comment:
            continue
        if comment:
            comment = "-->" not in line
            continue
        if line.lstrip().startswith("<!--"):
            comment = "-->" not in line.lstrip()[4:]
            continue
        heading = HEADING_RE.match(line)
        if heading and len(heading.group(1)) <= 2:
            if current is not None:
                spans.append(_Span(current[0], current[1], index))
                current = None
            if len(heading.group(1)) == 2:
                current = (clean_line(heading.group(2) or ""), index)
    if current is not None:
        spans.append(_Span(current[0], current[1], len(lines)))
    return spans


def new_card_id(question: str, taken: Iterable[str]) -> str:
    """An id for a new card: a slug of its question, unused in the deck file."""
    return unique_slug(slugify(question), set(taken), fallback="card")


def save_card(
    catalog: Catalog, deck: Deck, card_id: str | None, form: CardForm, version: str
) -> Card:
    """Write ``form`` as the card ``card_id`` of ``deck`` (a new card at the end when None)
    and return the card saved. ``FileChanged`` when the file's hash is not ``version``;
    ``EditError`` when the form or the file cannot be saved. Nothing is written then."""
    with _WRITE_LOCK:
        opened = open_deck_file(deck)
        if not secrets.compare_digest(opened.version, version):
            raise FileChanged(
                f"{opened.path.name} changed on disk since this editor was opened; nothing "
                "was saved. Your text is kept below: open the editor again to see the file's "
                "new version, then make your change there."
            )
        text = opened.text
        newline = "\r\n" if "\r\n" in text else "\n"
        lines = text.splitlines(keepends=True)
        spans = _card_spans(lines, text)
        if card_id is None:
            card_id = new_card_id(form.question, opened.ids)
            card = card_from_form(form, card_id, position=len(opened.deck.cards) + 1)
            body = "".join(lines).rstrip("\r\n")
            new_text = body + newline * 2 + card_markdown(card).replace("\n", newline)
        else:
            old = opened.card(card_id)
            card = card_from_form(form, old.id, position=old.position)
            [span] = [s for s in spans if s.card_id == old.id]
            block = card_markdown(card) + ("\n" if span.end < len(lines) else "")
            new_text = "".join(
                [*lines[: span.start], block.replace("\n", newline), *lines[span.end :]]
            )
        _check(new_text, opened, card)
        _replace(opened.path, new_text)
    catalog.refresh(force=True)
    return card


def _check(new_text: str, opened: DeckFile, card: Card) -> None:
    """The new file must read back as the old deck with just this card changed or added."""
    try:
        after = parse_markdown(_lf(new_text).removeprefix("\ufeff"), str(opened.path))
    except DeckError as exc:
        raise EditError(f"the card would leave the deck file unreadable ({exc}).") from None
    before = {c.id: c for c in opened.deck.cards}
    expected = {**before, card.id: card}
    got = {c.id: c for c in after.cards}
    same = got.keys() == expected.keys() and all(
        (g.question, g.points, g.summary) == (e.question, e.points, e.summary)
        for g, e in ((got[k], expected[k]) for k in got)
    )
    if not same or (after.title, after.scale) != (opened.deck.title, opened.deck.scale):
        raise EditError("the card could not be written faithfully; nothing was saved.")


def _replace(path: Path, text: str) -> None:
    """Write ``text`` over ``path`` atomically: a hidden temporary file, then os.replace."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # the catalog skips it
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        with open(tmp, "x", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise EditError(f"cannot write {path.name}: {exc.strerror}; nothing was saved.") from None
    finally:
        tmp.unlink(missing_ok=True)
    sync_dir(path.parent)
