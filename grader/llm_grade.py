"""The LLM branch of grade() and grade_async(): one grading call, from prompt to merged result.

Shared by the sync and async paths, which differ only in how they await the client. Every
failure ends in the fuzzy grade with a warning that says why.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from grader.cards import Card
from grader.guard import find_directives
from grader.result import GradeResult
from grader.rubric import PROMPT_VERSION, ReplyError, cache_key, messages, parse_reply
from grader.scoring import Strictness, Thresholds
from grader.verify import blank, directive_warning, merge

_NO_MATCH = "the answer matches none of the reference points"
log = logging.getLogger(__name__)


class Run:
    """The state of one LLM-assisted grading: prompt, cache key, deadline and fuzzy result."""

    def __init__(
        self,
        card: Card,
        answer: str,
        llm: Any,
        *,
        strictness: Strictness,
        thresholds: Thresholds | None,
    ) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + float(llm.timeout)  # one budget for the whole call
        self.card, self.answer, self.llm = card, answer, llm
        self.strictness, self.thresholds = strictness, thresholds
        self.skip = not answer.strip()
        self.messages = [] if self.skip else messages(card, answer)
        self.key = cache_key(card, answer, model=str(llm.model))
        self.directives = find_directives(answer)
        self._fuzzy: GradeResult | None = None
        self._base: GradeResult | None = None

    @property
    def fuzzy(self) -> GradeResult:
        """The fuzzy-only grade of the answer (set by the caller, maybe while the LLM works)."""
        if self._fuzzy is None:
            raise RuntimeError("Run.fuzzy is not set")
        return self._fuzzy

    @fuzzy.setter
    def fuzzy(self, result: GradeResult) -> None:
        self._fuzzy, self._base = result, None

    @property
    def version(self) -> str:
        return f"{self.fuzzy.grader_version}+prompt.{PROMPT_VERSION}"

    @property
    def base(self) -> GradeResult:
        """What the LLM may add to: the fuzzy grade, without grader-directed text."""
        if self._base is None:
            self._base = self._guarded() if self.directives else self.fuzzy
        return self._base

    def _guarded(self) -> GradeResult:
        """The fuzzy grade with the grader-directed text blanked out: it earns nothing."""
        from grader.grade import fuzzy_grade

        guarded = fuzzy_grade(
            self.card,
            blank(self.answer, self.directives),
            strictness=self.strictness,
            thresholds=self.thresholds,
        )
        # Blanking keeps every offset, so the evidence spans still index the real answer.
        warnings = (*self.fuzzy.warnings, directive_warning(self.directives))
        return replace(guarded, warnings=warnings)

    def _usage(self, reply: Any | None) -> dict[str, Any]:
        if reply is not None:
            usage: dict[str, Any] = reply.usage()
            return usage
        elapsed = round((time.monotonic() - self.started) * 1000)
        return {
            "model": str(self.llm.model),
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "latency_ms": elapsed,
            "cached": False,
        }

    def fallback(
        self, reason: str, *, reply: Any | None = None, extra: tuple[str, ...] = ()
    ) -> GradeResult:
        """The fuzzy grade (grader-directed text still earning nothing), saying why."""
        result = self.base
        warnings = (
            *result.warnings,
            *extra,
            f"fuzzy grade: the LLM rubric was not used ({reason})",
        )
        return replace(
            result,
            warnings=tuple(dict.fromkeys(warnings)),
            grader_version=self.version,
            llm_usage=None if self.skip else self._usage(reply),
        )

    def failed(self, exc: Exception) -> GradeResult:
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
        try:
            parsed = parse_reply(reply.content, self.card)
        except ReplyError as exc:
            return self.fallback(f"unusable reply: {exc}", reply=reply)
        merged = merge(
            self.card,
            self.answer,
            self.base,
            parsed,
            directives=self.directives,
            # within one level of the fuzzy grade, the lower of with/without the directives
            ceiling=min(self.fuzzy.score, self.base.score) + 1 if self.directives else None,
            strictness=self.strictness,
            thresholds=self.thresholds,
        )
        store = getattr(self.llm, "store", None)
        if store is not None:
            store(self.key, reply)  # a valid reply: the same request is never sent again
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
