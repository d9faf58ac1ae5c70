"""Verify an LLM's verdicts against the answer and merge them with the fuzzy statuses.

Rules (DESIGN.md, "LLM rubric"): a covered/partial verdict earns credit only where its quote
occurs in the answer, relates to that point and does not overlap text that addresses the
grader. Verified verdicts may only raise a point's credit. When the answer addresses the
grader, two more limits apply: fuzzy credit found inside that text is dropped (it earns
nothing), and the LLM may raise the score at most one level above the fuzzy-only score.
That cap exists because an answer that tries to steer the grader is, by itself, evidence
that the LLM's reading may be steered too; one level still lets a real paraphrase count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from grader.cards import Card
from grader.evidence import common_stems, locate, relatedness
from grader.guard import Directive, find_directives, inside, overlaps
from grader.result import GradeResult, PointResult
from grader.rubric import Reply
from grader.scoring import Strictness, Thresholds, score_points

MIN_RELATEDNESS = 1.0  # one specific shared stem, two common ones, or a close paraphrase
PARTIAL_CREDIT = 0.5
MAX_INCORRECT = 5


@dataclass(frozen=True, slots=True)
class Merged:
    """Points after verification, with what the LLM added and why claims were refused."""

    points: tuple[PointResult, ...]
    coverage: float
    score: int
    incorrect: tuple[str, ...]
    warnings: tuple[str, ...]
    used: bool  # at least one LLM verdict was verified (or it claimed nothing to verify)


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def scrub(points: Sequence[PointResult], directives: list[Directive]) -> list[PointResult]:
    """Drop credit whose evidence lies wholly within text that addresses the grader."""
    out = []
    for p in points:
        if p.span is not None and p.status != "missing" and inside(*p.span, directives):
            p = replace(p, status="missing", credit=0.0, evidence=None, span=None)
        out.append(p)
    return out


def guard_fuzzy(
    card: Card,
    answer: str,
    fuzzy: GradeResult,
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> GradeResult:
    """The fuzzy result with the grader-directed text of the answer earning nothing."""
    directives = find_directives(answer)
    if not directives:
        return fuzzy
    points = scrub(fuzzy.points, directives)
    coverage, score = score_points(points, strictness=strictness, thresholds=thresholds)
    warning = _directive_warning(directives)
    return replace(
        fuzzy,
        points=tuple(points),
        coverage=coverage,
        score=score,
        warnings=(*fuzzy.warnings, warning),
    )


def _directive_warning(directives: list[Directive]) -> str:
    quoted = "; ".join(f"“{_snippet(d.text, 60)}”" for d in directives[:2])
    more = f" (+{len(directives) - 2} more)" if len(directives) > 2 else ""
    return f"text that addresses the grader earns nothing: {quoted}{more}"


def merge(
    card: Card,
    answer: str,
    fuzzy: GradeResult,
    reply: Reply,
    *,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> Merged:
    """Verify ``reply`` against ``answer`` and add its verified credit to ``fuzzy``'s points."""
    directives = find_directives(answer)
    points = scrub(fuzzy.points, directives)
    common = common_stems(card.points)
    refused: dict[str, list[str]] = {"absent": [], "directed": [], "unrelated": []}
    upgrades: list[tuple[float, int, PointResult]] = []  # (relatedness, index, previous)
    claimed = verified = 0
    for i, point in enumerate(points):
        verdict = reply.verdicts[point.id]
        if verdict.verdict == "missing":
            continue
        claimed += 1
        where = locate(verdict.evidence or "", answer)
        if where is None:
            refused["absent"].append(point.id)
            continue
        if overlaps(where.start, where.end, directives):
            refused["directed"].append(point.id)
            continue
        quote = answer[where.start : where.end]
        related = relatedness(quote, card.point(point.id), common=common)
        if related < MIN_RELATEDNESS:
            refused["unrelated"].append(point.id)
            continue
        verified += 1
        credit = 1.0 if verdict.verdict == "covered" else PARTIAL_CREDIT
        if credit <= point.credit or point.contradicted:
            continue
        status = point.status if point.status != "missing" else "partial"
        if credit == 1.0:
            status = "covered"
        upgrades.append((related, i, point))
        points[i] = replace(
            point, status=status, credit=credit, evidence=quote, span=(where.start, where.end)
        )

    coverage, score = score_points(points, strictness=strictness, thresholds=thresholds)
    warnings: list[str] = []
    if directives:
        warnings.append(_directive_warning(directives))
        capped = False
        # Revert the least related upgrades first until the score is within one level.
        for _, i, previous in sorted(upgrades, key=lambda u: (u[0], -u[1])):
            if score <= fuzzy.score + 1:
                break
            points[i] = previous
            capped = True
            coverage, score = score_points(points, strictness=strictness, thresholds=thresholds)
        if capped:
            warnings.append(
                "LLM credit capped at one level above the fuzzy score, "
                "since the answer addresses the grader"
            )
    for why, ids in refused.items():
        if ids:
            what = {
                "absent": "its quoted evidence is not in the answer",
                "directed": "its evidence is text addressing the grader",
                "unrelated": "its evidence does not match the point",
            }[why]
            warnings.append(f"LLM verdict ignored for point {', '.join(ids)}: {what}")

    incorrect: list[str] = []
    for statement in reply.incorrect:
        where = locate(statement, answer)
        if where is not None and not overlaps(where.start, where.end, directives):
            text = answer[where.start : where.end].strip()
            if text and text not in incorrect:
                incorrect.append(text)
    for text in incorrect[:MAX_INCORRECT]:
        warnings.append(f"the answer contradicts the reference: “{_snippet(text)}”")
    return Merged(
        tuple(points),
        coverage,
        score,
        tuple(incorrect[:MAX_INCORRECT]),
        tuple(warnings),
        used=verified > 0 or claimed == 0,
    )
