"""Verify an LLM's verdicts against the answer and merge them with the fuzzy statuses.

Rules (DESIGN.md, "LLM rubric"): a covered/partial verdict earns credit only where its quote
occurs in the answer, relates to that point and does not overlap text that addresses the
grader. Verified verdicts may only raise a point's credit. When the answer addresses the
grader, two more limits apply: the base is the fuzzy grade of the answer with that text
blanked out (it earns nothing, whoever reads it), and the LLM may raise the score at most
one level above the fuzzy-only score. That cap exists because an answer that tries to steer
the grader is, by itself, evidence that the LLM's reading may have been steered too; one
level still lets a real paraphrase next to it count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from grader.cards import Card
from grader.evidence import common_stems, locate, relatedness
from grader.guard import Directive, overlaps
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


def rescore(
    points: Sequence[PointResult],
    fuzzy: GradeResult,
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> tuple[float, int]:
    """(coverage, score) exactly as the fuzzy path computes them, with its whole-answer signals."""
    # The fuzzy grader may blend answer-level signals (breadth, similarity) into coverage;
    # pass on whatever it recorded so that both paths use the same scale and thresholds.
    extra: dict[str, Any] = {
        name: getattr(fuzzy, name) for name in ("breadth", "similarity") if hasattr(fuzzy, name)
    }
    return score_points(points, strictness=strictness, thresholds=thresholds, **extra)


def _snippet(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blank(answer: str, directives: Sequence[Directive]) -> str:
    """``answer`` with grader-directed text replaced by spaces: every other offset is kept."""
    chars = list(answer)
    for d in directives:
        chars[d.start : d.end] = " " * (d.end - d.start)
    return "".join(chars)


def directive_warning(directives: Sequence[Directive]) -> str:
    """The warning that names (the start of) the text that addresses the grader."""
    quoted = "; ".join(f"“{_snippet(d.text, 60)}”" for d in directives[:2])
    more = f" (+{len(directives) - 2} more)" if len(directives) > 2 else ""
    return f"text that addresses the grader earns nothing: {quoted}{more}"


def merge(
    card: Card,
    answer: str,
    base: GradeResult,
    reply: Reply,
    *,
    directives: Sequence[Directive] = (),
    ceiling: int | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> Merged:
    """Verify ``reply`` against ``answer`` and add its verified credit to ``base``'s points.

    ``directives`` are the answer's grader-directed spans; ``ceiling`` the highest score
    that LLM credit may reach (the fuzzy-only score + 1 when there are directives).
    """
    fuzzy = base
    points = list(base.points)
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

    coverage, score = rescore(points, fuzzy, strictness=strictness, thresholds=thresholds)
    warnings: list[str] = []
    if ceiling is not None:
        capped = False
        # Revert the least related upgrades first until the score is within the ceiling.
        for _, i, previous in sorted(upgrades, key=lambda u: (u[0], -u[1])):
            if score <= ceiling:
                break
            points[i] = previous
            capped = True
            coverage, score = rescore(points, fuzzy, strictness=strictness, thresholds=thresholds)
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
