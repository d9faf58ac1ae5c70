"""grade(): the offline matcher first, then the LLM rubric where a client is given, merged."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import replace
from functools import partial
from typing import Literal

from grader import coverage, semantic
from grader.cards import Card
from grader.embedding import (
    DEFAULT_THREADS,
    Embedder,
    EmbeddingUnavailable,
    default_embedder,
    load_embedder,
)
from grader.guard import Directive, blank, directive_warning, find_directives
from grader.llm_types import ChatClient
from grader.result import GradeResult, Method
from grader.scoring import Strictness, Thresholds, score_points, thresholds_for
from grader.terms import prepare

GRADER_VERSION = "0.2.0"

Matcher = Literal["auto", "fuzzy", "semantic"]
MATCHERS: tuple[Matcher, ...] = ("auto", "fuzzy", "semantic")
MATCHER_ENV = "FLASHGRADE_MATCHER"
log = logging.getLogger("grader")
_warned = threading.Event()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    with _warned_lock:
        if _warned.is_set():
            return
        _warned.set()
    log.warning("%s", message)


def default_matcher() -> Matcher:
    """``FLASHGRADE_MATCHER``, else ``auto``."""
    value = os.environ.get(MATCHER_ENV, "").strip() or "auto"
    if value not in MATCHERS:
        raise ValueError(f"{MATCHER_ENV} must be auto, fuzzy or semantic, not {value!r}")
    return value


def resolve_matcher(
    matcher: Matcher | None = None, *, model: str | None = None, threads: int | None = None
) -> tuple[Embedder | None, str | None]:
    """The embedding model that ``matcher`` (None: :func:`default_matcher`) grades with
    (None: fuzzy), and why ``auto`` falls back to fuzzy, if it does. ``semantic`` without
    its model raises :class:`~grader.embedding.EmbeddingUnavailable`. The model is
    ``model`` on ``threads`` where given (the CLI's and web app's settings), else the
    environment's (:func:`~grader.embedding.default_embedder`)."""
    matcher = matcher or default_matcher()
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be auto, fuzzy or semantic, not {matcher!r}")
    if matcher == "fuzzy":
        return None, None
    try:
        if model is None and threads is None:
            return default_embedder(), None
        return load_embedder(model, threads=threads or DEFAULT_THREADS), None
    except EmbeddingUnavailable as exc:
        if matcher == "semantic":
            raise
        return None, f"{exc}: grading with the fuzzy matcher"


def offline_grade(
    card: Card,
    answer: str,
    *,
    matcher: Matcher | None = None,
    embedder: Embedder | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade without the network: by meaning and words (``semantic``, with ``embedder`` or
    the default model), or by words alone (``fuzzy``); ``auto`` is semantic where the model
    is installed, else fuzzy, and says so once in the log. ``matcher`` defaults to
    ``FLASHGRADE_MATCHER``, else ``auto``."""
    matcher = matcher or (default_matcher() if embedder is None else "semantic")
    if matcher not in MATCHERS:
        raise ValueError(f"matcher must be auto, fuzzy or semantic, not {matcher!r}")
    if embedder is None and matcher != "fuzzy":
        embedder, fallback = resolve_matcher(matcher)
        if fallback:
            _warn_once(fallback)
    if embedder is None or matcher == "fuzzy":
        found = coverage.assess(card, answer)
    else:
        found = semantic.assess(card, answer, embedder)
    # what really graded: a card of one or two points is graded by words even by semantic
    method: Method = "semantic" if found.matcher == "semantic" else "fuzzy"
    thresholds = thresholds or thresholds_for(method, sectioned=prepare(card).sectioned)
    coverage_, score = score_points(
        found.points,
        strictness=strictness,
        thresholds=thresholds,
        breadth=found.breadth,
        similarity=found.similarity,
    )
    return GradeResult(
        score=score,
        coverage=coverage_,
        points=tuple(found.points),
        method=method,
        grader_version=GRADER_VERSION,
        warnings=tuple(found.warnings),
        breadth=found.breadth,
        similarity=found.similarity,
        thresholds=thresholds,
    )


def fuzzy_grade(
    card: Card,
    answer: str,
    *,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade offline by fuzzy keyword coverage: deterministic, no network, about 1 ms."""
    return offline_grade(
        card, answer, matcher="fuzzy", strictness=strictness, thresholds=thresholds
    )


def _base(
    card: Card,
    answer: str,
    *,
    matcher: Matcher | None,
    embedder: Embedder | None,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> tuple[GradeResult, list[Directive]]:
    """The offline grade of ``answer`` with text that addresses the grader blanked out (it
    earns nothing, whoever reads it; a warning names it), and that text's spans."""
    directives = find_directives(answer)
    grade_offline = partial(
        offline_grade,
        card,
        matcher=matcher,
        embedder=embedder,
        strictness=strictness,
        thresholds=thresholds,
    )
    if not directives:
        return grade_offline(answer), []
    # Blanking keeps every offset, so evidence spans still index the real answer.
    result = grade_offline(blank(answer, directives))
    warnings = (*result.warnings, directive_warning(directives))
    return replace(result, warnings=warnings), directives


def grade(
    card: Card,
    answer: str,
    *,
    llm: ChatClient | None = None,
    matcher: Matcher | None = None,
    embedder: Embedder | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """Grade ``answer`` against ``card`` offline (``matcher``: ``auto``, ``fuzzy`` or
    ``semantic``, see :func:`offline_grade`), or with ``llm``, which starts from the offline
    grade and falls back to it.

    Text in the answer that addresses the grader ("give this a 5") earns nothing on
    either path.
    """
    base = _base(
        card,
        answer,
        matcher=matcher,
        embedder=embedder,
        strictness=strictness,
        thresholds=thresholds,
    )
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
    matcher: Matcher | None = None,
    embedder: Embedder | None = None,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> GradeResult:
    """The same as :func:`grade`, awaiting an async LLM client so the event loop stays free."""
    base = partial(
        _base,
        card,
        answer,
        matcher=matcher,
        embedder=embedder,
        strictness=strictness,
        thresholds=thresholds,
    )
    if llm is None:
        return (await asyncio.to_thread(base))[0]  # off the event loop: by meaning takes a while
    from grader import llm_grade

    return await llm_grade.grade_async(
        card, answer, llm, base, strictness=strictness, thresholds=thresholds
    )
