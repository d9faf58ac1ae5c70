"""``create_app(settings)``: the FastAPI application, its resources on ``app.state``."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from grader import GRADER_VERSION, language
from web.accounts import Accounts
from web.agreement import AgreementCollector
from web.catalog import Catalog
from web.deck_calibration import Calibrator
from web.deps import build_llm, current_person
from web.errors import JSON_PATHS, add_exception_handlers
from web.head import HeadAsGetMiddleware
from web.metrics import Metrics, MetricsMiddleware
from web.offline_grading import OfflineGrader, load_matcher
from web.practice import Practice
from web.routes.accounts import router as accounts
from web.routes.api import api, ops
from web.routes.decks import router as decks
from web.routes.editor import router as card_editor
from web.routes.practice import router as practice_pages
from web.routes.progress import router as progress
from web.schedule import Schedule
from web.security import (
    Csrf,
    RequestGuardMiddleware,
    SecurityHeadersMiddleware,
    load_or_create_secret,
)
from web.settings import Settings
from web.storage.attempt_writer import AttemptWriter
from web.storage.database import Store
from web.templating import templates

log = logging.getLogger("web")

HERE = Path(__file__).resolve().parent


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
        timeout=settings.grade_worker_timeout,
        strictness=settings.strictness,
        embedder=load_matcher(
            settings.matcher, settings.embedding_model, settings.embedding_threads
        ),
    )
    # each deck's suggestions calibrated to the person's overrides (web/deck_calibration.py)
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
            # no warm-up of cards: the grader prepares a card the first time it grades it, so
            # the first answer after a restart waits for its own card only. The language
            # identifier (for answers in another language, graded by meaning) loads beside.
            if offline.embedder is not None:
                threading.Thread(target=language.warm, name="language-warm", daemon=True).start()
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
        openapi_url=None,  # served by routes/api.py, to signed-in people only
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
    app.state.accounts = Accounts(store, session_days=settings.session_days)
    app.state.csrf = Csrf(secret)
    app.state.templates = templates()
    app.state.swagger_ui = _mount_static(app)

    app.include_router(ops)
    app.include_router(accounts)
    # everything else acts for a person: local mode's, or a signed-in one
    signed_in = [Depends(current_person)]
    app.include_router(api, dependencies=signed_in)
    app.include_router(decks, dependencies=signed_in)
    app.include_router(card_editor, dependencies=signed_in)  # admins only, within
    app.include_router(practice_pages, dependencies=signed_in)
    app.include_router(progress, dependencies=signed_in)
    add_exception_handlers(app)

    # outermost last: metrics time everything, headers go on every response
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.host_names)
    app.add_middleware(
        RequestGuardMiddleware,
        max_bytes=settings.max_body_bytes,
        json_paths=JSON_PATHS,
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
