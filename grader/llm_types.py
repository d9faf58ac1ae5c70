"""Plain types of the LLM clients: the client and cache protocols, the reply, the in-memory LRU."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol


class ChatClient(Protocol):
    """What grade() needs of an LLM client (``grader.llm.LLMClient`` or ``AsyncLLMClient``).

    ``complete`` returns an :class:`LLMReply`, or a coroutine of one for an async client.
    A client may also have ``base_url`` (part of the cache key) and ``store(key, reply)``
    (or ``async astore``) to keep a reply that proved valid.
    """

    @property
    def model(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        key: str | None = None,
        deadline: float | None = None,
    ) -> Any: ...


class LLMCache(Protocol):
    """Where replies are kept: the CLI's memory, or the web app's database."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryCache:
    """A thread-safe in-memory LRU cache."""

    def __init__(self, maxsize: int = 2048) -> None:
        self._data: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def get(self, key: str) -> str | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: str) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)


@dataclass(frozen=True, slots=True)
class LLMReply:
    """The text of one completion, with what it cost."""

    content: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    cached: bool = False
    mode: str = "json_schema"

    def usage(self) -> dict[str, Any]:
        """The ``llm_usage`` of a result."""
        return {
            "model": self.model,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "latency_ms": self.latency_ms,
            "cached": self.cached,
        }
