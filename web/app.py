"""``create_app(settings)``: the FastAPI application, its resources on ``app.state``."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from grader import GRADER_VERSION
from web.agreement import AgreementCollector
from web.calibrate import Calibrator
from web.catalog import Catalog
from web.deps import build_llm
from web.grading import OfflineGrader, load_matcher
from web.head import HeadAsGetMiddleware
from web.metrics import Metrics, MetricsMiddleware
from web.practice import AnswerTooLong, NotFound, Practice
from web.routes_api import api, ops
from web.routes_pages import render
from web.routes_pages import router as pages
from web.routes_progress import router as progress
from web.schedule import Schedule
from web.security import (
    CONTENT_SECURITY_POLICY,
    SECURITY_HEADERS,
    Csrf,
    RequestGuardMiddleware,
    SecurityHeadersMiddleware,
    load_or_create_secret,
)
from web.settings import Settings
from web.store import Store, unavailable_reason
from web.writer import AttemptWriter

log = logging.getLogger("web")

HERE = Path(__file__).resolve().parent
_JSON_PATHS = ("/api/", "/healthz", "/metrics", "/openapi.json")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web app on ``settings`` (read from the environment and ``.env`` when omitted)."""
    settings = settings if settings is not None else Settings()
    # the database and the secret key live here: for this account's eyes only
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = (
        settings.secret_key.get_secret_value().encode()
        if settings.secret_key
        else load_or_create_secret(settings.data_dir / "secret_key")
    )
    store = Store(
        settings.database_url,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        synchronous=settings.sqlite_synchronous,
    )
    store.create_schema()
    metrics = Metrics()
    catalog = Catalog(settings.decks_dir)
    schedule = Schedule(desired_retention=settings.desired_retention, fuzz=settings.fsrs_fuzz)
    offline = OfflineGrader(
        workers=settings.grade_workers,
        strictness=settings.strictness,
        embedder=load_matcher(
            settings.matcher, settings.embedding_model, settings.embedding_threads
        ),
    )
    # each deck's suggestions calibrated to the person's overrides (web/calibrate.py)
    calibrator = Calibrator(
        store, enabled=settings.calibration, min_overrides=settings.calibration_min_overrides
    )
    calibrator.load()
    writer = AttemptWriter(store)
    practice = Practice(
        settings, store, catalog, schedule, metrics, offline, writer, calibrator=calibrator
    )
    metrics.add_collector(AgreementCollector(store, calibrator.active_decks))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        practice.llm = build_llm(settings, store)
        if practice.llm is not None:
            log.info("LLM grading with model %s", settings.llm_model)
        try:  # from here on, a failed start-up still closes what it opened
            # fuzzy grading in worker processes (with an LLM, grade_async grades)
            if offline.workers and offline.embedder is None and practice.llm is None:
                await offline.start(await run_in_threadpool(practice.cards))
            # no warm-up: the grader prepares a card the first time it grades it, so the first
            # answer after a restart waits for its own card only.
            # What start-up built lives as long as the app: keep the GC from walking it again
            # and again (its full passes were the p99 latency under load).
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            await offline.close()
            await run_in_threadpool(writer.close)
            client, practice.llm = practice.llm, None
            close = getattr(client, "aclose", None) or getattr(client, "close", None)
            if close is not None:
                result = close()
                if hasattr(result, "__await__"):
                    await result
            store.dispose()

    app = FastAPI(
        title="flashgrade",
        version=GRADER_VERSION,
        summary="Practise flashcards by typing answers; a grader suggests the 1-5 score.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Metrics are Prometheus's (web/metrics.py). FastAPI's native OpenTelemetry would
        # check for providers on every request; releases without it keep this in app.extra.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.store = store
    app.state.catalog = catalog
    app.state.metrics = metrics
    app.state.practice = practice
    app.state.calibrator = calibrator
    app.state.csrf = Csrf(secret)
    app.state.templates = _templates()
    app.state.swagger_ui = _mount_static(app)

    app.include_router(ops)
    app.include_router(api)
    app.include_router(pages)
    app.include_router(progress)
    _add_exception_handlers(app)

    # outermost last: metrics time everything, headers go on every response
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(
        RequestGuardMiddleware,
        max_bytes=settings.max_body_bytes,
        json_paths=_JSON_PATHS,
        json_posts=[
            r.path_regex
            for r in api.routes
            if isinstance(r, APIRoute) and "POST" in (r.methods or ())
        ],
        # the deck upload form reads bodies up to 4x its limit, to say "too large" itself
        path_limits={"/upload": settings.max_upload_bytes * 4 + 64 * 1024},
    )
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=("/docs",))
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["due_in"] = due_in
    env.filters["duration"] = duration
    env.filters["local"] = local_time
    env.filters["percent"] = lambda x: f"{round(100 * float(x))}%"
    return Jinja2Templates(env=env)


