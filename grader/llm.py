"""OpenAI-compatible chat-completions clients: retries, one deadline, response formats, cache.

``LLMClient`` (sync, thread-safe) serves the CLI and ``eval``; ``AsyncLLMClient`` serves the
web app so that waiting on the model never blocks other requests. The SDK's own retries are
off (``max_retries=0``): tenacity retries timeouts, connection errors, 429 (honouring
Retry-After when it fits the budget) and 5xx, never other 4xx, all within one deadline.
The API key is never part of a message, a warning or a repr.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from typing import Any

import openai
from tenacity import AsyncRetrying, Retrying, retry_if_exception

from grader._retry import describe, retryable, stop_at, wait_for
from grader.llm_types import LLMCache, LLMReply, MemoryCache
from grader.rubric import RESPONSE_SCHEMA

MODES = ("json_schema", "json_object", "text")
DEFAULT_TIMEOUT = 20.0
MAX_ATTEMPTS = 6
CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
    "additionalProperties": False,
}
CHECK_MESSAGES = [
    {"role": "system", "content": "Reply with one JSON object and nothing else."},
    {"role": "user", "content": 'Reply with {"ok": true}.'},
]


class LLMConfigError(ValueError):
    """The LLM settings are missing or invalid; the message names the settings."""


class LLMError(RuntimeError):
    """The endpoint gave no usable reply; ``str()`` says why, without secrets."""


def _format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "rubric_verdicts", "strict": True, "schema": schema},
        }
    return {"type": "json_object"} if mode == "json_object" else None


def _refuses_format(exc: BaseException) -> bool:
    """A 400/422 that complains about ``response_format``: try the next, simpler mode."""
    if not isinstance(exc, openai.APIStatusError) or exc.status_code not in (400, 422):
        return False
    text = f"{exc.message} {exc.body} {getattr(exc, 'param', '')}".lower()
    return any(w in text for w in ("response_format", "json_schema", "json_object", "structured"))


class _Base:
    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        cache: LLMCache | None = None,
    ) -> None:
        if not model:
            raise LLMConfigError("no model: set FLASHGRADE_LLM_MODEL")
        if timeout <= 0:
            raise LLMConfigError(f"FLASHGRADE_LLM_TIMEOUT must be positive, not {timeout}")
        self.model = model
        self.base_url = base_url
        self.timeout = float(timeout)
        self.cache: LLMCache = cache if cache is not None else MemoryCache()
        # Local servers (llama.cpp, vLLM, Ollama) want no key, but the SDK insists on one.
        self._api_key = api_key or "unused"
        self._mode = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(model={self.model!r}, base_url={self.base_url!r}, timeout={self.timeout})"

    @property
    def mode(self) -> str:
        """The response format that this endpoint accepts, as far as known."""
        return MODES[self._mode]

    def _downgrade(self, failed: int) -> bool:
        with self._lock:
            if self._mode == failed and failed + 1 < len(MODES):
                self._mode = failed + 1
            return self._mode > failed

    def _params(
        self, messages: list[dict[str, str]], mode: str, remaining: float, schema: dict[str, Any]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "timeout": max(0.05, remaining),
        }
        fmt = _format(mode, schema)
        if fmt is not None:
            params["response_format"] = fmt
        return params

    def _from_cache(self, key: str | None) -> LLMReply | None:
        raw = self.cache.get(key) if key else None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return LLMReply(
                str(data["content"]), self.model, cached=True, mode=str(data.get("mode", ""))
            )
        except (ValueError, KeyError, TypeError):
            return None

    def store(self, key: str, reply: LLMReply) -> None:
        """Keep a reply that proved valid, so the same request is never sent again."""
        if not reply.cached:
            self.cache.set(key, json.dumps({"content": reply.content, "mode": reply.mode}))

    def _reply(self, completion: Any, mode: str, started: float) -> LLMReply:
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice is not None else None
        refusal = getattr(message, "refusal", None)
        if refusal or (choice is not None and choice.finish_reason == "content_filter"):
            raise LLMError(f"the model refused: {str(refusal or 'content filter')[:80]!r}")
        content = getattr(message, "content", None)
        if not content:
            raise LLMError("the reply is empty")
        usage = completion.usage
        return LLMReply(
            content,
            self.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_ms=round((time.monotonic() - started) * 1000),
            mode=mode,
        )

    def _retrying_args(self, deadline: float) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(retryable),
            "wait": wait_for,
            "stop": stop_at(deadline, max_attempts=MAX_ATTEMPTS),
            "reraise": True,
        }

    def _error(self, exc: BaseException, deadline: float, attempts: int) -> LLMError:
        return LLMError(
            describe(
                exc,
                budget=self.timeout,
                attempts=attempts,
                expired=time.monotonic() >= deadline - 0.05,
                secret=self._api_key,
            )
        )


class LLMClient(_Base):
    """Synchronous client for the CLI and ``eval``; safe to share between threads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sdk = openai.OpenAI(
            api_key=self._api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0
        )

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        key: str | None = None,
        deadline: float | None = None,
        schema: dict[str, Any] = RESPONSE_SCHEMA,
    ) -> LLMReply:
        """One completion for ``messages``, from the cache when ``key`` was seen before."""
        cached = self._from_cache(key)
        if cached is not None:
            return cached
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout
        started, attempts = time.monotonic(), 0
        try:
            for attempt in Retrying(**self._retrying_args(deadline)):
                with attempt:
                    attempts += 1
                    return self._once(messages, deadline, started, schema)
        except LLMError:
            raise
        except Exception as exc:
            raise self._error(exc, deadline, attempts) from None
        raise LLMError("no attempt was made")  # pragma: no cover - tenacity always tries once

    def _once(
        self,
        messages: list[dict[str, str]],
        deadline: float,
        started: float,
        schema: dict[str, Any],
    ) -> LLMReply:
        while True:
            mode = self._mode
            try:
                params = self._params(messages, MODES[mode], deadline - time.monotonic(), schema)
                completion = self._sdk.chat.completions.create(**params)
                return self._reply(completion, MODES[mode], started)
            except openai.APIStatusError as exc:
                if not (_refuses_format(exc) and self._downgrade(mode)):
                    raise

    def check(self) -> LLMReply:
        """Send one small request (no cache): latency, and the response format that works."""
        return self.complete(CHECK_MESSAGES, schema=CHECK_SCHEMA)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._sdk.close()


