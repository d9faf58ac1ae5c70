"""Pages for progress and trust: history, stats (per deck and overall) with grader agreement
and the calibration switch, and deck upload. They work without JavaScript; every form that
changes state carries a CSRF token and answers with a redirect (303) or a page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from grader import CardNotFound, Deck
from grader.decks import FORMATS
from web import charts, stats
from web.calibrate import Calibrator
from web.catalog import DeckNotFound
from web.deps import CsrfToken, PracticeDep, SettingsDep, verify_csrf
from web.history_page import Filters, page_of
from web.history_page import decks_with_history as history_decks
from web.practice import NotFound
from web.routes_pages import render
from web.settings import Settings
from web.upload import NameTaken, Stash, Upload, UploadError, free_name, read_upload, save, taken

router = APIRouter(include_in_schema=False)

PREVIEW_CARDS = 200  # the preview lists this many cards; a big deck's page stays small
FilterText = Annotated[str | None, Query(max_length=200)]
Days = Annotated[int, Query(ge=1, le=365)]


def _method(practice: Any) -> str:
    """The method grading new answers, whose calibration the stats pages show."""
    return "llm" if practice.settings.llm_model else practice.offline.method


def _calibrator(request: Request) -> Calibrator:
    return request.app.state.calibrator  # type: ignore[no-any-return]


# --- history ----------------------------------------------------------------------------------


@router.get("/history", name="history")
def history(
    request: Request,
    practice: PracticeDep,
    deck: FilterText = None,
    card: FilterText = None,
    overridden: bool = False,
    page: Annotated[int, Query(ge=1, le=10**9)] = 1,
) -> HTMLResponse:
    filters = Filters((deck or "").strip() or None, (card or "").strip() or None, overridden)
    try:
        result = page_of(practice.store, practice.catalog, filters, page)
    except DeckNotFound as exc:
        raise NotFound(str(exc)) from None
    chosen, selected_card = None, filters.card
    if filters.deck is not None:
        try:
            chosen = practice.catalog.get(filters.deck)
            if filters.card is not None:
                selected_card = chosen.card(filters.card).id
        except (DeckNotFound, CardNotFound):
            pass
    titles = dict(history_decks(practice.catalog, practice.store))
    csv_params = filters.params()
    context = {
        "result": result,
        "filters": filters,
        "decks": titles,
        "deck": chosen,
        "selected_card": selected_card,
        "titles": titles,
        "positions": _positions(practice),
        "csv_url": "/api/attempts.csv" + (f"?{urlencode(csv_params)}" if csv_params else ""),
        "page_url": lambda n: "/history?" + urlencode(filters.params(page=n)),
    }
    return render(request, "history.html", context)


def _positions(practice: Any) -> dict[tuple[str, str], int]:
    return {(d.id, c.id): c.position for d in practice.catalog.decks() for c in d.cards}


# --- stats ------------------------------------------------------------------------------------


BY_CARD_ROWS = 50  # cards in the agreement table of a deck's stats


@router.get("/stats", name="stats")
def stats_all(request: Request, practice: PracticeDep, days: Days = stats.DEFAULT_DAYS) -> Response:
    figures = stats.compute(practice.store, practice.catalog, None, days=days)
    calibrator = _calibrator(request)
    method = _method(practice)
    states = {d: calibrator.state(d, method) for d in figures.agreement.by_deck}
    return _stats_page(request, practice, figures, states=states)


@router.get("/decks/{deck}/stats", name="deck_stats")
def stats_deck(
    request: Request,
    deck: str,
    practice: PracticeDep,
    token: CsrfToken,
    days: Days = stats.DEFAULT_DAYS,
) -> Response:
    try:
        figures = stats.compute(practice.store, practice.catalog, deck, days=days)
    except stats.NoSuchDeck as exc:
        raise NotFound(str(exc)) from None
    calibration = _calibrator(request).state(deck, _method(practice))
    return _stats_page(request, practice, figures, calibration=calibration, token=token)


def _stats_page(
    request: Request,
    practice: Any,
    figures: stats.Stats,
    *,
    states: dict[str, Any] | None = None,
    calibration: Any = None,
    token: str | None = None,
) -> HTMLResponse:
    decks = practice.catalog.decks()
    cards = {(d.id, c.id): c for d in decks for c in d.cards}
    # a page of at most BY_CARD_ROWS cards, those where the person differs most
    differing = sorted(
        figures.agreement.by_card.items(), key=lambda item: (-item[1].mean_abs, -item[1].n)
    )[:BY_CARD_ROWS]
    by_card = sorted(
        differing,
        key=lambda item: (
            item[0][0],
            cards[item[0]].position if item[0] in cards else 10**9,
            item[0][1],
        ),
    )
    context = {
        **_chart_context(figures),
        "cards": cards,
        "by_card": by_card,
        "by_card_total": len(figures.agreement.by_card),
        "titles": {d.id: d.title for d in decks},
        "states": states or {},
        "calibration": calibration,
        "csrf_token": token,
        "llm_configured": bool(practice.settings.llm_model),
    }
    return render(request, "stats.html", context)


def _chart_context(s: stats.Stats) -> dict[str, Any]:
    """The figures and their charts (inline SVG) for stats.html."""
    scope = s.title
    reviews = [
        charts.Datum(
            f"{d.day} {d:%b}",
            f"{d:%a %-d %b %Y}: {n} review{'s' if n != 1 else ''}",
            n,
        )
        for d, n in s.reviews_per_day
    ]
    mastery = [
        charts.Datum(
            f"{d.day} {d:%b}",
            f"{d:%a %-d %b %Y}: {m} of {s.cards} cards mastered ({_pct(m, s.cards)})",
            m / s.cards if s.cards else 0.0,
        )
        for d, m in s.mastery
    ]
    busiest = max(s.reviews_per_day, key=lambda x: x[1], default=None)
    reviews_desc = (
        f"{s.reviews_in_window} reviews in the last {s.days} days"
        + (f"; the most, {busiest[1]}, on {busiest[0]:%-d %b}" if busiest and busiest[1] else "")
        + "."
    )
    mastery_desc = (
        f"Share of the {s.cards} cards whose last score is 4 or 5 and which are not overdue, "
        f"at the end of each of the last {s.days} days; now {s.mastered_now} "
        f"({_pct(s.mastered_now, s.cards)})."
    )
    counts = ", ".join(f"{n}: {c}" for n, c in enumerate(s.score_counts, 1))
    return {
        "s": s,
        "reviews_chart": charts.bar_chart(
            reviews,
            chart_id="reviews",
            title=f"Reviews per day · {scope}",
            desc=reviews_desc,
            empty="No reviews in these days",
        ),
        "mastery_chart": charts.line_chart(
            mastery if s.scored else [],
            chart_id="mastery",
            title=f"Mastery over time · {scope}",
            desc=mastery_desc,
            empty="No scored answers yet",
        ),
        "scores_chart": charts.score_bars(
            s.score_counts,
            chart_id="scores",
            title=f"Final scores · {scope}",
            desc=f"How often each final score was given: {counts}.",
        ),
        "meter": charts.meter,
        "pct": _pct,
        "windows": stats.WINDOWS,
    }


def _pct(part: float, whole: float) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


@router.post("/decks/{deck}/calibration", name="calibration", dependencies=[Depends(verify_csrf)])
def set_calibration(
    request: Request,
    deck: str,
    practice: PracticeDep,
    enabled: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    """The deck's own calibration switch (the global one is FLASHGRADE_CALIBRATION)."""
    if not stats.deck_exists(practice.catalog, deck):
        raise NotFound(f"no deck {deck!r}")
    _calibrator(request).set_enabled(deck, enabled)
    url = str(request.app.url_path_for("deck_stats", deck=deck)) + "#calibration"
    return RedirectResponse(url, status_code=303)


