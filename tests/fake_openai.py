"""A real HTTP server on 127.0.0.1 that speaks OpenAI's chat-completions protocol.

Tests script its behaviour per request: a behaviour is a function of the parsed request
(``Call``) that returns a ``Reply`` (status, JSON or text body, headers, delay). Helpers
build the common ones: verdicts computed from the prompt, malformed text, errors, delays,
refusals, servers that reject ``response_format``. Every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POINT_LINE = re.compile(r"^\[(\d+\.\d+)\] (.*)$", re.M)


@dataclass
class Call:
    """One request as the server saw it."""

    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def user(self) -> str:
        return str(self.body["messages"][-1]["content"])

    @property
    def points(self) -> dict[str, str]:
        """The reference points of the prompt, id -> text."""
        return dict(POINT_LINE.findall(self.user))

    @property
    def answer(self) -> str:
        text = self.user
        return text[text.index("<answer>") + len("<answer>") : text.rindex("</answer>")].strip()

    @property
    def format(self) -> str | None:
        fmt = self.body.get("response_format")
        return fmt.get("type") if isinstance(fmt, dict) else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Behaviour = Callable[[Call], Reply]


def completion(
    content: str | None,
    *,
    refusal: str | None = None,
    model: str = "fake",
    prompt_tokens: int = 120,
    completion_tokens: int = 40,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """A chat.completion object with one choice."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def content(text: str, **kw: Any) -> Behaviour:
    """Always answer with this message text (malformed JSON, prose, ...)."""
    return lambda call: Reply(body=completion(text), **kw)


def grader(
    decide: Callable[[Call], dict[str, tuple[str, str | None]]],
    *,
    incorrect: Callable[[Call], list[str]] | None = None,
    delay: float = 0.0,
) -> Behaviour:
    """Verdicts computed per request: ``decide`` maps point id -> (verdict, evidence);
    points it leaves out are reported missing."""

    def behaviour(call: Call) -> Reply:
        decided = decide(call)
        points = [
            {
                "id": pid,
                "verdict": decided.get(pid, ("missing", None))[0],
                "evidence": decided.get(pid, ("missing", None))[1],
            }
            for pid in call.points
        ]
        reply = {"points": points, "incorrect": incorrect(call) if incorrect else []}
        return Reply(body=completion(json.dumps(reply)), delay=delay)

    return behaviour


def verdicts(mapping: dict[str, tuple[str, str | None]], **kw: Any) -> Behaviour:
    """Fixed verdicts for some points; the others are missing."""
    return grader(lambda call: mapping, **kw)


def all_covered(quote: Callable[[Call, str], str] | str = "answer", **kw: Any) -> Behaviour:
    """A gullible or manipulated endpoint: every point covered, quoting ``quote``.

    ``quote`` is "answer" (the whole answer), "first" (its first sentence), "last" (its last
    sentence), "point" (the point's own text: fabricated) or a function (call, point id)."""

    def pick(call: Call, pid: str) -> str:
        if callable(quote):
            return quote(call, pid)
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|\n+", call.answer) if s.strip()] or [""]
        return {
            "answer": call.answer,
            "first": sentences[0],
            "last": sentences[-1],
            "point": call.points[pid],
        }[quote]

    return grader(lambda call: {pid: ("covered", pick(call, pid)) for pid in call.points}, **kw)


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) >= 4}


def keyword_grader(**kw: Any) -> Behaviour:
    """A plausible model: a point is covered by the answer sentence sharing two or more
    longer words with it (quoted verbatim), partial with one, else missing."""

    def decide(call: Call) -> dict[str, tuple[str, str | None]]:
        sentences = [s for s in re.split(r"(?<=[.!?;])\s+|\n+", call.answer) if s.strip()]
        out: dict[str, tuple[str, str | None]] = {}
        for pid, text in call.points.items():
            best = max(sentences, key=lambda s: len(_words(s) & _words(text)), default="")
            shared = len(_words(best) & _words(text))
            if shared:
                out[pid] = ("covered" if shared >= 2 else "partial", best.strip())
        return out

    return grader(decide, **kw)


def status(
    code: int,
    message: str = "error",
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> Behaviour:
    """An HTTP error with an OpenAI-style error body."""
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    }
    return lambda call: Reply(status=code, body=body, headers=headers or {})


def slow(seconds: float, then: Behaviour) -> Behaviour:
    """``then``, after a delay."""

    def behaviour(call: Call) -> Reply:
        reply = then(call)
        reply.delay = seconds
        return reply

    return behaviour


def refusal(text: str = "I'm sorry, but I can't help with that.") -> Behaviour:
    return lambda call: Reply(body=completion(None, refusal=text))


def rejects_formats(then: Behaviour, *, rejected: tuple[str, ...] = ("json_schema",)) -> Behaviour:
    """A server that answers 400 to the given ``response_format`` types, else ``then``."""

    def behaviour(call: Call) -> Reply:
        if call.format in rejected:
            return status(
                400,
                f"response_format type '{call.format}' is not supported by this server",
                param="response_format",
            )(call)
        return then(call)

    return behaviour


class FakeOpenAI:
    """The server: ``url`` is its base URL (``.../v1``); set ``script`` to steer it."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.queue: list[Behaviour] = []  # used first, one per request
        self.behaviour: Behaviour = content("{}")  # then this, for every request
        self._stop = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(Reply(404, {"error": {"message": "not found"}}))
                    return
                call = Call(json.loads(raw), {k.lower(): v for k, v in self.headers.items()})
                with fake._lock:
                    fake.calls.append(call)
                    behaviour = fake.queue.pop(0) if fake.queue else fake.behaviour
                reply = behaviour(call)
                if reply.delay and fake._stop.wait(reply.delay):
                    return
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                body = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = body.encode("utf-8")
                try:
                    self.send_response(reply.status)
                    ctype = "application/json" if not isinstance(reply.body, str) else "text/plain"
                    self.send_header("content-type", ctype)
                    self.send_header("content-length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False
            request_queue_size = 512  # 100+ connections at once in the benchmark

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def script(self, *behaviours: Behaviour, then: Behaviour | None = None) -> None:
        """Answer the next requests with ``behaviours`` in turn, then with ``then``
        (default: the last of ``behaviours``)."""
        with self._lock:
            self.queue = list(behaviours[:-1]) if then is None else list(behaviours)
            self.behaviour = behaviours[-1] if then is None else then

    @property
    def count(self) -> int:
        return len(self.calls)

    def start(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running() -> Iterator[FakeOpenAI]:
    """A started server, stopped on exit."""
    fake = FakeOpenAI().start()
    try:
        yield fake
    finally:
        fake.stop()
