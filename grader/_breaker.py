"""A circuit breaker for the LLM endpoint: after some failures in a row, skip it for a while.

An endpoint that is down costs every answer the whole time budget (retries included) before
the offline grade is shown. After ``failures`` such failures in a row the clients skip the
endpoint for ``cooldown`` seconds: grades fall back at once, saying so. Then one request
goes through as a trial (the others are still skipped while it runs); a reply closes the
breaker, another failure opens it for another cool-down.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class Breaker:
    """Thread-safe; ``failures=0`` never skips."""

    def __init__(
        self, failures: int, cooldown: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failures < 0 or not (math.isfinite(cooldown) and cooldown > 0):
            raise ValueError("failures must be 0 or more and cooldown a positive number")
        self.failures, self.cooldown, self.clock = failures, float(cooldown), clock
        self._lock = threading.Lock()
        self._count = 0  # failures in a row
        self._last = ""  # why the last one failed
        self._open_until: float | None = None

    def skipped(self) -> str | None:
        """Why the endpoint is skipped now, or None to go ahead (after the cool-down, the
        first caller goes ahead as the trial)."""
        with self._lock:
            if self._open_until is None:
                return None
            now = self.clock()
            if now >= self._open_until:
                self._open_until = now + self.cooldown  # the trial's: the others wait on
                return None
            return (
                f"the LLM is skipped for now, after {self._count} failed "
                f"request{'s' * (self._count != 1)} in a row "
                f"(the last: {self._last}); it is tried again in "
                f"{math.ceil(self._open_until - now)} s"
            )

    def succeeded(self) -> None:
        with self._lock:
            self._count, self._open_until = 0, None

    def failed(self, why: str) -> None:
        with self._lock:
            self._count += 1
            self._last = why
            if self.failures and self._count >= self.failures:
                self._open_until = self.clock() + self.cooldown
