"""Verify an LLM's verdicts against the answer and merge them with the fuzzy statuses.

The model is a second reader whose claims are checked, never trusted. A covered or partial
verdict earns credit only where its quote occurs in the answer (outside text that addresses
the grader), has at least two words, and shows the point in the answer's own words
(``grader.evidence``). Verified verdicts may only raise a point's credit. The limits hold
whether or not any text was recognised as addressing the grader, so a gullible or steered
model that marks every point covered, quoting anything, gains little:

- **lexical support decides the level**: "covered" needs two or more of the point's stems
  (weight 2, or half the weight of a short point) in one sentence of the quote; one
  specific stem (or two common ones) gives at most "partial";
- **each word of the answer is evidence for one point only**, so one sentence (or the
  whole answer, quoted for every point) cannot credit the whole card;
- **a paraphrase** (a claim beyond its lexical support, sharing at least one stem with
  the point) adds credit only to an answer that shows substance of its own, and at most
  one level above the score without paraphrases or the fuzzy score, whichever is higher;
- **grading words** ("score", "covered", "response", "points") are never evidence;
- where the answer does address the grader, no LLM credit lifts the score more than one
  level above the fuzzy grade of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from grader.cards import Card
from grader.evidence import (
    AnswerText,
    Located,
    Support,
    common_stems,
    content_words,
    locate,
    point_weight,
)
from grader.guard import Directive, overlaps
from grader.result import GradeResult, PointResult, Status
from grader.rubric import Reply, Verdict
from grader.scoring import Strictness, Thresholds, score_points

MIN_QUOTE_WORDS = 2  # "User", "and", "the" show nothing
COVERED_WEIGHT = 2.0  # lexical support that shows a whole point ...
COVERED_SHARE = 0.5  # ... or this share of a short point's whole weight
PARTIAL_WEIGHT = 1.0
SHORT_POINT = 2.0  # a point this light is shown in part by one specific stem
PARTIAL_CREDIT = 0.5
MAX_INCORRECT = 5

_REFUSED = {
    "absent": "its quoted evidence is not in the answer",
    "directed": "its evidence is text addressing the grader",
    "short": "its evidence is too short to show anything",
    "unrelated": "its evidence does not match the point",
}


@dataclass(frozen=True, slots=True)
class Merged:
    """Points after verification, with what the LLM added and why claims were refused."""

    points: tuple[PointResult, ...]
    coverage: float
    score: int
    incorrect: tuple[str, ...]
    warnings: tuple[str, ...]
    used: bool  # at least one LLM verdict was verified (or it claimed nothing to verify)


@dataclass(slots=True)
class _Claim:
    index: int
    verdict: Verdict
    where: Located
    support: Support | None = None


def rescore(
    points: Sequence[PointResult],
    fuzzy: GradeResult,
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> tuple[float, int]:
    """(coverage, score) exactly as the fuzzy path computes them, with its whole-answer signals."""
    return score_points(
        points,
        strictness=strictness,
        thresholds=thresholds or fuzzy.thresholds,
        breadth=fuzzy.breadth,
        similarity=fuzzy.similarity,
    )


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lexical_credit(support: Support, total: float) -> float:
    """The credit (0, 0.5 or 1) that a quote's lexical support can verify on its own."""
    if support.count >= 2 and (
        support.weight >= COVERED_WEIGHT or support.weight >= COVERED_SHARE * total
    ):
        return 1.0
    if support.weight >= PARTIAL_WEIGHT and (support.count >= 2 or total <= SHORT_POINT):
        return PARTIAL_CREDIT
    return 0.0


def _credited(point: PointResult, credit: float, answer: str, support: Support) -> PointResult:
    status: Status = "covered" if credit >= 1.0 else "partial"
    return replace(
        point,
        status=status,
        credit=credit,
        evidence=answer[support.start : support.end],
        span=(support.start, support.end),
    )