def _mount_static(app: FastAPI) -> bool:
    """Mount /static (and Swagger UI's files, when installed, before it); True with Swagger."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger = False
    else:
        app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")
        swagger = True
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    return swagger


# --- errors: JSON for the API, a page for people; never a traceback --------------------------


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(_JSON_PATHS) or path == "/api"


def _error(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    response = render(
        request, "error.html", {"status": status, "detail": detail}, status_code=status
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _add_exception_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that json.loads refused other than as bad syntax
            return _error(request, 422, f"malformed JSON: {_unparsable(exc.__cause__)}")
        return _error(request, exc.status_code, detail, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _error(request, 422, validation_detail(exc.errors()))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc))

    async def too_long(request: Request, exc: Exception) -> Response:
        return _error(request, 413, str(exc))

    async def database_down(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OperationalError)
        reason = unavailable_reason(exc)
        if reason is None:  # a fault in the SQL or the schema: a bug, logged with its trace
            return await server_error(request, exc)
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, reason)
        return _error(request, 503, f"the database cannot be used just now ({reason}); try again")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = "internal error; it has been logged"
        if _wants_json(request):
            response: Response = JSONResponse({"detail": detail}, status_code=500)
        else:
            response = Response(
                "<!doctype html><title>Error · flashgrade</title><h1>Something went wrong</h1>"
                "<p>The error has been logged. <a href='/'>Back to the decks</a></p>",
                status_code=500,
                media_type="text/html",
            )
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        return response

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(AnswerTooLong, too_long)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(Exception, server_error)


def _unparsable(cause: BaseException | None) -> str:
    """Why a JSON body could not be read, where it was not its syntax."""
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return "a number has too many digits"
    return "the body cannot be read as JSON"


def validation_detail(errors: Any) -> str:
    """One line from pydantic's errors: ``answer: Field required; score: ...``."""
    parts = []
    for error in list(errors)[:3]:
        loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path", "form")]
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            parts.append(f"malformed JSON: {reason}".rstrip(": "))
            continue
        where = ".".join(loc)
        message = str(error.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


# --- template filters -------------------------------------------------------------------------


def when(value: datetime | None, now: datetime | None = None) -> str:
    """A relative time: "now", "in 10 min", "in 3 days", "2 h ago"."""
    if value is None:
        return "new"
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    future = seconds > 0
    s = abs(seconds)
    if s < 60:
        return "in under a minute" if future else "just now"
    if s < 3600:
        text = f"{round(s / 60)} min"
    elif s < 86400:
        text = f"{round(s / 3600)} h"
    elif s < 86400 * 60:
        days = round(s / 86400)
        text = f"{days} day" + ("s" if days != 1 else "")
    else:
        months = round(s / (86400 * 30))
        text = f"{months} months"
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float) -> str:
    """A time taken, as a person says it: "45 s", "4 min 23 s", "1 h 5 min"."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")


def due_in(value: datetime, now: datetime | None = None) -> str:
    """When a review is due: "now" once it is due (not "3 min ago"), else :func:`when`."""
    if value <= (now or datetime.now(UTC)):
        return "now"
    return when(value, now)


def local_time(value: datetime | None) -> str:
    # the server's zone, which is the person's where flashgrade runs on their own machine;
    # named, so that a server elsewhere does not pass its clock off as theirs
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M %Z")