# --- deck upload ------------------------------------------------------------------------------


def _upload_page(
    request: Request,
    settings: Settings,
    token: str,
    *,
    upload: Upload | None = None,
    stash_token: str | None = None,
    name: str = "",
    existing: str | None = None,
    same_title: Deck | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "same_title": same_title,
        "csrf_token": token,
        "upload": upload,
        "stash_token": stash_token,
        "name": name,
        "existing": existing,
        "error": error,
        "formats": FORMATS,
        "limit": settings.max_upload_bytes,
        "preview_limit": PREVIEW_CARDS,
    }
    return render(request, "upload.html", context, status_code=status_code)


@router.get("/upload", name="upload")
def upload_form(request: Request, settings: SettingsDep, token: CsrfToken) -> HTMLResponse:
    return _upload_page(request, settings, token)


@router.post("/upload", name="upload_preview")
async def upload_preview(
    request: Request, settings: SettingsDep, practice: PracticeDep, token: CsrfToken
) -> Response:
    """Step 1: read the file and show what it holds; nothing is saved in the decks yet."""
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as exc:  # Starlette's: the body guard raises it while reading
        if exc.status_code != 413:
            raise
        error = f"The file is too large: decks up to {settings.max_upload_bytes:,} bytes."
        return _upload_page(request, settings, token, error=error, status_code=413)
    await verify_csrf(request)  # on the form just read
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        return _upload_page(
            request, settings, token, error="Choose a deck file to upload.", status_code=422
        )
    data = await file.read(settings.max_upload_bytes + 1)
    wanted = form.get("format")
    try:
        # parsing a large deck takes a while: not on the event loop
        upload = await run_in_threadpool(
            read_upload,
            data,
            file.filename,
            limit=settings.max_upload_bytes,
            wanted=wanted if isinstance(wanted, str) and wanted else "auto",
        )
    except UploadError as exc:
        status = 413 if len(data) > settings.max_upload_bytes else 422
        return _upload_page(request, settings, token, error=str(exc), status_code=status)
    stash = Stash(settings.data_dir / "uploads")
    stash_token = await run_in_threadpool(stash.put, upload)
    # Post/Redirect/Get: the browser's Back and Reload come to the preview, not to a re-post
    url = request.app.url_path_for("upload_preview_page", stash_token=stash_token)
    return RedirectResponse(str(url), status_code=303)


