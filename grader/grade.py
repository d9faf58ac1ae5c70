"""grade(): fuzzy coverage first, then the LLM rubric where a client is given, merged."""

from __future__ import annotations

from typing import Any

from grader.cards import Card
from grader.result import GradeResult

GRADER_VERSION = "0.1.0"


def grade(
    card: Card,
    answer: str,
    *,
    llm: Any | None = None,
    strictness: str = "normal",
) -> GradeResult:
    """Grade ``answer`` against ``card``: fuzzy only, or with ``llm`` (falls back to fuzzy)."""
    raise NotImplementedError


async def grade_async(
    card: Card,
    answer: str,
    *,
    llm: Any | None = None,
    strictness: str = "normal",
) -> GradeResult:
    """The same as :func:`grade`, awaiting an async LLM client so the event loop stays free."""
    return grade(card, answer, strictness=strictness)
