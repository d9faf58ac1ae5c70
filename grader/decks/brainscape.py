"""Brainscape's text export.

The deck title is the first line, then "(N cards)"; each card is its number, a "Q" line, the
question, an "A" line, the answer, and the rating block "How well did you know this?" with
"1 / Not at all / 2 / 3 / 4 / 5 / Perfectly" on separate lines (read as the deck's scale).
"""

from __future__ import annotations

import re

from grader.cards import DEFAULT_SCALE, Card, Deck
from grader.decks._common import (
    build_card,
    clean_block,
    clean_line,
    deck_id,
    fail,
    slugify,
    unique_slug,
    where,
)
from grader.decks.answer import parse_answer

_HOW_WELL = "how well did you know this?"
_COUNT_RE = re.compile(r"^\((\d+)\s+cards?\)$", re.IGNORECASE)


def looks_like_brainscape(text: str) -> bool:
    """True when ``text`` has the export's "Q" / "A" / rating-block layout."""
    lines = [line.strip() for line in text.splitlines()]
    return (
        "Q" in lines
        and "A" in lines
        and (
            any(line.lower() == _HOW_WELL for line in lines)
            or any(_is_card_start(lines, i) for i in range(len(lines)))
        )
    )


def _is_card_start(lines: list[str], i: int) -> bool:
    # A card starts at a bare number whose next non-blank line is "Q".
    if not lines[i].strip().isdigit():
        return False
    for line in lines[i + 1 :]:
        if line.strip():
            return line.strip() == "Q"
    return False


def _index(block: list[str], start: int, test: str) -> int | None:
    for i in range(start, len(block)):
        if block[i].strip().lower() == test:
            return i
    return None


def _read_scale(lines: list[str], labels: dict[int, str]) -> None:
    # "1 / Not at all / 2 / 3 / 4 / 5 / Perfectly": a label follows its number.
    number: int | None = None
    for raw in lines:
        line = clean_line(raw)
        if line.isdigit():
            number = int(line)
        elif line and number is not None and 1 <= number <= 5 and not labels.get(number):
            labels[number] = line


def parse_brainscape(text: str, source: str) -> Deck:
    """Read a Brainscape export; empty cards are skipped with a warning naming them."""
    lines = text.splitlines()
    starts = [i for i in range(len(lines)) if _is_card_start(lines, i)]
    if not starts:
        raise fail(source, None, "no cards found (expected numbered 'Q' / 'A' blocks)")
    title, count = "", None
    for raw in lines[: starts[0]]:
        line = clean_line(raw)
        match = _COUNT_RE.match(line)
        if match:
            count = int(match.group(1))
        elif line and not title:
            title = line
    warnings: list[str] = []
    cards: list[Card] = []
    taken: set[str] = set()
    labels: dict[int, str] = {}
    for k, start in enumerate(starts):
        block = lines[start : starts[k + 1] if k + 1 < len(starts) else len(lines)]
        number = block[0].strip()
        q = _index(block, 1, "q")
        assert q is not None  # _is_card_start saw it
        a = _index(block, q + 1, "a")
        if a is None:
            raise fail(source, start + q + 1, f"card {number} has a 'Q' line but no 'A' line")
        rating = _index(block, a + 1, _HOW_WELL)
        end = len(block) if rating is None else rating
        question = clean_block(block[q + 1 : a])
        sections, summary = parse_answer(block[a + 1 : end], first_line=start + a + 2)
        if rating is not None:
            _read_scale(block[rating + 1 :], labels)
        has_points = any(p.text for s in sections for p in s.points)
        if not question or not has_points:
            what = (
                "is empty"
                if not question and not has_points
                else "has no question"
                if not question
                else "has no reference points"
            )
            warnings.append(f"{where(source, start + 1)}: card {number} {what}; skipped")
            continue
        card_id = unique_slug(slugify(question), taken, fallback=f"card-{number}")
        cards.append(build_card(card_id, question, sections, summary, len(cards) + 1))
    if count is not None and count != len(starts):
        warnings.append(f"{source}: the header says {count} cards but the file has {len(starts)}")
    if not cards:
        raise fail(source, None, "no card has both a question and an answer")
    scale = tuple(labels.get(i, "") for i in range(1, 6)) if labels else DEFAULT_SCALE
    return Deck(
        id=deck_id(source),
        title=title or deck_id(source).replace("-", " ").capitalize(),
        cards=tuple(cards),
        scale=scale,
        source=source,
        warnings=tuple(warnings),
    )
