"""Offline grading off the event loop: by meaning in a thread, by words in worker processes.

The semantic matcher spends its time in the embedding model's C engine, which runs without
the GIL: it grades in a thread of the server process, whose one model serves every answer.
Fuzzy grading is pure-Python CPU work (about a millisecond per answer, far more for long
ones): on the event loop it would stall every other request, and in a thread it would still
hold the GIL. Each worker here is a child process (``python -m web.offline_grading``) fed over its
stdin/stdout pipes with length-prefixed pickles, driven by asyncio directly: a request costs
the server process tens of microseconds (``ProcessPoolExecutor`` costs ~0.4 ms).

``workers=0`` grades in the server process instead: short answers inline, long ones in a
thread. A worker that dies is replaced; the answers it held are graded in-process. So is a
worker that gives no grade within ``timeout`` seconds (stopped, swapped out, stuck): it is
killed, lest every answer queued behind it wait for ever.

Kept hand-built on measurement (tests/benchmarks/bench_http.py, README "Speed"): with a
standard ``ProcessPoolExecutor`` /api/grade answered less than half as many requests a second.
The workers hold every card from start-up (a request names its card by index) but prepare
each the first time they grade it, so nothing waits for a whole deck after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import itertools
import logging
import pickle
import struct
import sys
import time
from collections.abc import Iterable
from typing import Any, BinaryIO

from starlette.concurrency import run_in_threadpool

from grader import Card, GradeResult, PointResult, grade
from grader.embedding import Embedder
from grader.grade import resolve_matcher

log = logging.getLogger(__name__)

# Without workers, answers up to this long are graded inline; longer ones in a thread.
INLINE_GRADE_CHARS = 2000
_HEADER = struct.Struct("!I")
# Workers that keep dying are not restarted again and again: after MAX_DEATHS within
# DEATH_WINDOW seconds, grading stays in the server process until the window has passed.
MAX_DEATHS = 3
DEATH_WINDOW = 60
# A fuzzy grade takes milliseconds (a 20,000-character answer ~5 ms): a worker silent for
# this long is stalled, not busy
GRADE_TIMEOUT = 5.0


_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(GradeResult))
_POINT_FIELDS = tuple(f.name for f in dataclasses.fields(PointResult))


def encode(result: GradeResult) -> tuple[Any, ...]:
    """A GradeResult as plain tuples: pickling slotted dataclasses field by field through
    ``dataclasses``' own hooks costs several times more."""
    values = [getattr(result, name) for name in _RESULT_FIELDS]
    values[_RESULT_FIELDS.index("points")] = tuple(
        tuple(getattr(p, name) for name in _POINT_FIELDS) for p in result.points
    )
    return tuple(values)


def decode(values: tuple[Any, ...]) -> GradeResult:
    fields = dict(zip(_RESULT_FIELDS, values, strict=True))
    fields["points"] = tuple(PointResult(*p) for p in fields["points"])
    return GradeResult(**fields)


def grade_one(card: Card, answer: str, strictness: str) -> GradeResult:
    """The fuzzy grade of ``answer`` (what a worker runs)."""
    return grade(card, answer, matcher="fuzzy", strictness=strictness)  # type: ignore[arg-type]


def load_matcher(matcher: str, model: str | None, threads: int) -> Embedder | None:
    """The embedding model that ``matcher`` grades with (None: fuzzy). ``auto`` without a
    usable model logs why, once, and grades by words; ``semantic`` raises
    :class:`EmbeddingUnavailable`."""
    embedder, fallback = resolve_matcher(matcher, model=model, threads=threads)  # type: ignore[arg-type]
    if fallback:
        log.warning("%s", fallback)
    return embedder


class WorkerDied(RuntimeError):
    pass


