"""The LLM branch of grade() and grade_async(): one grading call, from prompt to merged result.

Shared by the sync and async paths, which differ only in how they await the client. Every
failure, including a bug here or text that cannot be encoded, ends in the fuzzy grade with
a warning that says why: grading never fails because of the LLM.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from grader.cards import Card
from grader.guard import Directive
from grader.llm_types import ChatClient, LLMReply, MemoryCache
from grader.result import GradeResult
from grader.rubric import PROMPT_VERSION, ReplyError, cache_key, messages, parse_reply
from grader.scoring import Strictness, Thresholds
from grader.verify import merge

_NO_MATCH = "the answer matches none of the reference points"
_SURROGATE = re.compile("[\ud800-\udfff]")
log = logging.getLogger(__name__)

# The fuzzy grade of the answer with grader-directed text blanked, and those spans.
Base = tuple[GradeResult, Sequence[Directive]]


class Run:
    """The state of one LLM-assisted grading: prompt, cache key, deadline and fuzzy result."""

    def __init__(
        self,
        card: Card,
        answer: str,
        llm: ChatClient,
        *,
        strictness: Strictness,
        thresholds: Thresholds | None,
    ) -> None:
        self.started = time.monotonic()
        self.card, self.answer, self.llm = card, answer, llm
        self.strictness, self.thresholds = strictness, thresholds
        self.model = str(getattr(llm, "model", "?"))
        self.skip = not answer.strip()
        self.deadline = self.started + _timeout(llm)  # one budget for the whole call
        # Text that is not valid Unicode (lone surrogates from undecodable bytes) is sent
        # and keyed with U+FFFD in their place.
        sent = _SURROGATE.sub("\ufffd", answer)
        self.messages = [] if self.skip else messages(card, sent)
        endpoint = getattr(llm, "base_url", None)
        self.key = cache_key(card, sent, model=self.model, endpoint=endpoint and str(endpoint))
        self.base: GradeResult | None = None
        self.directives: Sequence[Directive] = ()
        self.valid: LLMReply | None = None  # a reply that proved valid: worth caching

    def set_base(self, base: Base) -> None:
        self.base, self.directives = base

    @property
    def version(self) -> str:
        assert self.base is not None
        return f"{self.base.grader_version}+prompt.{PROMPT_VERSION}"

    def _usage(self, reply: Any | None) -> dict[str, Any]:
        if reply is not None and callable(getattr(reply, "usage", None)):
            usage: dict[str, Any] = reply.usage()
            return usage
        elapsed = round((time.monotonic() - self.started) * 1000)
        return {
            "model": self.model,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "latency_ms": elapsed,
            "cached": False,
        }

    def fallback(
        self, reason: str, *, reply: Any | None = None, extra: tuple[str, ...] = ()
    ) -> GradeResult:
        """The fuzzy grade (grader-directed text still earning nothing), saying why."""
        assert self.base is not None
        warnings = (
            *self.base.warnings,
            *extra,
            f"{self.base.method} grade: the LLM rubric was not used ({reason})",
        )
        return replace(
            self.base,
            warnings=tuple(dict.fromkeys(warnings)),
            grader_version=self.version,
            llm_usage=None if self.skip else self._usage(reply),
        )

    def failed(self, exc: BaseException) -> GradeResult:
        """The fallback for an endpoint failure (timeout, connection, HTTP error, refusal)."""
        from grader.llm import LLMError

        reason = str(exc) if isinstance(exc, LLMError) else f"unexpected {type(exc).__name__}"
        return self.fallback(reason)

    def finish(self, reply: Any) -> GradeResult:
        """Validate and verify the reply, merge it with the fuzzy statuses, score in code."""
        try:
            return self._finish(reply)
        except Exception as exc:  # a bug here must not cost the person their grade
            log.exception("LLM rubric: the reply could not be used")
            return self.fallback(f"internal error: {type(exc).__name__}")

    def _finish(self, reply: Any) -> GradeResult:
        assert self.base is not None
        try:
            parsed = parse_reply(str(reply.content), self.card)
        except ReplyError as exc:
            return self.fallback(f"unusable reply: {exc}", reply=reply)
        merged = merge(
            self.card,
            self.answer,
            self.base,
            parsed,
            directives=self.directives,
            strictness=self.strictness,
            thresholds=self.thresholds,
        )
        self.valid = reply  # a valid reply: the same request is never sent again
        if not merged.used:
            return self.fallback(
                "none of its verdicts could be verified", reply=reply, extra=merged.warnings
            )
        fuzzy_warnings = self.base.warnings
        if any(p.status != "missing" for p in merged.points):
            fuzzy_warnings = tuple(w for w in fuzzy_warnings if not w.startswith(_NO_MATCH))
        return replace(
            self.base,
            score=merged.score,
            coverage=merged.coverage,
            points=merged.points,
            method="llm",
            grader_version=self.version,
            warnings=(*fuzzy_warnings, *merged.warnings),
            incorrect=merged.incorrect,
            llm_usage=self._usage(reply),
        )


def _timeout(llm: Any) -> float:
    timeout = float(getattr(llm, "timeout", 0) or 0)
    if not 0 < timeout < float("inf"):
        raise ValueError(f"the client's timeout is not a positive number: {timeout!r}")
    return timeout


def _store(llm: Any, run: Run) -> None:
    store = getattr(llm, "store", None)
    if run.valid is not None and callable(store):
        try:
            store(run.key, run.valid)
        except Exception:  # a cache that cannot be written costs a request later, no more
            log.exception("LLM rubric: the reply could not be cached")


def _broken(base: Base, exc: BaseException) -> GradeResult:
    """The fuzzy grade when the LLM call could not even be prepared."""
    log.exception("LLM rubric: the request could not be prepared")
    result = base[0]
    reason = (
        f"{result.method} grade: the LLM rubric was not used (internal error: {type(exc).__name__})"
    )
    return replace(result, warnings=(*result.warnings, reason))


def grade_sync(
    card: Card,
    answer: str,
    llm: ChatClient,
    base: Base,
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> GradeResult:
    """grade() with a client: ``base`` is the fuzzy grade to add to or fall back on."""
    try:
        run = Run(card, answer, llm, strictness=strictness, thresholds=thresholds)
    except Exception as exc:
        return _broken(base, exc)
    run.set_base(base)
    if run.skip:
        return run.fallback("the answer is empty")
    if inspect.iscoroutinefunction(getattr(llm, "complete", None)):
        return run.fallback("grade() was given an async client; use grade_async()")
    try:
        reply = llm.complete(run.messages, key=run.key, deadline=run.deadline)
    except Exception as exc:  # never fail because the LLM did
        return run.failed(exc)
    result = run.finish(reply)
    _store(llm, run)
    return result


async def grade_async(
    card: Card,
    answer: str,
    llm: ChatClient,
    base: Callable[[], Base],
    *,
    strictness: Strictness,
    thresholds: Thresholds | None,
) -> GradeResult:
    """grade_async() with a client: sends the request, then computes ``base()`` (the offline
    grade, in a thread: by meaning it takes a while) while the model works, so the person
    waits for one of them only."""
    try:
        run = Run(card, answer, llm, strictness=strictness, thresholds=thresholds)
    except Exception as exc:
        return _broken(base(), exc)
    if run.skip:
        run.set_base(base())
        return run.fallback("the answer is empty")
    if inspect.iscoroutinefunction(getattr(llm, "complete", None)):
        request = asyncio.ensure_future(
            llm.complete(run.messages, key=run.key, deadline=run.deadline)
        )
    else:  # a sync client: keep the event loop free all the same
        request = asyncio.ensure_future(
            asyncio.to_thread(llm.complete, run.messages, key=run.key, deadline=run.deadline)
        )
    try:
        run.set_base(await asyncio.to_thread(base))
    except BaseException:
        request.cancel()
        raise
    try:
        reply = await request
    except Exception as exc:  # never fail because the LLM did
        return run.failed(exc)
    result = run.finish(reply)
    if run.valid is not None:
        astore = getattr(llm, "astore", None)
        if callable(astore):
            try:
                await astore(run.key, run.valid)
            except Exception:
                log.exception("LLM rubric: the reply could not be cached")
        elif isinstance(getattr(llm, "cache", None), MemoryCache | None):
            _store(llm, run)
        else:  # a database or other blocking cache: off the event loop
            await asyncio.to_thread(_store, llm, run)
    return result
