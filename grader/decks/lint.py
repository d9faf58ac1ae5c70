"""``flashgrade check``: problems in a deck that reading alone does not refuse.

Errors make a deck unusable or ungradable (unreadable file, duplicate ids, a point with no
word to grade); warnings are worth a look (skipped empty cards, duplicate questions, aliases
whose term is not in the point).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.cards import Card, Deck, DeckError
from grader.decks.load import load_deck
from grader.text import content_tokens, tokenize

_WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: ``severity`` is "error" or "warning"; the message names card and line."""

    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


def _gradable_words(text: str) -> list[str]:
    # The grader's own notion of a content word, so "check" predicts what grading sees.
    return [t.word for t in content_tokens(tokenize(text))]


def _stems(text: str) -> frozenset[str]:
    return frozenset(t.stem for t in content_tokens(tokenize(text)))


def _relative(message: str, source: str) -> str:
    """``"decks/x.md:12: msg"`` -> ``"line 12: msg"``; the path is printed once by the caller."""
    if message.startswith(source + ":"):
        rest = message[len(source) + 1 :]
        line, sep, text = rest.partition(": ")
        if sep and line.isdigit():
            return f"line {line}: {text}"
        return rest.strip()
    return message


def _fold(text: str) -> str:
    return " ".join(_WORD_RE.findall(text.casefold()))


def check_cards(deck: Deck) -> list[Finding]:
    """Findings about the cards of a deck that has been read."""
    findings: list[Finding] = []
    ids: set[str] = set()
    questions: dict[str, str] = {}
    for card in deck.cards:
        if card.id in ids:
            findings.append(Finding("error", f"duplicate card id {card.id!r}"))
        ids.add(card.id)
        key = _fold(card.question)
        if key in questions:
            findings.append(
                Finding(
                    "warning", f"cards {questions[key]!r} and {card.id!r} ask the same question"
                )
            )
        questions.setdefault(key, card.id)
        findings += _point_findings(card)
        for point in card.points:
            name = f"card {card.id!r} point {point.id}"
            folded = _fold(point.text)
            for alias in point.aliases:
                if _fold(alias.term) not in folded:
                    findings.append(
                        Finding(
                            "warning",
                            f"{name}: alias term {alias.term!r} does not occur in the point",
                        )
                    )
    return findings


def _point_findings(card: Card) -> list[Finding]:
    """The points that the grader cannot match on their own, each with the reason."""
    findings: list[Finding] = []
    question = _stems(card.question)
    seen: dict[frozenset[str], str] = {}
    for point in card.points:
        name = f"card {card.id!r} point {point.id}"
        words = _gradable_words(point.text)
        stems = _stems(point.text)
        if not words:
            findings.append(
                Finding(
                    "error",
                    f"{name} has nothing to grade (only stop words or punctuation): {point.text!r}",
                )
            )
            continue
        if stems in seen:  # the same content words: one answer would credit both alike
            findings.append(Finding("warning", f"{name} repeats point {seen[stems]}"))
        elif stems <= question:
            shared = ", ".join(repr(w) for w in dict.fromkeys(words))
            findings.append(
                Finding(
                    "warning",
                    f"{name} has only words of the question ({shared}): an answer that "
                    "repeats the question would seem to cover it",
                )
            )
        seen.setdefault(stems, point.id)
    return findings


def check_deck(path: str | Path, *, format: str = "auto") -> list[Finding]:
    """Lint one deck file: a file that cannot be read is one error finding, not an exception."""
    source = str(path)
    try:
        deck = load_deck(path, format=format)
    except DeckError as exc:
        return [Finding("error", _relative(str(exc), source))]
    findings = [Finding("warning", _relative(w, source)) for w in deck.warnings]
    return findings + check_cards(deck)