def merge(
    card: Card,
    answer: str,
    base: GradeResult,
    reply: Reply,
    *,
    directives: Sequence[Directive] = (),
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> Merged:
    """Verify ``reply`` against ``answer`` and add its verified credit to ``base``'s points.

    ``base`` is the fuzzy grade of the answer with ``directives`` (its grader-directed
    spans) blanked out.
    """
    text = AnswerText.of(answer)
    common = common_stems(card.points)
    refused: dict[str, list[str]] = {why: [] for why in _REFUSED}
    claims: list[_Claim] = []
    claimed = 0
    for i, point in enumerate(base.points):
        verdict = reply.verdicts[point.id]
        if verdict.verdict == "missing":
            continue
        claimed += 1
        where = locate(verdict.evidence or "", answer)
        if where is None:
            refused["absent"].append(point.id)
        elif overlaps(where.start, where.end, directives):
            refused["directed"].append(point.id)
        elif content_words(answer[where.start : where.end]) < MIN_QUOTE_WORDS:
            refused["short"].append(point.id)
        else:
            claims.append(_Claim(i, verdict, where))

    # Strongest claims first: they take the answer's words that they use as evidence.
    for claim in claims:
        reference = card.point(base.points[claim.index].id)
        claim.support = text.support(claim.where.start, claim.where.end, reference, common=common)
    claims.sort(key=lambda c: (-c.support.weight if c.support else 0.0, c.index))

    points = list(base.points)
    used: set[int] = set()
    upgrades: list[tuple[float, int]] = []  # (support weight, index) of lexical upgrades
    paraphrases: list[tuple[float, int, PointResult]] = []  # credit beyond lexical support
    verified = 0
    for claim in claims:
        previous = points[claim.index]
        reference = card.point(previous.id)
        found = text.support(
            claim.where.start, claim.where.end, reference, common=common, used=used
        )
        if found.count == 0:
            refused["unrelated"].append(previous.id)
            continue
        verified += 1
        used.update(found.positions)
        if previous.contradicted:
            continue
        wanted = 1.0 if claim.verdict.verdict == "covered" else PARTIAL_CREDIT
        lexical = min(wanted, lexical_credit(found, point_weight(reference, common)))
        if lexical > previous.credit:
            points[claim.index] = _credited(previous, lexical, answer, found)
            upgrades.append((found.weight, claim.index))
        if wanted > max(lexical, previous.credit) and found.specific:
            upgraded = _credited(previous, wanted, answer, found)
            paraphrases.append((found.weight, claim.index, upgraded))

    warnings: list[str] = []
    coverage, score = rescore(points, base, strictness=strictness, thresholds=thresholds)
    lexical_score = score
    # Substance of its own: a grade above 1 without the LLM, a point that the answer's words
    # show whole, or two shown in part.
    substance = (
        base.score >= 2
        or any(p.credit >= 1.0 for p in points)
        or sum(p.status != "missing" for p in points) >= 2
    )
    limit = max(lexical_score, base.score + 1)
    capped = False
    if paraphrases and not substance:
        warnings.append(
            "LLM credit for paraphrases not used: the answer shows too little of the "
            "reference in its own words"
        )
    elif paraphrases:
        for _, i, upgraded in sorted(paraphrases, key=lambda p: (-p[0], p[1])):
            trial = [*points[:i], upgraded, *points[i + 1 :]]
            trial_coverage, trial_score = rescore(
                trial, base, strictness=strictness, thresholds=thresholds
            )
            if trial_score > limit:
                capped = True
                continue
            points, coverage, score = trial, trial_coverage, trial_score
            upgrades.append((0.0, i))
        if capped:
            warnings.append(
                "LLM credit for paraphrases capped at one level above the grade that the "
                "answer's own words support"
            )

    if directives and score > base.score + 1:
        # Revert the least supported upgrades first until within one level of the fuzzy grade.
        for _, i in sorted(upgrades, key=lambda u: (u[0], -u[1])):
            if score <= base.score + 1:
                break
            points[i] = base.points[i]
            coverage, score = rescore(points, base, strictness=strictness, thresholds=thresholds)
        warnings.append(
            f"LLM credit capped at one level above the {base.method} score, "
            "since the answer addresses the grader"
        )
    for why, ids in refused.items():
        if ids:
            warnings.append(f"LLM verdict ignored for point {', '.join(ids)}: {_REFUSED[why]}")

    incorrect: list[str] = []
    for statement in reply.incorrect:
        where = locate(statement, answer)
        if where is not None and not overlaps(where.start, where.end, directives):
            found_text = answer[where.start : where.end].strip()
            if found_text and found_text not in incorrect:
                incorrect.append(found_text)
    for statement in incorrect[:MAX_INCORRECT]:
        warnings.append(f"the answer contradicts the reference: “{_snippet(statement)}”")
    return Merged(
        tuple(points),
        coverage,
        score,
        tuple(incorrect[:MAX_INCORRECT]),
        tuple(warnings),
        used=verified > 0 or claimed == 0,
    )
