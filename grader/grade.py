"""grade(): fuzzy coverage first, then the LLM rubric where a client is given, merged."""

from __future__ import annotations

import inspect
from typing import Any

from grader.cards import Card
from grader.coverage import assess
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


def grade(
    card: Card,
    answer: str,
    *,
    llm: Any | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade ``answer`` against ``card``: fuzzy only, or with ``llm`` (falls back to fuzzy)."""
    result = fuzzy_grade(card, answer, strictness=strictness, thresholds=thresholds)
    if llm is None:
        return result
    from grader import llm_grade  # the LLM rubric is optional: loaded only when used

    run = llm_grade.Run(card, answer, llm, strictness=strictness, thresholds=thresholds)
    run.fuzzy = result
    if run.skip:
        return run.fallback("the answer is empty")
    if inspect.iscoroutinefunction(getattr(llm, "complete", None)):
        return run.fallback("grade() was given an async client; use grade_async()")
    try:
        reply = llm.complete(run.messages, key=run.key, deadline=run.deadline)
    except Exception as exc:  # never fail because the LLM did
        return run.failed(exc)
    return run.finish(reply)


async def grade_async(
    card: Card,
    answer: str,
    *,
    llm: Any | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """The same as :func:`grade`, awaiting an async LLM client so the event loop stays free."""
    if llm is None:
        return fuzzy_grade(card, answer, strictness=strictness, thresholds=thresholds)
    import asyncio

    from grader import llm_grade

    run = llm_grade.Run(card, answer, llm, strictness=strictness, thresholds=thresholds)
    if run.skip:
        run.fuzzy = fuzzy_grade(card, answer, strictness=strictness, thresholds=thresholds)
        return run.fallback("the answer is empty")
    # Send the request first, then grade fuzzily while the model works.
    kwargs = {"key": run.key, "deadline": run.deadline}
    if inspect.iscoroutinefunction(getattr(llm, "complete", None)):
        request = asyncio.ensure_future(llm.complete(run.messages, **kwargs))
    else:  # a sync client: keep the event loop free all the same
        request = asyncio.ensure_future(asyncio.to_thread(llm.complete, run.messages, **kwargs))
    try:
        await asyncio.sleep(0)
        run.fuzzy = fuzzy_grade(card, answer, strictness=strictness, thresholds=thresholds)
    except BaseException:
        request.cancel()
        raise
    try:
        reply = await request
    except Exception as exc:  # never fail because the LLM did
        return run.failed(exc)
    return run.finish(reply)
