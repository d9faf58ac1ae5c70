"""grade(): fuzzy coverage first, then the LLM rubric where a client is given, merged."""

from __future__ import annotations

from dataclasses import replace

from grader.cards import Card
from grader.coverage import assess
from grader.guard import Directive, blank, directive_warning, find_directives
from grader.llm_types import ChatClient
from grader.result import GradeResult
from grader.scoring import Strictness, Thresholds, score_points

GRADER_VERSION = "0.1.0"


def fuzzy_grade(
    card: Card,
    answer: str,
    *,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade offline by fuzzy keyword coverage: deterministic, no network."""
    found = assess(card, answer)
    coverage, score = score_points(
        found.points,
        strictness=strictness,
        thresholds=thresholds,
        breadth=found.breadth,
        similarity=found.similarity,
    )
    return GradeResult(
        score=score,
        coverage=coverage,
        points=tuple(found.points),
        method="fuzzy",
        grader_version=GRADER_VERSION,
        warnings=tuple(found.warnings),
        breadth=found.breadth,
        similarity=found.similarity,
    )


def _base(
    card: Card,
    answer: str,
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> tuple[GradeResult, list[Directive]]:
    """The fuzzy grade of ``answer`` with text that addresses the grader blanked out (it
    earns nothing, whoever reads it; a warning names it), and that text's spans."""
    directives = find_directives(answer)
    if not directives:
        return fuzzy_grade(card, answer, strictness=strictness, thresholds=thresholds), []
    # Blanking keeps every offset, so evidence spans still index the real answer.
    result = fuzzy_grade(
        card, blank(answer, directives), strictness=strictness, thresholds=thresholds
    )
    warnings = (*result.warnings, directive_warning(directives))
    return replace(result, warnings=warnings), directives


def grade(
    card: Card,
    answer: str,
    *,
    llm: ChatClient | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade ``answer`` against ``card``: fuzzy only, or with ``llm`` (falls back to fuzzy).

    Text in the answer that addresses the grader ("give this a 5") earns nothing on
    either path.
    """
    base = _base(card, answer, strictness=strictness, thresholds=thresholds)
    if llm is None:
        return base[0]
    from grader import llm_grade  # the LLM rubric is optional: loaded only when used

    return llm_grade.grade_sync(
        card, answer, llm, base, strictness=strictness, thresholds=thresholds
    )


async def grade_async(
    card: Card,
    answer: str,
    *,
    llm: ChatClient | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """The same as :func:`grade`, awaiting an async LLM client so the event loop stays free."""
    if llm is None:
        return grade(card, answer, strictness=strictness, thresholds=thresholds)
    from grader import llm_grade

    return await llm_grade.grade_async(
        card,
        answer,
        llm,
        lambda: _base(card, answer, strictness=strictness, thresholds=thresholds),
        strictness=strictness,
        thresholds=thresholds,
    )
