"""Fuzzy coverage: which reference points an answer covers, and where.

Each key term of the card is looked up once in the answer: by stem ("retraining" for
"retrain"), by the joined form of two words ("auto scaling" for "autoscaling") and, for
words of five letters or more, by edit similarity with the same first letter, so that typos
("monitering") match but short look-alikes ("drift"/"draft", "deploy"/"employ") do not.
Occurrences inside a negated clause ("no need to retrain") do not count; a point whose
terms occur only negated is marked as contradicted.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz, process

from grader.cards import Card
from grader.result import PointResult, Status
from grader.terms import PreparedCard, PreparedPoint, prepare
from grader.text import STOP_WORDS, Token, negated_positions, tokenize

SATURATION = 0.6  # share of a point's term weight that covers it fully
NAME_FACTOR = 0.9  # credit for naming the point's idea (its label) alone
FUZZY_STRENGTH = 0.9
COVERED_AT = 0.55
PARTIAL_AT = 0.26
CONTRADICTED_SHARE = 0.25
MAX_TOKENS = 20_000  # longer answers are graded on their first words; said in a warning


class _Hits(NamedTuple):
    """Token positions where a term occurs, split by polarity, and the match's strength."""

    positive: tuple[int, ...]
    negated: tuple[int, ...]
    strength: float


def _fuzzy_cutoff(length: int) -> float:
    return 88.0 if length <= 5 else 83.0 if length <= 7 else 80.0


def _find_terms(prepared: PreparedCard, tokens: list[Token], negated: set[int]) -> dict[str, _Hits]:
    """Where each of the card's term words occurs in the answer."""
    by_stem: dict[str, list[int]] = {}  # term stems only: positions, in order
    joins: dict[str, list[int]] = {}  # neighbours joined into a term word
    compounds = prepared.compounds
    heads = prepared.heads
    stems = [t.stem for t in tokens]
    term_stems = prepared.stems
    for i in [i for i, s in enumerate(stems) if s in term_stems]:
        by_stem.setdefault(stems[i], []).append(i)
    # Joined neighbours match compounds: "auto scaling", "blue/green" -> "autoscaling", ...
    # Only a word that begins some term can start one, which few words do.
    answer_words = [t.word for t in tokens]
    n = len(tokens)
    for i in [i for i, w in enumerate(answer_words) if w in heads]:
        clause = tokens[i].clause
        if i + 1 < n and tokens[i + 1].clause == clause:
            joined = answer_words[i] + answer_words[i + 1]
            if joined in compounds:
                joins.setdefault(joined, []).append(i)
            if i + 2 < n and joined in heads and tokens[i + 2].clause == clause:
                joined += answer_words[i + 2]
                if joined in compounds:
                    joins.setdefault(joined, []).append(i)

    hits: dict[str, _Hits] = {}
    unmatched: list[str] = []
    for word, word_stem in prepared.word_stems:
        found = by_stem.get(word_stem)
        if joins:
            joined_at = joins.get(word)
            if joined_at:
                found = sorted(set(joined_at).union(found or ()))
        if found:
            hits[word] = _split(found, negated, 1.0)
        elif len(word) >= 5 and word.isalpha():
            unmatched.append(word)

    # Typos: one fuzzy pass of the unmatched terms against the answer's other words.
    candidates = [w for w in set(answer_words).union(joins) if len(w) >= 4 and w.isalpha()]
    if unmatched and candidates:
        scores = process.cdist(unmatched, candidates, scorer=fuzz.ratio, score_cutoff=80.0)
        found_at: dict[int, set[str]] = {}
        for row, col in zip(*np.nonzero(scores), strict=True):
            word, cand = unmatched[row], candidates[col]
            # Typos rarely hit the first letter; look-alikes often differ there.
            if (
                scores[row, col] >= _fuzzy_cutoff(len(word))
                and cand[0] == word[0]
                and abs(len(cand) - len(word)) <= 2
            ):
                found_at.setdefault(int(row), set()).add(cand)
        if found_at:
            wanted = set().union(*found_at.values())
            at: dict[str, list[int]] = {}
            for i in [i for i, w in enumerate(answer_words) if w in wanted]:
                at.setdefault(answer_words[i], []).append(i)
            for row, words in found_at.items():
                positions = [i for w in words for i in at.get(w, ())]
                for joined in words & joins.keys():
                    positions.extend(joins[joined])
                hits[unmatched[row]] = _split(sorted(set(positions)), negated, FUZZY_STRENGTH)
    return hits


def _split(found: list[int], negated: set[int], strength: float) -> _Hits:
    """Positions (sorted, distinct) split by polarity."""
    if negated.isdisjoint(found):
        return _Hits(tuple(found), (), strength)
    return _Hits(
        tuple(i for i in found if i not in negated),
        tuple(i for i in found if i in negated),
        strength,
    )


def _positions(tokens: list[Token], negated: set[int]) -> dict[str, list[int]]:
    """Where each stem of the answer occurs affirmed (for aliases)."""
    positions: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens):
        if i not in negated:
            positions.setdefault(tok.stem, []).append(i)
    return positions


