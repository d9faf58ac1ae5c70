"""Prometheus metrics on the app's own registry: request latency, grades, overrides.

With ``serve --workers N`` every process counts into files in ``PROMETHEUS_MULTIPROC_DIR``
(Prometheus's multiprocess mode, set up by the CLI), and a scrape of any process sums them;
the gauges read from the database (agreement) are the same in every process.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "MetricsMiddleware"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """Every metric of one app; one registry each, so apps (and tests) never share counts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._collectors: list[Collector] = []
        self.requests = Histogram(
            "flashgrade_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["method", "route", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.grades = Counter(
            "flashgrade_grades_total",
            "Answers graded, by the grader that produced the score.",
            ["method"],
            registry=self.registry,
        )
        self.llm_fallbacks = Counter(
            "flashgrade_llm_fallbacks_total",
            "Gradings where an LLM was configured but the fuzzy grade was used.",
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "flashgrade_llm_tokens_total",
            "Tokens spent on the LLM rubric (cached replies spend none), by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.llm_latency = Histogram(
            "flashgrade_llm_latency_seconds",
            "Time the LLM rubric took per grading (requests sent, not cache hits).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.llm_cache_hits = Counter(
            "flashgrade_llm_cache_hits_total",
            "Gradings answered from the LLM cache instead of the endpoint.",
            registry=self.registry,
        )
        self.attempts = Counter(
            "flashgrade_attempts_total", "Attempts stored.", registry=self.registry
        )
        self.scores = Counter(
            "flashgrade_final_scores_total",
            "Final scores given (re-scores included), by the score.",
            ["score"],
            registry=self.registry,
        )
        self.overrides = Counter(
            "flashgrade_overrides_total",
            "Final scores that differ from the suggestion, by direction (up: more lenient).",
            ["direction"],
            registry=self.registry,
        )

        # every series from the start, so that rates and ratios exist before the first event
        for method in ("fuzzy", "semantic", "llm"):
            self.grades.labels(method)
        for direction in ("up", "down"):
            self.overrides.labels(direction)
        for kind in ("prompt", "completion"):
            self.llm_tokens.labels(kind)

    def record_llm(self, usage: dict[str, Any] | None) -> None:
        """Count one grading's LLM usage (``GradeResult.llm_usage``): tokens and latency."""
        if not usage:
            return
        if usage.get("cached"):
            self.llm_cache_hits.inc()
            return
        self.llm_tokens.labels("prompt").inc(int(usage.get("prompt_tokens") or 0))
        self.llm_tokens.labels("completion").inc(int(usage.get("completion_tokens") or 0))
        self.llm_latency.observe(float(usage.get("latency_ms") or 0) / 1000)

    def record_score(self, *, suggested: int, final: int) -> None:
        self.scores.labels(str(final)).inc()
        if final != suggested:
            self.overrides.labels("up" if final > suggested else "down").inc()

    def add_collector(self, collector: Collector) -> None:
        """A collector computed at scrape time (from the database), in every mode."""
        self.registry.register(collector)
        self._collectors.append(collector)

    def exposition(self) -> bytes:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        registry = CollectorRegistry()  # every process's counts, summed from their files
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        for collector in self._collectors:
            registry.register(collector)
        return generate_latest(registry)


class MetricsMiddleware:
    """Times every HTTP request and labels it with its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )
