"""Deck pages: the home page's list, a deck's cards (a page at a time), and deck upload.

Upload is two steps: the file is read and previewed, and saved as Markdown only when the
person confirms. Every form that changes state carries a CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from grader import Deck
from web.catalog import labelled
from web.deps import CsrfToken, PersonDep, PracticeDep, SettingsDep, require_admin, verify_csrf
from web.practice import PAGE_SIZE, NotFound
from web.settings import Settings
from web.templating import cards_url, render
from web.upload import (
    UPLOAD_FORMATS,
    NameTaken,
    Stash,
    Upload,
    UploadError,
    free_name,
    read_upload,
    save,
    taken,
)

router = APIRouter(include_in_schema=False)

PREVIEW_CARDS = 200  # the preview lists this many cards; a big deck's page stays small


@router.get("/", name="home")
def home(
    request: Request,
    practice: PracticeDep,
    settings: SettingsDep,
    token: CsrfToken,
    person: PersonDep,
) -> HTMLResponse:
    overview = practice.overview()
    return render(
        request,
        "home.html",
        {
            "decks": overview,
            "labels": dict(labelled((c.deck.id, c.deck.title) for c in overview)),
            "errors": practice.catalog.errors(),
            "problems": practice.catalog.problems(),
            "decks_dir": practice.catalog.decks_dir,
            # the deck upload form (below), for those who manage decks
            "can_upload": person.is_admin,
            "csrf_token": token,
            "formats": UPLOAD_FORMATS,
            "limit": settings.max_upload_bytes,
        },
    )


@router.get("/decks/{deck}", name="deck")
def deck_page(
    request: Request,
    deck: str,
    practice: PracticeDep,
    person: PersonDep,
    added: bool = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    """The deck's cards, ``PAGE_SIZE`` a page, with their schedules."""
    pages = max(1, -(-len(practice.deck(deck).cards) // PAGE_SIZE))
    if page > pages:
        raise NotFound(f"no page {page}: the deck has {pages}")
    counts, rows = practice.deck_cards(deck, page)
    context = {
        "deck": counts.deck,
        "counts": counts,
        "rows": rows,
        "page": page,
        "pages": pages,
        # one url_for for the page, not one per card
        "cards_url": cards_url(request, counts.deck.id),
        "added": added,
        "file_error": practice.catalog.error_of(counts.deck.id),
        "can_edit": person.is_admin,  # the card editor's links
    }
    return render(request, "deck.html", context)


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
        "formats": UPLOAD_FORMATS,
        "limit": settings.max_upload_bytes,
        "preview_limit": PREVIEW_CARDS,
    }
    return render(request, "upload.html", context, status_code=status_code)


def _stash(settings: Settings) -> Stash:
    return Stash(
        settings.data_dir / "uploads",
        max_bytes=settings.upload_stash_max_bytes,
        max_files=settings.upload_stash_max_files,
    )


@router.get("/upload", name="upload", dependencies=[Depends(require_admin)])
def upload_form(request: Request, settings: SettingsDep, token: CsrfToken) -> HTMLResponse:
    return _upload_page(request, settings, token)


@router.post("/upload", name="upload_preview", dependencies=[Depends(require_admin)])
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
            max_collection_bytes=settings.max_upload_collection_bytes,
        )
    except UploadError as exc:
        status = 413 if len(data) > settings.max_upload_bytes else 422
        return _upload_page(request, settings, token, error=str(exc), status_code=status)
    stash = _stash(settings)
    stash_token = await run_in_threadpool(stash.put, upload)
    # Post/Redirect/Get: the browser's Back and Reload come to the preview, not to a re-post
    url = request.app.url_path_for("upload_preview_page", stash_token=stash_token)
    return RedirectResponse(str(url), status_code=303)


@router.get(
    "/upload/preview/{stash_token}",
    name="upload_preview_page",
    dependencies=[Depends(require_admin)],
)
def upload_preview_page(
    request: Request,
    settings: SettingsDep,
    practice: PracticeDep,
    token: CsrfToken,
    stash_token: Annotated[str, PathParam(max_length=100)],
) -> HTMLResponse:
    """Step 1's page: what the uploaded file holds, and the form that saves it."""
    try:
        upload = _stash(settings).get(stash_token)
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


@router.post(
    "/upload/save", name="upload_save", dependencies=[Depends(require_admin), Depends(verify_csrf)]
)
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
    stash = _stash(settings)
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
