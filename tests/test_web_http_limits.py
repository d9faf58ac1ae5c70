"""The HTTP server's limits on a request's head (web/http_server.py): its size and the time a
client has to send it. Real sockets against a real uvicorn server."""

from __future__ import annotations

import pickle
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import free_port

from web.http_server import protocol

LIMIT = 4096
TIMEOUT = 1.0


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A tiny ASGI app: reads the body, answers 200 with its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[tuple[str, int]]:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        hello,
        port=port,
        lifespan="off",
        log_level="critical",
        access_log=False,
        http=protocol(max_head_bytes=LIMIT, head_timeout=TIMEOUT),
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield ("127.0.0.1", port)
    finally:
        uv.should_exit = True
        thread.join(10)


def connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> bytes:
    """One response (its head and a content-length body) on a connection kept open; the
    request must be the only one sent."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += _more(sock, data)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += _more(sock, data + body)
    return head + b"\r\n\r\n" + body


def _more(sock: socket.socket, so_far: bytes) -> bytes:
    chunk = sock.recv(65536)
    assert chunk, f"the server closed the connection after {so_far[:200]!r}"
    return chunk


def get(path: str = "/", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode()


def test_a_head_larger_than_the_limit_gets_431_and_the_connection_is_closed(server):
    with connect(server) as sock:
        sock.sendall(get(extra=f"X-Big: {'a' * LIMIT}\r\n"))
        reply = read_all(sock)
    assert reply.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"connection: close" in reply


def test_a_head_sent_a_little_at_a_time_past_the_limit_gets_431(server):
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        for _ in range(LIMIT // 512 + 1):
            sock.sendall(b"X-Pad: " + b"a" * 500 + b"\r\n")
            time.sleep(0.005)
        assert read_all(sock).startswith(b"HTTP/1.1 431 ")


def test_a_head_just_under_the_limit_is_served(server):
    with connect(server) as sock:
        sock.sendall(get(extra=f"X-Big: {'a' * (LIMIT - 200)}\r\n"))
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")


def test_a_body_larger_than_the_head_limit_is_not_the_head_and_is_served(server):
    body = b"x" * (LIMIT * 8)
    with connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert read_response(sock).endswith(b"\r\n\r\n" + str(len(body)).encode())


def test_a_head_not_complete_within_the_timeout_gets_408_and_the_connection_is_closed(server):
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\nHost: local")
        reply = read_all(sock)
        took = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert TIMEOUT - 0.05 <= took < TIMEOUT + 1.5  # asyncio may fire a timer a tick early


def test_a_connection_that_sends_nothing_is_closed_after_the_timeout(server):
    with connect(server) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        assert TIMEOUT - 0.05 <= time.monotonic() - started < TIMEOUT + 1.5


def test_a_kept_alive_connection_serves_requests_then_times_out_a_stalled_next_head(server):
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(get())
            assert read_response(sock).startswith(b"HTTP/1.1 200 ")
            time.sleep(TIMEOUT * 0.6)  # idle between requests is keep-alive's, not the head's
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 408 ")


def test_pipelined_requests_in_one_send_are_all_served(server):
    with connect(server) as sock:
        sock.sendall(get() * 2 + get(extra="Connection: close\r\n"))
        replies = read_all(sock)
    assert replies.count(b"HTTP/1.1 200 ") == 3 and b" 408 " not in replies


def test_the_protocol_pickles_into_the_processes_of_serve_workers():
    limited = pickle.loads(pickle.dumps(protocol(max_head_bytes=LIMIT, head_timeout=TIMEOUT)))
    assert limited.keywords == {"max_head_bytes": LIMIT, "head_timeout": TIMEOUT}  # type: ignore[attr-defined]