@router.get("/upload/preview/{stash_token}", name="upload_preview_page")
def upload_preview_page(
    request: Request,
    settings: SettingsDep,
    practice: PracticeDep,
    token: CsrfToken,
    stash_token: Annotated[str, PathParam(max_length=100)],
) -> HTMLResponse:
    """Step 1's page: what the uploaded file holds, and the form that saves it."""
    try:
        upload = Stash(settings.data_dir / "uploads").get(stash_token)
    except UploadError as exc:
        return _upload_page(request, settings, token, error=str(exc), status_code=410)
    name = free_name(practice.catalog, upload.suggested_name)
    existing = upload.suggested_name if name != upload.suggested_name else None
    # the same deck exported again, most likely: saved under another name, it would be a twin
    title = upload.deck.title.casefold()
    same_title = next(
        (d for d in practice.catalog.decks() if d.title.casefold() == title and d.id != existing),
        None,
    )
    return _upload_page(
        request,
        settings,
        token,
        upload=upload,
        stash_token=stash_token,
        name=name,
        existing=existing,
        same_title=same_title,
    )


@router.post("/upload/save", name="upload_save", dependencies=[Depends(verify_csrf)])
def upload_save(
    request: Request,
    settings: SettingsDep,
    practice: PracticeDep,
    token: CsrfToken,
    upload_token: Annotated[str, Form(max_length=100)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    replace: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Step 2: save the previewed deck as Markdown in the decks directory: as ``name``, or
    over the deck named by ``replace`` (a separate button, so it is never by accident)."""
    stash = Stash(settings.data_dir / "uploads")
    try:
        upload = stash.get(upload_token)
    except UploadError as exc:
        return _upload_page(request, settings, token, error=str(exc), status_code=410)
    target = replace.strip() or name.strip()

    def preview_again(error: str, status_code: int, *, name: str, existing: str | None) -> Response:
        return _upload_page(
            request,
            settings,
            token,
            upload=upload,
            stash_token=upload_token,
            name=name,
            existing=existing,
            error=f"Not saved: {error}",
            status_code=status_code,
        )

    try:
        path = save(practice.catalog, upload.markdown, target, replace=bool(replace.strip()))
    except NameTaken as exc:
        free = free_name(practice.catalog, target)
        return preview_again(f"{exc} Nothing was changed.", 409, name=free, existing=target)
    except UploadError as exc:
        existing = target if taken(practice.catalog, target) else None
        return preview_again(str(exc), 422, name=name, existing=existing)
    stash.drop(upload_token)
    url = str(request.app.url_path_for("deck", deck=path.stem)) + "?added=1"
    return RedirectResponse(url, status_code=303)
