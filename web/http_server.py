"""The HTTP protocol that ``flashgrade serve`` runs uvicorn with: httptools, plus two limits
on a request's head (its request line and headers) that uvicorn does not have.

uvicorn's httptools protocol buffers headers without bound, and nothing times out a client
that opens a connection and sends its headers a byte at a time, or never (uvicorn's
``timeout_keep_alive`` starts only once a response is complete; h11's
``h11_max_incomplete_event_size`` caps the head only with the slower h11 protocol). Here a
head larger than ``max_head_bytes`` gets 431 and one not complete within ``head_timeout``
seconds of its first byte (or of the connection, for the first request) gets 408; either
closes the connection.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _response(status: str, message: str) -> bytes:
    body = message.encode("ascii")
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode("ascii") + body


TOO_LARGE = _response("431 Request Header Fields Too Large", "Request headers too large.")
TOO_SLOW = _response("408 Request Timeout", "Request headers not received in time.")


class HeadTooLarge(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a size limit and a deadline on each request's head."""

    def __init__(self, *args: Any, max_head_bytes: int, head_timeout: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.max_head_bytes = max_head_bytes
        self.head_timeout = head_timeout
        self._in_head = True  # between requests, or reading one's head
        self._head_bytes = 0  # received for this head (counted a read at a time: the
        # limit may be passed by the rest of the read that passes it, no more)
        self._head_timer: asyncio.TimerHandle | None = None
        self._read = 0  # bytes of the read being parsed

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._read = len(data)
        if self._in_head:
            if self._head_timer is None:
                self._arm()  # the first bytes of a request on a kept-alive connection
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.max_head_bytes:
            self._refuse(TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._disarm()
        # A head that came whole in one read was not counted above: its parsed size instead,
        # unless the bytes it can have come in are within the limit anyway (the usual case)
        if self._head_bytes + self._read > self.max_head_bytes and (
            len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
            > self.max_head_bytes
        ):
            self._refuse(TOO_LARGE)
            raise HeadTooLarge  # stops the parser: the request never reaches the app
        self._in_head, self._head_bytes = False, 0
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if not self.transport.is_closing():  # not after a 431 or 408 of ours
            super().send_400_response(msg)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True  # what comes next is the head of the next request

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._in_head:
            # a connection that sent nothing is just closed (browsers open spare ones)
            self._refuse(TOO_SLOW if self._head_bytes else b"")

    def _refuse(self, response: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            if response:
                self.transport.write(response)
            self.transport.close()


def protocol(*, max_head_bytes: int, head_timeout: float) -> type[asyncio.Protocol]:
    """The protocol for uvicorn's ``http`` option. A partial, not a class: uvicorn only calls
    it, and a partial of a module-level class pickles into ``--workers`` processes."""
    limited = partial(
        LimitedHttpToolsProtocol, max_head_bytes=max_head_bytes, head_timeout=head_timeout
    )
    return cast(type[asyncio.Protocol], limited)
