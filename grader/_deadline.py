"""One deadline for a whole HTTP exchange in the synchronous client.

httpx applies a timeout to each read, so a server that sends its reply a byte at a time
never trips it. The async client wraps the call in ``asyncio.timeout``; the sync one uses
this transport, which gives up on a body still arriving after the deadline of the call
that asked for it (a context variable, set around each request).
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


class DeadlineTransport(httpx2.BaseTransport):
    """``inner``, with each response body cut off at the deadline in force when sent."""

    def __init__(self, inner: httpx2.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        at = _DEADLINE.get()
        if at is not None and isinstance(response.stream, httpx2.SyncByteStream):
            response.stream = _Body(response.stream, at, request)
        return response

    def close(self) -> None:
        self.inner.close()


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
