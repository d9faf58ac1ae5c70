"""One deadline for a whole HTTP exchange in the synchronous client.

httpx applies a timeout to each read, so a server that sends its reply a byte at a time
never trips it. The async client wraps the call in ``asyncio.timeout``; the sync one hooks
each response so that a body still arriving after the deadline of the call that asked for
it gives up (a context variable, set around each request).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpx2

_DEADLINE: ContextVar[float | None] = ContextVar("flashgrade_llm_deadline", default=None)


@contextmanager
def respond_by(at: float) -> Iterator[None]:
    """Requests sent in this block give up at ``at`` (``time.monotonic()`` seconds)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def cut_off_late_body(response: httpx2.Response) -> None:
    """A response hook: the body of ``response`` gives up at the deadline in force when it was
    asked for. (A hook, not a transport of our own, so that proxy settings still apply.)"""
    at = _DEADLINE.get()
    if at is not None and isinstance(response.stream, httpx2.SyncByteStream):
        response.stream = _Body(response.stream, at, response.request)


class _Body(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, at: float, request: httpx2.Request) -> None:
        self.inner, self.at, self.request = inner, at, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if time.monotonic() > self.at:
                raise httpx2.ReadTimeout("the reply was still arriving", request=self.request)
            yield chunk

    def close(self) -> None:
        self.inner.close()
