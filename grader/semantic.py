"""The semantic matcher: reference points matched against the answer's clauses by meaning.

Each point is embedded once per card (cached), the answer once per grade, clause by clause:
sentences, split further at commas, parentheses and "and/or/then/but", so that the clauses
partition the answer and every word is embedded once. A cosine from this model says little
on its own (related texts crowd into 0.77-0.90), so a point's evidence is relative:

- ``margin``: how much closer a clause is to the point than to the card's other points and
  its question, on average (the question stands in for "on topic, but not this point");
- ``spread``: the same difference in standard deviations of that clause's similarities, so
  that answers in another language, whose similarities are all lower, are read on their own
  scale.

A point's credit then comes from two logistic models (credited at all; fully covered) over
the fuzzy credit and these two signals, fitted on human point labels of deck-like data
(``tests/benchmarks/fit_semantic.py``). Where the answer is in another language than the
card, word matches mean little and meaning counts for more: the models have terms for that.
"""

from __future__ import annotations

import itertools
import logging
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from grader import coverage
from grader.cards import Card
from grader.coverage import Assessment
from grader.embedding import Embedder, Vectors
from grader.language import LANGUAGE, name_of
from grader.result import PointResult, Status
from grader.text import sentences

MIN_WORDS = 5  # shorter clauses join the next one of their sentence
# Evidence by meaning is relative to the card's other points: with fewer, words decide
# (a short prose reference, split into one or two points, is graded as the fuzzy matcher does).
MIN_POINTS = 3
MAX_CHARS = 3_000  # clauses are matched by meaning up to here (about 500 words, ~1 s)
MAX_CLAUSE_CHARS = 1_000  # (the model reads 512 tokens of a text at most)
_CLAUSE_CUT = re.compile(r"[,(，、（]|\s(?:and|or|then|but|plus)\s")
# Han, kana and Hangul: languages written without spaces between words
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
_TRIM = " ,.()\t\n"
log = logging.getLogger(__name__)


def _clauses(answer: str) -> Iterator[tuple[int, int]]:
    for start, end in sentences(answer):
        cuts = [start, *(start + m.start() for m in _CLAUSE_CUT.finditer(answer[start:end])), end]
        pending: tuple[int, int] | None = None  # a clause too short to stand alone, so far
        for a, b in itertools.pairwise(cuts):
            part = answer[a:b]
            kept = part.strip(_TRIM)
            if not any(c.isalnum() for c in kept):
                continue
            lead = len(part) - len(part.lstrip(_TRIM))
            span = (pending[0] if pending else a + lead, a + lead + len(kept))
            # (each text costs the model a fixed overhead: short clauses go with the next)
            if _words(answer[span[0] : span[1]]) < MIN_WORDS:
                pending = span
                continue
            pending = None
            yield span
        if pending:
            yield pending


def _words(text: str) -> int:
    """About how many words ``text`` holds: its spaced words, and a word for every two
    characters of a script written without spaces (a Chinese word is one to three)."""
    return len(text.split()) + len(_UNSPACED.findall(text)) // 2


def clauses(answer: str, *, max_chars: int = MAX_CHARS) -> tuple[list[tuple[int, int]], bool]:
    """Character spans that partition the answer's words into clauses, in order, as many as
    fit in ``max_chars`` (a clause longer than ``MAX_CLAUSE_CHARS`` is cut at a space); and
    whether they reach the end of the answer."""
    spans: list[tuple[int, int]] = []
    used = 0
    complete = True
    for a, b in _clauses(answer):
        if b - a > MAX_CLAUSE_CHARS:
            space = answer.rfind(" ", a, a + MAX_CLAUSE_CHARS)
            b = space if space > a else a + MAX_CLAUSE_CHARS
            complete = False
        if used + b - a > max_chars:
            return spans, False
        used += b - a
        spans.append((a, b))
    return spans, complete


@lru_cache(maxsize=1024)  # ~17 kB a card
def _reference_vectors(embedder: Embedder, card: Card) -> Vectors:
    """The card's points, then its question, embedded once per card and model."""
    return embedder.encode([p.text for p in card.points] + [card.question])


@dataclass(frozen=True, slots=True)
class Match:
    """How strongly the answer says each point, by meaning, and where."""

    margin: tuple[float, ...]  # per point
    spread: tuple[float, ...]  # per point
    lead: tuple[float, ...]  # per point: by how much it beats the next point in some clause
    span: tuple[tuple[int, int] | None, ...]  # the clause that says each point best
    complete: bool = True  # every clause of the answer was matched (not cut at MAX_CHARS)


def similarities(
    card: Card, answer: str, embedder: Embedder
) -> tuple[Vectors, list[tuple[int, int]]]:
    """Cosines of the card's points and question (rows) with the answer's clauses
    (columns), and the clauses' spans."""
    spans, _ = clauses(answer)
    return _similarity(card, answer, spans, embedder), spans


def _similarity(
    card: Card, answer: str, spans: Sequence[tuple[int, int]], embedder: Embedder
) -> Vectors:
    if not spans:
        return np.zeros((len(card.points) + 1, 0), dtype=np.float32)
    units = embedder.encode([answer[a:b] for a, b in spans])
    return _reference_vectors(embedder, card) @ units.T


