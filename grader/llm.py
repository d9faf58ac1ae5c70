"""OpenAI-compatible chat-completions clients: retries, one deadline, response formats, cache.

``LLMClient`` (sync, thread-safe) serves the CLI and ``eval``; ``AsyncLLMClient`` serves the
web app so that waiting on the model never blocks other requests. The SDK's own retries are
off (``max_retries=0``): tenacity retries timeouts, connection errors, 429 (honouring
Retry-After when it fits the budget) and 5xx, never other 4xx, all within one deadline.
The API key is never part of a message, a warning or a repr. After repeated failures of the
endpoint, a client skips it for a cool-down (``grader._breaker``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import threading
import time
from typing import Any

import openai
from tenacity import AsyncRetrying, Retrying, retry_if_exception

from grader._breaker import Breaker
from grader._deadline import cut_off_late_body, respond_by
from grader._retry import describe, retryable, stop_at, wait_for
from grader.llm_types import LLMCache, LLMReply, MemoryCache
from grader.rubric import RESPONSE_SCHEMA

MODES = ("json_schema", "json_object", "text")
DEFAULT_TIMEOUT = 20.0
MAX_ATTEMPTS = 6
SKIP_AFTER_FAILURES = 3  # failed requests in a row before the endpoint is skipped ...
SKIP_SECONDS = 60.0  # ... for this long
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


class LLMNotConfigured(LLMConfigError):
    """A setting that the LLM rubric needs is not set (as opposed to set wrongly)."""


class LLMError(RuntimeError):
    """The endpoint gave no usable reply; ``str()`` says why, without secrets."""


def _format(mode: str, schema: dict[str, Any]) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {"name": "rubric_verdicts", "strict": True, "schema": schema},
        }
    return {"type": "json_object"} if mode == "json_object" else None


def _endpoint_down(exc: BaseException) -> bool:
    """A failure that cost waiting (timeouts, connection errors, 408/409/429/5xx after
    retries), as opposed to one about this request (a refusal, a 400, a bad key)."""
    return isinstance(exc, TimeoutError) or retryable(exc)


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
        skip_after_failures: int = SKIP_AFTER_FAILURES,
        skip_seconds: float = SKIP_SECONDS,
    ) -> None:
        if not model:
            raise LLMConfigError("no model: set FLASHGRADE_LLM_MODEL")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise LLMConfigError(
                f"FLASHGRADE_LLM_TIMEOUT must be a positive number of seconds, not {timeout!r}"
            )
        self.model = model
        self.base_url = base_url
        self.timeout = float(timeout)
        self.cache: LLMCache = cache if cache is not None else MemoryCache()
        # Local servers (llama.cpp, vLLM, Ollama) want no key, but the SDK insists on one.
        self._api_key = api_key or "unused"
        self._mode = 0
        self._lock = threading.Lock()
        self.breaker = Breaker(skip_after_failures, skip_seconds)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(model={self.model!r}, base_url={self.base_url!r}, timeout={self.timeout})"

    @property
    def mode(self) -> str:
        """The response format that this endpoint accepts, as far as known."""
        return MODES[self._mode]

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

    def _call(
        self, messages: list[dict[str, str]], deadline: float | None, schema: dict[str, Any]
    ) -> _Call:
        deadline = deadline if deadline is not None else time.monotonic() + self.timeout
        return _Call(self, messages, deadline, schema)


class _Call:
    """One ``complete()``: the request parameters per attempt, the reply, and what to say
    when it fails. The sync and async clients differ only in how they send."""

    def __init__(
        self,
        client: _Base,
        messages: list[dict[str, str]],
        deadline: float,
        schema: dict[str, Any],
    ) -> None:
        self.client, self.messages, self.deadline, self.schema = client, messages, deadline, schema
        self.started = time.monotonic()
        self.attempts = 0
        self.mode = client._mode

    def retrying(self) -> dict[str, Any]:
        """Arguments for tenacity's ``Retrying`` / ``AsyncRetrying``."""
        return {
            "retry": retry_if_exception(retryable),
            "wait": wait_for,
            "stop": stop_at(self.deadline, max_attempts=MAX_ATTEMPTS),
            "reraise": True,
        }

    def params(self) -> dict[str, Any]:
        """The request for the next try, in the response format the endpoint accepts."""
        client = self.client
        self.mode = client._mode
        params: dict[str, Any] = {
            "model": client.model,
            "messages": self.messages,
            "temperature": 0,
            "timeout": max(0.05, self.deadline - time.monotonic()),
        }
        fmt = _format(MODES[self.mode], self.schema)
        if fmt is not None:
            params["response_format"] = fmt
        return params

    def downgrade(self, exc: BaseException) -> bool:
        """Whether ``exc`` refused the response format and a simpler one is left to try."""
        if not _refuses_format(exc):
            return False
        client = self.client
        with client._lock:
            if client._mode == self.mode and self.mode + 1 < len(MODES):
                client._mode = self.mode + 1
            return client._mode > self.mode

    def reply(self, completion: Any) -> LLMReply:
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
            self.client.model,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            latency_ms=round((time.monotonic() - self.started) * 1000),
            mode=MODES[self.mode],
        )

    def error(self, exc: BaseException) -> LLMError:
        """The LLMError for ``exc``; a failure of the endpoint counts towards skipping it."""
        if isinstance(exc, LLMError):
            return exc
        error = self._error(exc)
        if _endpoint_down(exc):
            self.client.breaker.failed(str(error))
        return error

    def _error(self, exc: BaseException) -> LLMError:
        return LLMError(
            describe(
                exc,
                budget=self.client.timeout,
                attempts=self.attempts,
                remaining=self.deadline - time.monotonic(),
                max_attempts=MAX_ATTEMPTS,
                secret=self.client._api_key,
            )
        )


