"""flashgrade's own deck format, in Markdown; decks/README.md documents it with an example.

A deck is ``# Title``, an optional ``Scale:`` line, then cards: ``## card-id`` (a slug that
stays when the text changes), the question's paragraphs, ``### N. Section`` headings with
``- point`` items (``- aliases: term = other, words`` nested under a point), and an optional
``### Summary`` (shown, never graded). Points before any ``###`` form an untitled section 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.cards import DEFAULT_SCALE, Alias, Card, Deck, DeckError
from grader.decks._common import (
    SLUG_RE,
    PointDraft,
    SectionDraft,
    Verbatim,
    build_card,
    clean_block,
    clean_line,
    deck_id,
    fail,
    where,
)
from grader.decks.answer import section_title
from grader.decks.blocks import literal_lines

HEADING_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*))?$")
ITEM_RE = re.compile(r"^([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$")
_SCALE_RE = re.compile(r"^scale\s*:\s*(.*)$", re.IGNORECASE)
_SCALE_ENTRY_RE = re.compile(r"^(\d)(?:\s+(.*))?$")
_ALIAS_RE = re.compile(r"^aliases\s*:\s*(.*)$", re.IGNORECASE)
_SUMMARY_RE = re.compile(r"^summary\s*:?$", re.IGNORECASE)
# A leading backslash keeps a line of question or summary from reading as Markdown syntax.
_ESCAPED_RE = re.compile(r"^\\(?=[-*+#<\\])|^(\d{1,9})\\(?=[.)])")


def unescape(line: str) -> str:
    """Undo the writer's escaping of a leading ``-``, ``*``, ``+``, ``#``, ``<`` or ``1.``."""
    return _ESCAPED_RE.sub(lambda m: m.group(1) or "", line, count=1)


def parse_scale(text: str) -> tuple[str, ...]:
    """``"1 Not at all | 2 | 3 | 4 | 5 Perfectly"`` -> the five labels; ValueError if bad."""
    entries = [e.strip() for e in text.split("|")]
    labels: list[str] = []
    for expected, entry in enumerate(entries, 1):
        match = _SCALE_ENTRY_RE.match(entry)
        if not match or int(match.group(1)) != expected:
            raise ValueError(f"scale entry {entry!r} should start with {expected}")
        labels.append(clean_line(match.group(2) or ""))
    if len(labels) != 5:
        raise ValueError(f"the scale has {len(labels)} entries, not 5")
    return tuple(labels)


