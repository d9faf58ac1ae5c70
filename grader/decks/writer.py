"""Deck -> flashgrade's Markdown format; reading the result back gives the same cards."""

from __future__ import annotations

import re

from grader.cards import Card, Deck
from grader.decks._common import clean_line
from grader.decks.blocks import literal_lines
from grader.decks.markdown import ITEM_RE

_NUMBERED_RE = re.compile(r"^(\d{1,9})([.)])")


def escape(line: str) -> str:
    """Escape a line of question or summary that would otherwise read as Markdown syntax."""
    if line.startswith("\\") and line[1:2] in ("-", "*", "+", "#", "<", "\\"):
        return "\\" + line
    if line.startswith(("#", "<!--")):
        return "\\" + line
    item = ITEM_RE.match(line)
    if item:
        numbered = _NUMBERED_RE.match(line)
        if numbered:  # "1. x" -> "1\. x", the CommonMark escape
            return f"{numbered.group(1)}\\{line[numbered.end(1) :]}"
        return "\\" + line
    return line


def _block(text: str) -> list[str]:
    # Lines of fenced code are written as they are; the reader keeps them verbatim.
    literal = literal_lines(text)
    return [
        line if literal.get(i) == "fence" else escape(line)
        for i, line in enumerate(text.split("\n"))
    ]


def _point(text: str) -> list[str]:
    """A point's item; a point holding code or a table goes on in lines indented under it."""
    first, *rest = text.split("\n")
    return [f"- {clean_line(first)}", *(f"  {line}" if line else "" for line in rest)]


def _sections(card: Card) -> list[str]:
    out: list[str] = []
    sections = card.sections
    headed = len(sections) > 1 or any(title for title, _ in sections)
    for number, (title, points) in enumerate(sections, 1):
        if headed:
            out += [f"### {number}. {clean_line(title)}".rstrip(), ""]
        for point in points:
            out += _point(point.text)
            for alias in point.aliases:
                out.append(f"  - aliases: {alias.term} = {', '.join(alias.alternatives)}")
        out.append("")
    return out


def _card(card: Card) -> list[str]:
    out = [f"## {card.id}", "", *_block(card.question), "", *_sections(card)]
    if card.summary:
        out += ["### Summary", "", *_block(card.summary), ""]
    return out


def card_markdown(card: Card) -> str:
    """One card as the Markdown deck writes it, from its ``## id`` heading on."""
    return "\n".join(_card(card)).rstrip("\n") + "\n"


def sections_markdown(card: Card) -> str:
    """A card's sections and points (with aliases) as the Markdown deck writes them."""
    return "\n".join(_sections(card)).strip("\n")


def block_markdown(text: str) -> str:
    """A question or summary, its lines escaped where they would read as Markdown syntax."""
    return "\n".join(_block(text))


def to_markdown(deck: Deck) -> str:
    """The deck in flashgrade's Markdown format (see decks/README.md)."""
    scale = " | ".join(f"{i} {label}".rstrip() for i, label in enumerate(deck.scale, 1))
    out = [f"# {clean_line(deck.title)}", "", f"Scale: {scale}", ""]
    for card in deck.cards:
        out += _card(card)
    return "\n".join(out).rstrip("\n") + "\n"
