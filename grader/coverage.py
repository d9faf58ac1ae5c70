"""Fuzzy coverage: which reference points an answer covers, and where.

Each key term of the card is looked up once in the answer: by stem ("retraining" for
"retrain"), by the joined form of two words ("auto scaling" for "autoscaling") and, for
words of five letters or more, by edit similarity with the same first letter, so that typos
("monitering") match but short look-alikes ("drift"/"draft", "deploy"/"employ") do not.
Occurrences inside a negated clause ("no need to retrain") do not count; a point whose
terms occur only negated is marked as contradicted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from grader.cards import Card
from grader.result import PointResult, Status
from grader.terms import PreparedCard, PreparedPoint, prepare
from grader.text import Token, negated_positions, tokenize

SATURATION = 0.6  # share of a point's term weight that covers it fully
NAME_FACTOR = 0.9  # credit for naming the point's idea (its label) alone
FUZZY_STRENGTH = 0.9
COVERED_AT = 0.55
PARTIAL_AT = 0.2
MAX_TOKENS = 20_000  # longer answers are graded on their first words; said in a warning


@dataclass(frozen=True, slots=True)
class _Hits:
    positive: tuple[int, ...]
    negated: tuple[int, ...]
    strength: float


def _fuzzy_cutoff(length: int) -> float:
    return 88.0 if length <= 5 else 83.0 if length <= 7 else 80.0


def _find_terms(prepared: PreparedCard, tokens: list[Token], negated: set[int]) -> dict[str, _Hits]:
    """Where each of the card's term words occurs in the answer."""
    by_stem: dict[str, list[int]] = {}
    by_word: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens):
        by_stem.setdefault(tok.stem, []).append(i)
        by_word.setdefault(tok.word, []).append(i)
        if i and tokens[i - 1].clause == tok.clause:
            by_word.setdefault(tokens[i - 1].word + tok.word, []).append(i - 1)

    from grader.text import stem

    hits: dict[str, _Hits] = {}
    unmatched: list[str] = []
    for word in prepared.words:
        found = by_stem.get(stem(word), []) + by_word.get(word, [])
        if found:
            hits[word] = _split(found, negated, 1.0)
        elif len(word) >= 5 and word.isalpha():
            unmatched.append(word)

    candidates = [w for w in by_word if len(w) >= 4 and w.isalpha() and w not in hits]
    if unmatched and candidates:
        scores = process.cdist(unmatched, candidates, scorer=fuzz.ratio, score_cutoff=80.0)
        for row, word in enumerate(unmatched):
            cutoff = _fuzzy_cutoff(len(word))
            found = []
            for col, cand in enumerate(candidates):
                if scores[row, col] >= cutoff and cand[0] == word[0] and abs(len(cand) - len(word)) <= 2:
                    found.extend(by_word[cand])
            if found:
                hits[word] = _split(found, negated, FUZZY_STRENGTH)
    return hits


def _split(found: Iterable[int], negated: set[int], strength: float) -> _Hits:
    unique = sorted(set(found))
    return _Hits(
        tuple(i for i in unique if i not in negated),
        tuple(i for i in unique if i in negated),
        strength,
    )


def _alias_hits(point: PreparedPoint, tokens: list[Token], negated: set[int]) -> tuple[set[str], list[int]]:
    """Stems covered through a point's aliases, and the answer positions that said them."""
    covered: set[str] = set()
    where: list[int] = []
    if not point.aliases:
        return covered, where
    positions: dict[str, list[int]] = {}
    for i, tok in enumerate(tokens):
        if i not in negated:
            positions.setdefault(tok.stem, []).append(i)
    for group in point.aliases:
        for alternative in group.alternatives:
            if all(s in positions for s in alternative):
                covered |= group.covers
                where.extend(positions[s][0] for s in alternative)
                break
    return covered, where


def _assess_point(point: PreparedPoint, hits: dict[str, _Hits], tokens: list[Token], negated: set[int]) -> PointResult:
    alias_stems, alias_where = _alias_hits(point, tokens, negated)
    matched = 0.0
    label = 0.0
    denied = 0.0
    where: list[int] = list(alias_where)
    for term in point.terms:
        hit = hits.get(term.word)
        if term.stem in alias_stems:
            strength = 1.0
        elif hit is not None and (hit.positive or term.negated):
            strength = hit.strength
            where.extend(hit.positive or hit.negated)
        else:
            if hit is not None and hit.negated:
                denied += term.weight
            continue
        matched += term.weight * strength
        if term.in_label:
            label += term.weight * strength

    total = point.total or 1.0
    credit = matched / total / SATURATION
    if point.label_total:
        credit = max(credit, NAME_FACTOR * label / point.label_total)
    credit = min(1.0, credit)
    contradicted = denied > 0 and denied >= matched
    if contradicted:
        credit = 0.0
    status: Status = "covered" if credit >= COVERED_AT else "partial" if credit >= PARTIAL_AT else "missing"
    evidence, span = _evidence(tokens, where) if status != "missing" else (None, None)
    p = point.point
    return PointResult(p.id, p.section, p.text, status, evidence, span, round(credit, 4), contradicted)


def _evidence(tokens: list[Token], where: list[int]) -> tuple[str | None, tuple[int, int] | None]:
    """The stretch of one clause of the answer that holds most of the matched words."""
    if not where:
        return None, None
    by_clause: dict[int, list[int]] = {}
    for i in where:
        by_clause.setdefault(tokens[i].clause, []).append(i)
    best = max(by_clause.values(), key=lambda idx: (len(set(idx)), -min(idx)))
    return None, (tokens[min(best)].start, tokens[max(best)].end)


def assess(card: Card, answer: str) -> tuple[list[PointResult], list[str]]:
    """Per-point statuses, credits and evidence for ``answer``, plus warnings."""
    prepared = prepare(card)
    warnings: list[str] = []
    if not answer.strip():
        warnings.append("empty answer: every point is missing")
        return [_missing(p) for p in prepared.points], warnings
    tokens = tokenize(answer)
    if len(tokens) > MAX_TOKENS:
        warnings.append(f"very long answer: only its first {MAX_TOKENS:,} words were graded")
        tokens = tokens[:MAX_TOKENS]
    negated = negated_positions(tokens)
    hits = _find_terms(prepared, tokens, negated)
    results = []
    for point in prepared.points:
        result = _assess_point(point, hits, tokens, negated)
        if result.span is not None:
            start, end = result.span
            result = _with_evidence(result, answer[start:end])
        results.append(result)
    if all(r.status == "missing" for r in results) and not any(r.contradicted for r in results):
        warnings.append("the answer matches none of the reference points (off-topic, or another language?)")
    return results, warnings


def _with_evidence(result: PointResult, evidence: str) -> PointResult:
    from dataclasses import replace

    return replace(result, evidence=evidence)


def _missing(point: PreparedPoint) -> PointResult:
    p = point.point
    return PointResult(p.id, p.section, p.text, "missing")
