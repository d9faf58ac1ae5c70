"""Plain-text answers (Brainscape, Anki backs) -> titled sections of points and a summary.

The layout is the seed's: a section heading is a line ending in ":" ("1. Deployment
Preparation:", "Possible hypotheses:"); each bullet or numbered item under it is a point;
"Summary:" starts the summary, which is shown but never graded. Prose that is not in items is
split into points by the grader's own splitter, so plain answers work too.
"""

from __future__ import annotations

import re

from grader.cards import Card
from grader.decks._common import (
    PointDraft,
    SectionDraft,
    build_card,
    clean_block,
    clean_line,
    slugify,
    unique_slug,
)
from grader.split import split_points

# A bullet glyph or "1." / "1)" followed by the item's text.
ITEM_RE = re.compile(r"^(?:[•◦▪▸‣·\-–—*+]|\d{1,3}[.)])\s+(\S.*)$")
_BULLET_RE = re.compile(r"^[•◦▪▸‣·\-–—*+]\s")
_NUMBER_RE = re.compile(r"^(\d{1,3})[.)]\s*")
_SUMMARY_RE = re.compile(r"^summary\s*:\s*(.*)$", re.IGNORECASE)
_MAX_HEADING = 120


def split_text(text: str) -> list[str]:
    """Prose split into points by the grader's own splitter (lines, bullets, sentences)."""
    return [line for line in (clean_line(p) for p in split_points(text)) if line]


def section_title(text: str) -> tuple[str, int | None]:
    """``"1. Deployment Preparation:"`` -> ``("Deployment Preparation", 1)``."""
    text = clean_line(text).rstrip(":").rstrip()
    match = _NUMBER_RE.match(text)
    if match:
        return text[match.end() :].strip(), int(match.group(1))
    return text, None


def _is_heading(line: str) -> bool:
    # Bullets ending in ":" stay points; numbered lines ending in ":" head a section.
    return line.endswith(":") and len(line) <= _MAX_HEADING and not _BULLET_RE.match(line)


def parse_answer(
    lines: list[str], first_line: int = 1, *, line_points: bool = False
) -> tuple[list[SectionDraft], str | None]:
    """Sections (untitled first section when points precede any heading) and the summary.

    With ``line_points`` (an Anki note's answer, whose lines are its author's <br>s, <div>s
    and list items) each line is a point of its own."""
    sections: list[SectionDraft] = []
    summary: list[str] | None = None
    prose: list[str] = []
    open_point: PointDraft | None = None  # the item that a following line would continue

    def current() -> SectionDraft:
        if not sections:
            sections.append(SectionDraft("", first_line))
        return sections[-1]

    def flush_prose() -> None:
        if prose:
            current().points.extend(PointDraft(t) for t in split_text("\n".join(prose)))
            prose.clear()

    for offset, raw in enumerate(lines):
        number = first_line + offset
        line = clean_line(raw)
        if not line:
            open_point = None
            flush_prose()
            if summary is not None:
                summary.append("")
            continue
        summary_match = _SUMMARY_RE.match(line)
        if summary_match and not raw[:1].isspace():
            flush_prose()
            open_point = None
            summary = [summary_match.group(1)]
            continue
        if summary is not None and not (_NUMBER_RE.match(line) and _is_heading(line)):
            summary.append(line)
            continue
        if _is_heading(line) and not (raw[:1].isspace() and _NUMBER_RE.match(line)):
            flush_prose()
            open_point, summary = None, None
            title, written = section_title(line)
            sections.append(SectionDraft(title, number, number=written))
            continue
        item = ITEM_RE.match(line)
        if line_points:
            text = item.group(1) if item else line
            current().points.append(PointDraft(text, number))
        elif item:
            flush_prose()
            open_point = PointDraft(item.group(1), number)
            current().points.append(open_point)
        elif open_point is not None:  # a wrapped item: the line directly below continues it
            open_point.text = f"{open_point.text} {line}"
        else:
            prose.append(line)
    flush_prose()
    text = clean_block(summary) if summary is not None else ""
    return sections, text or None


def note_card(
    front: str,
    back: list[str],
    *,
    taken: set[str],
    position: int,
    first_line: int = 1,
    line_points: bool = False,
) -> Card | str:
    """A card from a note's front (text) and back (lines), its id unique among ``taken``; or,
    where the note has no question or no points, what it lacks (for the reader's warning)."""
    question = clean_block(front.splitlines())
    sections, summary = parse_answer(back, first_line, line_points=line_points)
    if not question:
        return "no front (question)"
    if not any(p.text for s in sections for p in s.points):
        return "no back (reference points)"
    card_id = unique_slug(slugify(question), taken, fallback=f"card-{position}")
    return build_card(card_id, question, sections, summary, position)
