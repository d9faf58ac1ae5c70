"""Retry policy for the LLM clients: what to retry, how long to wait, when to give up, and
how to say what went wrong without leaking the API key."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Any

import openai

RETRY_STATUSES = frozenset({408, 409, 429})  # plus every 5xx; never 400/401/403/404/422
BASE_WAIT = 0.1
MAX_WAIT = 2.0
MARGIN = 0.05  # seconds: no new attempt that would have less than this to run


def retryable(exc: BaseException) -> bool:
    """Timeouts, connection errors, 408/409/429 and 5xx are worth another try."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in RETRY_STATUSES or exc.status_code >= 500
    return False


def retry_after(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms`` or ``retry-after``), if any."""
    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None


def wait_for(state: Any) -> float:
    """Retry-After when the server sent one, else exponential backoff with jitter."""
    outcome = state.outcome
    asked = retry_after(outcome.exception() if outcome is not None else None)
    if asked is not None:
        return asked
    backoff = min(MAX_WAIT, BASE_WAIT * 2 ** (int(state.attempt_number) - 1))
    return float(backoff * random.uniform(0.75, 1.25))


def stop_at(deadline: float, *, max_attempts: int) -> Callable[[Any], bool]:
    """Stop after ``max_attempts``, or when the next wait would pass ``deadline``."""

    def stop(state: Any) -> bool:
        if int(state.attempt_number) >= max_attempts:
            return True
        return bool(time.monotonic() + float(state.upcoming_sleep) + MARGIN >= deadline)

    return stop


def _redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return " ".join(text.split())


def describe(
    exc: BaseException,
    *,
    budget: float,
    attempts: int,
    remaining: float,
    max_attempts: int,
    secret: str | None = None,
) -> str:
    """One line saying why the endpoint gave no usable reply (never containing ``secret``).

    ``remaining`` is the time left of the ``budget`` when it gave up; for an error worth
    retrying, the line says why there was no further attempt.
    """
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    if isinstance(exc, TimeoutError | openai.APITimeoutError):
        return f"no reply within the time budget of {budget:g} s{tries}"
    if isinstance(exc, openai.APIConnectionError):
        line = f"cannot connect to the endpoint{tries}"
        return line + _why_stopped(None, budget, attempts, remaining, max_attempts)
    if isinstance(exc, openai.APIStatusError):
        message = ""
        body = exc.body
        if isinstance(body, dict):
            error = body.get("error", body)
            message = str(error.get("message", "")) if isinstance(error, dict) else str(error)
        message = _redact(message, secret)[:120]
        line = f"HTTP {exc.status_code}" + (f" ({message})" if message else "") + tries
        if retryable(exc):
            line += _why_stopped(retry_after(exc), budget, attempts, remaining, max_attempts)
        return line
    return _redact(f"{type(exc).__name__}: {exc}", secret)[:160]


def _why_stopped(
    asked: float | None, budget: float, attempts: int, remaining: float, max_attempts: int
) -> str:
    if attempts >= max_attempts:
        return f"; gave up after the most attempts allowed ({max_attempts})"
    if asked is not None and asked + MARGIN >= remaining:
        return (
            f"; Retry-After {asked:g} s exceeds the {max(0.0, remaining):.1f} s left "
            f"of the time budget of {budget:g} s"
        )
    if remaining <= MARGIN:
        return f"; the time budget of {budget:g} s ran out"
    return f"; too little of the time budget of {budget:g} s left for another attempt"