@dataclass
class _CardDraft:
    id: str
    line: int
    question: list[str] = field(default_factory=list)
    sections: list[SectionDraft] = field(default_factory=list)
    summary: list[str] | None = None
    mode: str = "question"  # then "points" or "summary"
    point: PointDraft | None = None  # the item a following line may continue
    point_indent: int = 2  # the column where that item's text starts
    blank: bool = False


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.title: str | None = None
        self.scale: tuple[str, ...] = DEFAULT_SCALE
        self.cards: list[Card] = []
        self.ids: dict[str, int] = {}
        self.warnings: list[str] = []
        self.card: _CardDraft | None = None

    def error(self, line: int, message: str) -> DeckError:
        return fail(self.source, line, message)

    def warn(self, line: int, message: str) -> None:
        self.warnings.append(f"{where(self.source, line)}: {message}")

    def read(self, text: str) -> Deck:
        comment = 0  # the line where an open <!-- comment --> started
        literal = literal_lines(text)  # fenced code and tables: content, not structure
        for n, raw in enumerate(text.splitlines(), 1):
            raw = raw.expandtabs(4).rstrip()
            if self.card is not None and n - 1 in literal and not comment:
                self.literal(n, raw, literal[n - 1])
                continue
            if comment:
                comment = 0 if "-->" in raw else comment
                continue
            if raw.lstrip().startswith("<!--"):
                comment = 0 if "-->" in raw.lstrip()[4:] else n
                continue
            heading = HEADING_RE.match(raw)
            if heading:
                self.heading(n, len(heading.group(1)), clean_line(heading.group(2) or ""))
            elif self.card is not None:
                self.body(n, raw)
            elif raw.strip():
                self.preamble(n, raw.strip())
        if comment:
            raise self.error(comment, "an HTML comment ('<!--') is never closed with '-->'")
        self.finish()
        if self.title is None:
            raise fail(self.source, None, "no deck title: a deck starts with '# Title'")
        if not self.cards:
            skipped = [w.split(": ", 1)[1] for w in self.warnings if w.endswith("; skipped")]
            if skipped:  # cards there were, all empty: say which rather than "no cards"
                raise fail(self.source, None, f"no card with reference points ({skipped[0]})")
            raise fail(self.source, None, "no cards: each card starts with '## card-id'")
        return Deck(
            id=deck_id(self.source),
            title=self.title,
            cards=tuple(self.cards),
            scale=self.scale,
            source=self.source,
            warnings=tuple(self.warnings),
        )

    def preamble(self, n: int, line: str) -> None:
        if self.title is None:
            raise self.error(n, "a deck starts with its title: '# Title'")
        scale = _SCALE_RE.match(line)
        if not scale:
            raise self.error(n, "text before the first card; start cards with '## card-id'")
        try:
            self.scale = parse_scale(scale.group(1))
        except ValueError as exc:
            example = "Scale: 1 Not at all | 2 | 3 | 4 | 5 Perfectly"
            raise self.error(n, f"bad scale: {exc} (write '{example}')") from None

    def heading(self, n: int, level: int, text: str) -> None:
        if level == 1:
            if self.title is not None:
                raise self.error(n, "a second '# ' title; cards start with '## card-id'")
            if not text:
                raise self.error(n, "the deck title is empty")
            self.title = text
        elif level == 2:
            self.finish()
            if self.title is None:
                raise self.error(n, "a deck starts with its title: '# Title'")
            self.start_card(n, text)
        elif level == 3:
            card = self.card
            if card is None:
                raise self.error(n, "a '### ' section outside a card")
            card.point, card.blank = None, False
            if _SUMMARY_RE.match(text):
                if card.summary is not None:
                    raise self.error(n, f"card {card.id!r} has a second summary")
                card.summary, card.mode = [], "summary"
                return
            title, number = section_title(text)
            card.sections.append(SectionDraft(title, n, number=number))
            card.mode = "points"
        else:
            raise self.error(n, f"'{'#' * level} ' headings are not used; sections are '### '")

    def start_card(self, n: int, text: str) -> None:
        if not SLUG_RE.match(text):
            raise self.error(
                n,
                f"card heading {text!r} is not an id: write '## some-card-id' "
                "(lowercase letters, digits, '-' and '_')",
            )
        if text.isdigit():
            raise self.error(n, f"card id {text!r} is a number; ids need a letter")
        if text in self.ids:
            raise self.error(n, f"duplicate card id {text!r} (first at line {self.ids[text]})")
        self.ids[text] = n
        self.card = _CardDraft(text, n)

    def body(self, n: int, raw: str) -> None:
        card = self.card
        assert card is not None
        line = raw.strip()
        if not line:
            card.blank = True
            if card.mode == "question":
                card.question.append("")
            elif card.mode == "summary":
                assert card.summary is not None
                card.summary.append("")
            return
        indent = len(raw) - len(raw.lstrip())
        item = ITEM_RE.match(line) if indent < 4 or card.point else None
        if card.mode == "summary":
            assert card.summary is not None
            card.summary.append(unescape(line))
            return
        if card.mode == "question":
            if not item:
                card.question.append(unescape(line))
                return
            card.sections.append(SectionDraft("", n))  # points right after the question
            card.mode = "points"
        self.point_line(n, card, indent, line, item)
        card.blank = False

    def literal(self, n: int, raw: str, kind: str) -> None:
        """A line of fenced code (kept verbatim) or of a table, in a question, point or summary."""
        card = self.card
        assert card is not None
        line: str = Verbatim(raw) if kind == "fence" else unescape(raw.strip())
        if card.mode == "question":
            card.question.append(line)
        elif card.mode == "summary":
            assert card.summary is not None
            card.summary.append(line)
        elif card.point is None:
            self.point_line(n, card, 0, raw.strip(), None)  # says it is not a list item
        else:
            indent = len(raw) - len(raw.lstrip())
            text = raw[min(indent, card.point_indent) :] if kind == "fence" else clean_line(raw)
            card.point.text = f"{card.point.text}\n{text}"
            card.blank = False

    def point_line(
        self, n: int, card: _CardDraft, indent: int, line: str, item: re.Match[str] | None
    ) -> None:
        section = card.sections[-1]
        if item and indent >= 2 and card.point is not None:
            alias = _ALIAS_RE.match(item.group(2) or "")
            if not alias or item.group(1)[0].isdigit():
                raise self.error(
                    n,
                    "a nested item must be '- aliases: term = other words, ...'; "
                    "write each point as its own '- ' item",
                )
            card.point.aliases.append(self.alias(n, alias.group(1)))
        elif item:
            text = clean_line(item.group(2) or "")
            if not text:
                raise self.error(n, "an empty list item; write the point's text after '- '")
            card.point = PointDraft(text, n)
            card.point_indent = indent + item.start(2)
            section.points.append(card.point)
        elif card.point is not None and (indent >= 2 or not card.blank):
            card.point.text = f"{card.point.text} {clean_line(line)}"  # a wrapped point
        else:
            where_ = f"section {section.title!r}" if section.title else "the points"
            raise self.error(n, f"text in {where_} of card {card.id!r} is not a '- ' list item")

    def alias(self, n: int, text: str) -> Alias:
        term, sep, rest = text.partition("=")
        alternatives = tuple(a for a in (clean_line(x) for x in rest.split(",")) if a)
        if not sep or not clean_line(term) or not alternatives:
            raise self.error(n, "write aliases as 'aliases: term = other words, more words'")
        return Alias(clean_line(term), alternatives)

    def finish(self) -> None:
        card, self.card = self.card, None
        if card is None:
            return
        question = clean_block(card.question)
        summary = clean_block(card.summary) if card.summary is not None else None
        numbered = 0
        for section in card.sections:
            if not section.points:
                self.warn(section.line, f"section {section.title!r} has no points; ignored")
                continue
            numbered += 1
            if section.number is not None and section.number != numbered:
                self.warn(
                    section.line,
                    f"section {section.number} of card {card.id!r} is section {numbered} "
                    f"in order; its point ids are {numbered}.1, ...",
                )
        if not question or not numbered:
            what = "no question" if not question else "no reference points"
            self.warn(card.line, f"card {card.id!r} has {what}; skipped")
            return
        self.cards.append(
            build_card(card.id, question, card.sections, summary, len(self.cards) + 1)
        )


def parse_markdown(text: str, source: str) -> Deck:
    """Read flashgrade's Markdown deck; raises DeckError naming the file and line."""
    return _Reader(source).read(text)