class LLMClient(_Base):
    """Synchronous client for the CLI and ``eval``; safe to share between threads."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sdk = openai.OpenAI(
            api_key=self._api_key,
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,
            http_client=openai.DefaultHttpxClient(event_hooks={"response": [cut_off_late_body]}),
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
        skipped = self.breaker.skipped()
        if skipped:
            raise LLMError(skipped)
        call = self._call(messages, deadline, schema)
        try:
            for attempt in Retrying(**call.retrying()):
                with attempt:
                    call.attempts += 1
                    while True:  # the same attempt again in a simpler format, if refused
                        try:
                            with respond_by(call.deadline):
                                completion = self._sdk.chat.completions.create(**call.params())
                            self.breaker.succeeded()
                            return call.reply(completion)
                        except openai.APIStatusError as exc:
                            if not call.downgrade(exc):
                                raise
        except Exception as exc:
            raise call.error(exc) from None
        raise LLMError("no attempt was made")  # pragma: no cover - tenacity always tries once

    def check(self) -> LLMReply:
        """Send one small request (no cache): latency, and the response format that works."""
        return self.complete(CHECK_MESSAGES, schema=CHECK_SCHEMA)

    def close(self) -> None:
        """Release the HTTP connections."""
        self._sdk.close()


class AsyncLLMClient(_Base):
    """Asynchronous client for the web app: awaiting the model leaves the event loop free.

    A cache other than the in-memory one (the web app's database) is read and written in a
    worker thread, never on the event loop.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # An AsyncOpenAI is bound to the event loop it first ran on (tests run several).
        self._sdks: dict[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = {}

    async def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        sdk = self._sdks.get(loop)
        if sdk is None:
            for old_loop in [old for old in self._sdks if old.is_closed()]:
                # Its connections died with its loop; closing it here frees what is left.
                with contextlib.suppress(Exception):
                    await self._sdks.pop(old_loop).close()
            sdk = self._sdks[loop] = openai.AsyncOpenAI(
                api_key=self._api_key, base_url=self.base_url, timeout=self.timeout, max_retries=0
            )
        return sdk

    def _blocking_cache(self) -> bool:
        return not isinstance(self.cache, MemoryCache)

    async def complete(
        self,
        messages: list[dict[str, str]],
        *,
        key: str | None = None,
        deadline: float | None = None,
        schema: dict[str, Any] = RESPONSE_SCHEMA,
    ) -> LLMReply:
        """One completion for ``messages``, from the cache when ``key`` was seen before."""
        call = self._call(messages, deadline, schema)
        try:
            async with asyncio.timeout(max(0.0, call.deadline - time.monotonic())):
                if key and self._blocking_cache():
                    cached = await asyncio.to_thread(self._from_cache, key)
                else:
                    cached = self._from_cache(key)
                if cached is not None:
                    return cached
                skipped = self.breaker.skipped()
                if skipped:
                    raise LLMError(skipped)
                sdk = await self._client()
                async for attempt in AsyncRetrying(**call.retrying()):
                    with attempt:
                        call.attempts += 1
                        while True:  # the same attempt again in a simpler format, if refused
                            try:
                                completion = await sdk.chat.completions.create(**call.params())
                                self.breaker.succeeded()
                                return call.reply(completion)
                            except openai.APIStatusError as exc:
                                if not call.downgrade(exc):
                                    raise
        except Exception as exc:  # TimeoutError from asyncio.timeout included
            raise call.error(exc) from None
        raise LLMError("no attempt was made")  # pragma: no cover

    async def astore(self, key: str, reply: LLMReply) -> None:
        """:meth:`store`, off the event loop when the cache blocks."""
        if self._blocking_cache():
            await asyncio.to_thread(self.store, key, reply)
        else:
            self.store(key, reply)

    async def aclose(self) -> None:
        """Release the HTTP connections of this event loop's client."""
        loop = asyncio.get_running_loop()
        sdk = self._sdks.pop(loop, None)
        if sdk is not None:
            await sdk.close()


_MISSING_ENDPOINT = "OPENAI_API_KEY (or OPENAI_BASE_URL for a local server)"


def options(
    *,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    timeout: float | None,
    required: bool,
) -> dict[str, Any] | None:
    """A client's keyword arguments from its settings; None when no model is set and none is
    required. Raises LLMNotConfigured when a needed setting is missing, LLMConfigError when
    one is invalid; both messages name the settings."""
    model = (model or "").strip()
    base_url = (base_url or "").strip() or None
    api_key = (api_key or "").strip() or None
    if not model:
        if not required:
            return None
        missing = ["FLASHGRADE_LLM_MODEL"]
        if not api_key and not base_url:
            missing.append(_MISSING_ENDPOINT)
        raise LLMNotConfigured(f"the LLM rubric needs {' and '.join(missing)}; not set")
    if not api_key and not base_url:
        raise LLMNotConfigured(f"the LLM rubric needs {_MISSING_ENDPOINT}; not set")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    if not (math.isfinite(timeout) and timeout > 0):
        raise LLMConfigError(
            f"FLASHGRADE_LLM_TIMEOUT must be a positive number of seconds, not {timeout!r}"
        )
    return {"model": model, "base_url": base_url, "api_key": api_key, "timeout": timeout}


def _settings(required: bool) -> dict[str, Any] | None:
    """:func:`options` from the process environment alone (the library's own default; the
    CLI and the web app read theirs from one settings object, ``.env`` included)."""
    raw = os.environ.get("FLASHGRADE_LLM_TIMEOUT", "").strip()
    try:
        timeout = float(raw) if raw else None
    except ValueError:
        raise LLMConfigError(
            f"FLASHGRADE_LLM_TIMEOUT must be a positive number of seconds, not {raw!r}"
        ) from None
    return options(
        model=os.environ.get("FLASHGRADE_LLM_MODEL"),
        base_url=os.environ.get("OPENAI_BASE_URL"),
        api_key=os.environ.get("OPENAI_API_KEY"),
        timeout=timeout,
        required=required,
    )


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