class AsyncLLMClient(_Base):
    """Asynchronous client for the web app: awaiting the model leaves the event loop free."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sdk: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        # An AsyncOpenAI is bound to the loop it first ran on (tests run several loops).
        if self._sdk is None or self._loop is not loop:
            self._sdk = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0
            )
            self._loop = loop
        return self._sdk

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        key: str | None = None,
        deadline: float | None = None,
        schema: dict[str, Any] = RESPONSE_SCHEMA,
    ) -> LLMReply:
        """One completion for ``messages``, from the cache when ``key`` was seen before."""
        cached = self._from_cache(key)
        if cached is not None:
            return cached
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout
        started, attempts = time.monotonic(), 0
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                async for attempt in AsyncRetrying(**self._retrying_args(deadline)):
                    with attempt:
                        attempts += 1
                        return await self._once(messages, deadline, started, schema)
        except LLMError:
            raise
        except Exception as exc:  # TimeoutError from asyncio.timeout included
            raise self._error(exc, deadline, attempts) from None
        raise LLMError("no attempt was made")  # pragma: no cover

    async def _once(
        self,
        messages: list[dict[str, str]],
        deadline: float,
        started: float,
        schema: dict[str, Any],
    ) -> LLMReply:
        sdk = self._client()
        while True:
            mode = self._mode
            try:
                params = self._params(messages, MODES[mode], deadline - time.monotonic(), schema)
                completion = await sdk.chat.completions.create(**params)
                return self._reply(completion, MODES[mode], started)
            except openai.APIStatusError as exc:
                if not (_refuses_format(exc) and self._downgrade(mode)):
                    raise

    async def aclose(self) -> None:
        """Release the HTTP connections."""
        if self._sdk is not None:
            await self._sdk.close()


def _settings(required: bool) -> dict[str, Any] | None:
    model = os.environ.get("FLASHGRADE_LLM_MODEL", "").strip()
    base_url = os.environ.get("OPENAI_BASE_URL", "").strip() or None
    api_key = os.environ.get("OPENAI_API_KEY", "").strip() or None
    if not model:
        if not required:
            return None
        missing = ["FLASHGRADE_LLM_MODEL"]
        if not api_key and not base_url:
            missing.append("OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)")
        raise LLMConfigError(f"--llm needs {' and '.join(missing)}; not set")
    if not api_key and not base_url:
        raise LLMConfigError(
            "the LLM needs OPENAI_API_KEY (or OPENAI_BASE_URL for a local server); not set"
        )
    raw = os.environ.get("FLASHGRADE_LLM_TIMEOUT", "").strip()
    try:
        timeout = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise LLMConfigError(
            f"FLASHGRADE_LLM_TIMEOUT must be a number of seconds, not {raw!r}"
        ) from None
    if not timeout > 0:
        raise LLMConfigError(f"FLASHGRADE_LLM_TIMEOUT must be positive, not {raw!r}")
    return {"model": model, "base_url": base_url, "api_key": api_key, "timeout": timeout}


def client_from_env(required: bool) -> LLMClient | None:
    """The sync client from the environment; None when no model is set and none is required."""
    settings = _settings(required)
    return LLMClient(**settings) if settings else None


def async_client_from_env(
    required: bool = False, *, cache: LLMCache | None = None
) -> AsyncLLMClient | None:
    """The async client from the environment (for the web app), with its own cache."""
    settings = _settings(required)
    return AsyncLLMClient(**settings, cache=cache) if settings else None