def _alias_hits(
    point: PreparedPoint, positions: dict[str, list[int]]
) -> tuple[set[str], list[int]]:
    """Stems covered through a point's aliases, and the answer positions that said them."""
    covered: set[str] = set()
    where: list[int] = []
    for group in point.aliases:
        for alternative in group.alternatives:
            if all(s in positions for s in alternative):
                covered |= group.covers
                where.extend(positions[s][0] for s in alternative)
                break
    return covered, where


def _assess_point(
    point: PreparedPoint,
    hits: dict[str, _Hits],
    answer: str,
    tokens: list[Token],
    positions: dict[str, list[int]],
) -> tuple[PointResult, float]:
    """The point's result, and the term weight that the answer matched (0 if denied)."""
    alias_stems: set[str] = set()
    where: list[int] = []
    if point.aliases:
        alias_stems, where = _alias_hits(point, positions)
    matched = 0.0
    label = 0.0
    denied = 0.0
    for term in point.terms:
        hit = hits.get(term.word)
        if alias_stems and term.stem in alias_stems:
            strength = 1.0
        elif hit is None:
            continue
        else:
            # Occurrences count when their polarity agrees with the reference's:
            # "has no children" is not covered by "has children", and vice versa.
            agreeing, opposed = (
                (hit.negated, hit.positive) if term.negated else (hit.positive, hit.negated)
            )
            if not agreeing:
                if opposed:
                    denied += term.weight
                continue
            # A word said both ways ("a while loop tests first, a do-while does not")
            # counts: contrasts are common in good answers.
            strength = hit.strength
            where.extend(agreeing)
        matched += term.weight * strength
        if term.in_label:
            label += term.weight * strength

    total = point.total or 1.0
    credit = matched / total / SATURATION
    if point.label_total:
        credit = max(credit, NAME_FACTOR * label / point.label_total)
    credit = min(1.0, credit)
    # A point counts as contradicted only when a real share of it is denied and little of
    # it is affirmed, so one negated common word does not cost a whole point.
    contradicted = denied >= min(CONTRADICTED_SHARE * point.total, 1.0) and denied >= matched
    if contradicted:
        credit = 0.0
    status: Status = (
        "covered" if credit >= COVERED_AT else "partial" if credit >= PARTIAL_AT else "missing"
    )
    span = _evidence_span(tokens, where) if status != "missing" else None
    evidence = answer[span[0] : span[1]] if span else None
    p = point.point
    result = PointResult(
        p.id, p.section, p.text, status, evidence, span, round(credit, 4), contradicted
    )
    return result, (0.0 if contradicted else min(matched, point.total))


def _evidence_span(tokens: list[Token], where: list[int]) -> tuple[int, int] | None:
    """The stretch of one clause of the answer that holds most of the matched words."""
    if not where:
        return None
    hits = sorted(set(where))
    clauses = [tokens[i].clause for i in hits]  # non-decreasing: a clause's hits are a run
    counts = Counter(clauses)
    best = max(counts, key=counts.__getitem__)  # the first clause of those with most hits
    first = bisect_left(clauses, best)
    last = bisect_right(clauses, best) - 1
    return tokens[hits[first]].start, tokens[hits[last]].end


@dataclass(frozen=True, slots=True)
class Assessment:
    """Per-point results and the whole-answer signals that scoring blends in."""

    points: list[PointResult]
    warnings: list[str]
    breadth: float = 0.0  # share of the card's key-term weight matched
    similarity: float = 0.0  # token-set similarity of answer and reference, 0-1


def assess(card: Card, answer: str) -> Assessment:
    """Per-point statuses, credits and evidence for ``answer``, plus warnings."""
    prepared = prepare(card)
    if not answer.strip():
        return Assessment(
            [_missing(p) for p in prepared.points], ["empty answer: every point is missing"]
        )
    warnings: list[str] = []
    tokens = tokenize(answer)
    if len(tokens) > MAX_TOKENS:
        warnings.append(f"very long answer: only its first {MAX_TOKENS:,} words were graded")
        tokens = tokens[:MAX_TOKENS]
    negated = negated_positions(tokens)
    hits = _find_terms(prepared, tokens, negated)
    positions = _positions(tokens, negated) if prepared.has_aliases else {}
    results = []
    matched = denied = 0.0
    for point in prepared.points:
        result, weight = _assess_point(point, hits, answer, tokens, positions)
        matched += weight
        denied += point.total if result.contradicted else 0.0
        results.append(result)
    if all(r.status == "missing" for r in results) and not any(r.contradicted for r in results):
        warnings.append(
            "the answer matches none of the reference points (off-topic, or another language?)"
        )
    total = sum(p.total for p in prepared.points) or 1.0
    # Breadth is for references written as prose (one section): their points are sentences
    # of a model answer, often alternatives. A checklist in titled sections is graded per point.
    breadth = 0.0 if prepared.sectioned else max(0.0, matched - denied) / total
    answer_stems = " ".join([t.stem for t in tokens if t.word not in STOP_WORDS])
    # token_sort, not token_set: a fragment of the reference is not "similar" to all of it.
    similarity = fuzz.token_sort_ratio(prepared.reference_stems, answer_stems) / 100.0
    return Assessment(results, warnings, round(breadth, 4), round(similarity, 4))


def _missing(point: PreparedPoint) -> PointResult:
    p = point.point
    return PointResult(p.id, p.section, p.text, "missing")
