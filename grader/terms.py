"""A card's key terms and their weights, prepared once per card and reused.

A point's terms are its content words (stems). Weights make the grade depend on what
distinguishes the point: words that the question already contains, words shared by many
points of the card, generic verbs and parenthesised examples all count for less. The words
before a colon ("Feature flags: ...") name the point's idea; they are kept as a label.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from grader.cards import Card, Point
from grader.result import PointResult
from grader.text import (
    GENERIC_WORDS,
    NEGATION_CUES,
    STOP_WORDS,
    Token,
    content_tokens,
    negated_positions,
    stem,
    tokenize,
)

QUESTION_WEIGHT = 0.2
GENERIC_WEIGHT = 0.25
EXAMPLE_WEIGHT = 0.5

_PAREN_RE = re.compile(r"\([^)]*\)")
_LABEL_RE = re.compile(r"^\s*([^:]{2,60}):\s+\S")


class Term(NamedTuple):
    """One key term of a point: its folded word, stem and weight. A tuple, so that the
    grader's inner loop can unpack it."""

    word: str
    stem: str
    weight: float
    in_label: bool = False
    negated: bool = False  # the reference itself negates it ("without full redeploy")


@dataclass(frozen=True, slots=True)
class AliasGroup:
    """Alternative phrasings (stem tuples) that stand for the terms ``covers``."""

    covers: frozenset[str]
    alternatives: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class PreparedPoint:
    """A point with its terms and aliases, ready for matching."""

    point: Point
    terms: tuple[Term, ...]
    aliases: tuple[AliasGroup, ...]
    total: float
    label_total: float
    missing: PointResult  # the point's result where an answer has nothing of it (shared)


@dataclass(frozen=True, slots=True)
class PreparedCard:
    """Every point of a card prepared, and the card's distinct term words."""

    card: Card
    points: tuple[PreparedPoint, ...]
    words: tuple[str, ...]  # distinct term words, for one fuzzy pass over the answer
    reference_sorted: str  # the content stems of all points, sorted (token_sort_ratio's form)
    reference_text: str  # the question and the points, for telling their language
    compounds: frozenset[str]  # term words that an answer may write as two or three words
    heads: frozenset[str]  # beginnings of those words: what a first part must be
    words_of_stem: dict[str, tuple[str, ...]]  # each term stem, and its term words
    stem_of_word: dict[str, str]
    typo_words: tuple[str, ...]  # term words long enough to be matched despite a typo
    sectioned: bool  # points in more than one section: a checklist, not prose
    has_aliases: bool


def _point_tokens(text: str) -> tuple[list[Token], set[int], set[int]]:
    """Tokens of a point, the indexes inside parentheses and the indexes of its label."""
    tokens = tokenize(text, compounds=True)
    parens = [m.span() for m in _PAREN_RE.finditer(text)]
    in_parens = {i for i, t in enumerate(tokens) if any(a <= t.start < b for a, b in parens)}
    label = _LABEL_RE.match(text)
    in_label = {i for i, t in enumerate(tokens) if label and t.end <= label.end(1)}
    return tokens, in_parens, in_label


def _alias_groups(point: Point) -> tuple[AliasGroup, ...]:
    groups = []
    for alias in point.aliases:
        covers = frozenset(t.stem for t in content_tokens(tokenize(alias.term)))
        alternatives = tuple(
            tuple(t.stem for t in content_tokens(tokenize(alt))) for alt in alias.alternatives
        )
        alternatives = tuple(a for a in alternatives if a)
        if covers and alternatives:
            groups.append(AliasGroup(covers, alternatives))
    return tuple(groups)


def _group(word_stems: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for word, stem_ in word_stems:
        groups.setdefault(stem_, []).append(word)
    return {s: tuple(words) for s, words in groups.items()}


@lru_cache(maxsize=2048)
def prepare(card: Card) -> PreparedCard:
    """Key terms and weights for every point of ``card`` (cached per card)."""
    question_stems = {t.stem for t in content_tokens(tokenize(card.question))}
    raw: list[tuple[Point, list[tuple[Token, bool, bool, bool]]]] = []
    doc_freq: dict[str, int] = {}
    for point in card.points:
        tokens, in_parens, in_label = _point_tokens(point.text)
        negated = negated_positions(tokens)
        seen: dict[str, tuple[Token, bool, bool, bool]] = {}
        for i, tok in enumerate(tokens):
            if (
                tok.word in STOP_WORDS
                or tok.word in NEGATION_CUES
                or (tok.word.isdigit() and len(tok.word) < 2)
            ):
                continue
            prev = seen.get(tok.stem)
            entry = (tok, i in in_parens and (prev is None or prev[1]), i in in_label, i in negated)
            if prev is None or (prev[1] and not entry[1]) or (entry[2] and not prev[2]):
                seen[tok.stem] = entry
        raw.append((point, list(seen.values())))
        for stem_ in seen:
            doc_freq[stem_] = doc_freq.get(stem_, 0) + 1

    prepared = []
    words: dict[str, None] = {}
    for point, entries in raw:
        terms = []
        for tok, parenthesised, labelled, denied in entries:
            weight = 1.0
            if tok.word in GENERIC_WORDS:
                weight = GENERIC_WEIGHT
            if parenthesised:
                weight *= EXAMPLE_WEIGHT
            if tok.stem in question_stems:
                weight *= QUESTION_WEIGHT
            weight /= math.sqrt(doc_freq[tok.stem])
            terms.append(Term(tok.word, tok.stem, weight, labelled, denied))
            words[tok.word] = None
        total = sum(t.weight for t in terms)
        label_total = sum(t.weight for t in terms if t.in_label)
        prepared.append(
            PreparedPoint(
                point,
                tuple(terms),
                _alias_groups(point),
                total,
                label_total,
                PointResult(point.id, point.section, point.text, "missing"),
            )
        )
    stems = " ".join(
        t.stem for p in card.points for t in tokenize(p.text) if t.word not in STOP_WORDS
    )
    # Any term may be split in an answer ("auto scaling", "data set", "round robin").
    compounds = frozenset(words)
    word_stems = tuple((w, stem(w)) for w in words)
    return PreparedCard(
        card,
        tuple(prepared),
        tuple(words),
        " ".join(sorted(stems.split())),
        " ".join([card.question, *(p.text for p in card.points)]),
        compounds,
        frozenset(w[:k] for w in words for k in range(1, len(w))),
        _group(word_stems),
        dict(word_stems),
        tuple(w for w in words if len(w) >= 5 and w.isalpha()),
        len({p.id.split(".", 1)[0] for p in card.points}) > 1,
        any(p.aliases for p in prepared),
    )
