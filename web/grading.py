"""Offline grading off the event loop: by meaning in a thread, by words in a process pool.

The semantic matcher spends its time in the embedding model's C engine, which runs without
the GIL: it grades in a thread of the server process, whose one model serves every answer.
Fuzzy grading is pure-Python CPU work (about a millisecond per answer, far more for long
ones): on the event loop it would stall every other request, and in a thread it would still
hold the GIL. ``workers`` processes of a ``ProcessPoolExecutor`` grade instead (started on
the first answer; each prepares a card's terms the first time it sees the card, so nothing
waits for a whole deck to be prepared). ``workers=0`` grades in the server process: short
answers inline, long ones in a thread. More throughput comes from ``serve --workers N``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from starlette.concurrency import run_in_threadpool

from grader import Card, GradeResult, grade
from grader.embedding import Embedder, EmbeddingUnavailable, load_embedder

log = logging.getLogger(__name__)

# Without workers, answers up to this long are graded inline; longer ones in a thread.
INLINE_GRADE_CHARS = 2000


def grade_one(card: Card, answer: str, strictness: str) -> GradeResult:
    """The fuzzy grade of ``answer`` (what a pool worker runs)."""
    return grade(card, answer, matcher="fuzzy", strictness=strictness)  # type: ignore[arg-type]


def load_matcher(matcher: str, model: str | None, threads: int) -> Embedder | None:
    """The embedding model that ``matcher`` grades with (None: fuzzy). ``auto`` without a
    usable model logs why, once, and grades by words; ``semantic`` raises
    :class:`EmbeddingUnavailable`."""
    if matcher == "fuzzy":
        return None
    try:
        return load_embedder(model, threads=threads)
    except EmbeddingUnavailable as exc:
        if matcher == "semantic":
            raise
        log.warning("%s: grading with the fuzzy matcher", exc)
        return None


class OfflineGrader:
    """Grades answers by meaning with ``embedder`` in a thread, or else by words in
    ``workers`` processes (0: in-process)."""

    def __init__(self, *, workers: int, strictness: str, embedder: Embedder | None = None) -> None:
        self.workers = workers
        self.strictness = strictness
        self.embedder = embedder
        self.method = "semantic" if embedder is not None else "fuzzy"
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the server process has threads (a fork would copy their locks)
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context)
        return self._pool

    def grade_here(self, card: Card, answer: str) -> GradeResult:
        """Grade in this process, with this grader's matcher."""
        return grade(
            card,
            answer,
            matcher=self.method,  # type: ignore[arg-type]
            embedder=self.embedder,
            strictness=self.strictness,  # type: ignore[arg-type]
        )

    async def grade(self, card: Card, answer: str) -> GradeResult:
        """The offline grade of ``answer``, computed off the event loop."""
        if self.embedder is not None:
            return await run_in_threadpool(self.grade_here, card, answer)
        if self.workers:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(
                    self._executor(), grade_one, card, answer, self.strictness
                )
            except BrokenProcessPool as exc:  # a worker died: a new pool for the next answer
                log.warning("grading in the server process: %s", exc)
                self._pool = None
        if len(answer) <= INLINE_GRADE_CHARS:
            return grade_one(card, answer, self.strictness)
        return await run_in_threadpool(grade_one, card, answer, self.strictness)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, cancel_futures=True)