class _Worker:
    """One child process and the answers it is grading."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pending: dict[int, asyncio.Future[GradeResult]] = {}
        self.outbox: list[bytes] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                (size,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                request_id, ok, payload = pickle.loads(await stdout.readexactly(size))
                future = self.pending.pop(request_id, None)
                if future is not None and not future.done():
                    if ok:
                        future.set_result(decode(payload))
                    else:
                        future.set_exception(RuntimeError(payload))
        except (asyncio.IncompleteReadError, ConnectionError, pickle.UnpicklingError):
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(WorkerDied("grading worker exited"))
            self.pending.clear()

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.reader.done()

    def submit(self, request_id: int, message: bytes) -> asyncio.Future[GradeResult]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[GradeResult] = loop.create_future()
        self.pending[request_id] = future
        if not self.outbox:  # requests of one loop iteration go in one write
            loop.call_soon(self._flush)
        self.outbox.append(_HEADER.pack(len(message)) + message)
        return future

    def _flush(self) -> None:
        data, self.outbox = b"".join(self.outbox), []
        stdin = self.process.stdin
        if stdin is not None and not stdin.is_closing():
            stdin.write(data)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()

    async def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()  # the worker exits at end of input
        try:
            await asyncio.wait_for(self.process.wait(), timeout=5)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        self.reader.cancel()


class OfflineGrader:
    """Grades answers by meaning with ``embedder`` in a thread, or else by words in
    ``workers`` child processes (0: in-process)."""

    def __init__(
        self,
        *,
        workers: int,
        strictness: str,
        embedder: Embedder | None = None,
        timeout: float = GRADE_TIMEOUT,
    ) -> None:
        self.workers = workers
        self.timeout = timeout  # seconds a worker has for a grade, its queue included
        self.strictness = strictness
        self.embedder = embedder
        self.method = "semantic" if embedder is not None else "fuzzy"
        self._pool: list[_Worker] = []
        self._cards: tuple[Card, ...] = ()
        self._index: dict[int, int] = {}  # id() of a card the workers hold -> its index
        self._ids = itertools.count()
        self._deaths: list[float] = []  # when workers died lately (monotonic seconds)
        self._revival: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, cards: Iterable[Card] = ()) -> None:
        """Start the workers, giving them ``cards`` (prepared when first graded)."""
        self._cards = tuple(cards)
        self._index = {id(card): i for i, card in enumerate(self._cards)}
        for _ in range(self.workers):
            self._pool.append(await self._spawn())

    async def _spawn(self) -> _Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "web.offline_grading",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        worker = _Worker(process)
        setup = pickle.dumps((self._cards, self.strictness), protocol=pickle.HIGHEST_PROTOCOL)
        assert process.stdin is not None
        process.stdin.write(_HEADER.pack(len(setup)) + setup)
        return worker

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
        worker = min(self._pool, key=lambda w: len(w.pending), default=None)
        if worker is not None:
            if not worker.alive:
                await self._replace(worker)
            else:
                request_id = next(self._ids)
                # a card the workers were given at start-up goes by its index (self._cards
                # keeps those objects alive, so their id() cannot be reused); others in full
                key: Card | int = self._index.get(id(card), card)
                message = pickle.dumps((request_id, key, answer), protocol=pickle.HIGHEST_PROTOCOL)
                try:
                    return await asyncio.wait_for(worker.submit(request_id, message), self.timeout)
                except TimeoutError:
                    log.error(
                        "a grading worker gave no grade within %g s: replacing it; grading "
                        "in the server process",
                        self.timeout,
                    )
                    self._retire(worker)
                    await self._replace(worker)
                    # off the event loop: the answer itself may be what stalled the worker
                    return await run_in_threadpool(grade_one, card, answer, self.strictness)
                except (WorkerDied, ConnectionError) as exc:
                    log.warning("grading in the server process: %s", exc)
                    await self._replace(worker)
                except RuntimeError as exc:  # the grader failed there: fail here, with a trace
                    log.warning("the grading worker failed (%s); grading in-process", exc)
        if len(answer) <= INLINE_GRADE_CHARS:
            return grade_one(card, answer, self.strictness)
        return await run_in_threadpool(grade_one, card, answer, self.strictness)

    async def _replace(self, worker: _Worker) -> None:
        """Start a new worker for a dead one, unless workers keep dying: after
        ``MAX_DEATHS`` in ``DEATH_WINDOW`` seconds, grade in-process until the window passes."""
        if worker not in self._pool:
            return
        self._pool.remove(worker)
        now = time.monotonic()
        self._deaths = [t for t in self._deaths if now - t < DEATH_WINDOW] + [now]
        status = worker.process.returncode
        if len(self._deaths) >= MAX_DEATHS:
            log.error(
                "grading workers keep dying (last exit status %s); grading in the server "
                "process for %d s",
                status,
                DEATH_WINDOW,
            )
            if self._revival is None:
                self._revival = asyncio.get_running_loop().call_later(DEATH_WINDOW, self._revive)
            return
        self._pool.append(await self._spawn())
        log.warning("replaced a grading worker (exit status %s)", status)

    def _retire(self, worker: _Worker) -> None:
        """Kill a stalled worker (the answers it holds are graded in-process) and reap it."""
        worker.kill()
        task = asyncio.get_running_loop().create_task(worker.close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _revive(self) -> None:
        self._revival = None
        self._deaths.clear()
        for _ in range(self.workers - len(self._pool)):
            task = asyncio.get_running_loop().create_task(self._respawn())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _respawn(self) -> None:
        try:
            self._pool.append(await self._spawn())
        except OSError as exc:
            log.error("cannot start a grading worker: %s", exc)

    async def close(self) -> None:
        if self._revival is not None:
            self._revival.cancel()
            self._revival = None
        for task in list(self._tasks):
            task.cancel()
        pool, self._pool = self._pool, []
        await asyncio.gather(*(w.close() for w in pool), return_exceptions=True)


# --- the worker process -------------------------------------------------------------------


def _read_frame(stream: BinaryIO) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Grade answers from ``stdin`` until it closes; replies go to ``stdout``."""
    setup = _read_frame(stdin)
    if setup is None:
        return
    cards, strictness = setup  # prepared lazily, each the first time it is graded
    gc.collect()
    gc.freeze()  # the cards and the grader's prepared terms live as long as the worker
    while (request := _read_frame(stdin)) is not None:
        request_id, card, answer = request
        if isinstance(card, int):  # the index of a card sent at start-up
            card = cards[card]
        reply: tuple[Any, bool, Any]
        try:
            reply = (request_id, True, encode(grade_one(card, answer, strictness)))
        except Exception as exc:  # reported to the server, which grades in-process instead
            reply = (request_id, False, f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        stdout.write(_HEADER.pack(len(data)) + data)
        stdout.flush()


if __name__ == "__main__":
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print() must not corrupt the replies
    serve(sys.stdin.buffer, replies)