def read(similarity: Vectors, spans: Sequence[tuple[int, int]], *, complete: bool = True) -> Match:
    """The evidence in a matrix of :func:`similarities` (see the module doc)."""
    rows, columns = similarity.shape
    n = rows - 1  # the last row is the question
    if columns == 0:
        return Match((0.0,) * n, (0.0,) * n, (0.0,) * n, (None,) * n, complete)
    total = similarity.sum(axis=0)
    # mean similarity of each clause to everything else on the card, point by point
    others = (total[None, :] - similarity[:n]) / max(1, rows - 1)
    margin = similarity[:n] - others
    deviation = similarity.std(axis=0) + 1e-6
    spread = (similarity[:n] - total[None, :] / rows) / deviation[None, :]
    # each clause's best point, and by how many deviations it beats the runner-up
    lead = np.zeros(n)
    if n > 1:
        order = np.sort(similarity[:n], axis=0)
        gaps = (order[-1] - order[-2]) / deviation
        winners = similarity[:n].argmax(axis=0)
        np.maximum.at(lead, winners, gaps)
    best = margin.argmax(axis=1)
    return Match(
        tuple(float(x) for x in margin.max(axis=1)),
        tuple(float(x) for x in spread.max(axis=1)),
        tuple(float(x) for x in lead),
        tuple(spans[int(j)] for j in best),
        complete,
    )


def match(card: Card, answer: str, embedder: Embedder) -> Match:
    """Each point's semantic evidence in ``answer``."""
    spans, complete = clauses(answer)
    return read(_similarity(card, answer, spans, embedder), spans, complete=complete)


# Logistic models over (fuzzy credit, margin, spread, lead, other language, and spread and
# margin again where the language differs), bias last; fitted by
# tests/benchmarks/fit_semantic.py on seed-gold-dev and probe-dev.
CREDITED = (4.28, 0.5276, 1.0872, 0.2374, 0.1735, 1.1093, 0.0286, -3.4524)
COVERED = (3.7519, 0.6017, 1.168, 0.234, 0.6242, 0.9878, 0.0416, -4.1791)


def _logistic(weights: Sequence[float], features: Sequence[float]) -> float:
    z = weights[-1] + sum(w * x for w, x in zip(weights[:-1], features, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def features(
    fuzzy: float, margin: float, spread: float, lead: float, other_language: bool
) -> list[float]:
    """The models' inputs for one point."""
    o = 1.0 if other_language else 0.0
    return [fuzzy, margin, spread, lead, o, spread * o, margin * o]


def credit(
    fuzzy: float, margin: float, spread: float, lead: float, *, other_language: bool
) -> float:
    """A point's credit, 0-1: half for being credited at all, half for being covered."""
    x = features(fuzzy, margin, spread, lead, other_language)
    return 0.5 * _logistic(CREDITED, x) + 0.5 * _logistic(COVERED, x)


COVERED_AT = 0.6
PARTIAL_AT = 0.3


def assess(card: Card, answer: str, embedder: Embedder) -> Assessment:
    """Per-point statuses, credits and evidence by meaning and words together, as
    :func:`grader.coverage.assess` gives them by words alone."""
    found = coverage.assess(card, answer, always_tell_language=True)
    if not answer.strip() or len(card.points) < MIN_POINTS:
        return found  # (graded by words: the grade says "fuzzy")
    try:
        evidence = match(card, answer, embedder)
    except Exception as exc:  # a model that fails at run time: words still grade
        log.exception("the embedding model failed")
        why = f"the embedding model failed ({type(exc).__name__}): graded by words alone"
        return replace(found, warnings=[*found.warnings, why])
    language = found.language
    points = []
    for p, margin, spread, lead, clause in zip(
        found.points, evidence.margin, evidence.spread, evidence.lead, evidence.span, strict=True
    ):
        if p.contradicted:  # the answer denies it: meaning does not undo that
            points.append(p)
            continue
        value = credit(p.credit, margin, spread, lead, other_language=language is not None)
        value = round(value, 4)
        status: Status = (
            "covered" if value >= COVERED_AT else "partial" if value >= PARTIAL_AT else "missing"
        )
        if status == "missing":  # faint resemblances do not add up to a point
            value = 0.0
        span = None if status == "missing" else p.span or clause
        text = answer[span[0] : span[1]] if span else None
        points.append(PointResult(p.id, p.section, p.text, status, text, span, value, False))
    warnings = [w for w in found.warnings if not w.startswith((coverage.NO_MATCH, LANGUAGE))]
    if language is not None:
        warnings.append(
            f"{LANGUAGE} {name_of(language)}, not the card's language: graded by meaning"
        )
    if all(p.status == "missing" and not p.contradicted for p in points):
        warnings.append(f"{coverage.NO_MATCH} (off-topic?)")
    if not evidence.complete:
        warnings.append(
            f"long answer: only its first {MAX_CHARS:,} characters were matched by meaning, "
            "the rest by words"
        )
    return Assessment(points, warnings, found.breadth, found.similarity, language, "semantic")
