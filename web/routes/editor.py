"""The card editor's pages (admins only): edit a card of a Markdown deck, or add one.

Saving is a plain form post (it works without JavaScript): 303 to the editor again once
saved, else the form as it was posted with a one-line error: 409 when the deck file changed
on disk since the editor was opened, 422 when the card cannot be read. The "try an answer"
box grades the unsaved card: live through POST /api/grade's ``draft`` (web/static/editor.js),
or with the form's Try button, which saves nothing.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from grader import Card, Deck
from web.card_editor import (
    MAX_POINTS_CHARS,
    MAX_QUESTION_CHARS,
    MAX_SUMMARY_CHARS,
    CardForm,
    DeckFile,
    EditError,
    FileChanged,
    card_from_form,
    open_deck_file,
    save_card,
)
from web.deps import CsrfToken, PracticeDep, require_admin, verify_csrf
from web.practice import Graded, NotFound, Practice
from web.templating import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_admin)])


class EditorForm(BaseModel):
    """The editor form's fields; the body limit bounds them all, and the card's own limits
    (web/card_editor.py) say in the form what is too long."""

    question: str = Field("", max_length=4 * MAX_QUESTION_CHARS)
    points: str = Field("", max_length=4 * MAX_POINTS_CHARS)
    summary: str = Field("", max_length=4 * MAX_SUMMARY_CHARS)
    version: str = Field("", max_length=100)  # the deck file's hash when the editor opened
    answer: str = Field("", max_length=200_000)  # the try box's
    action: str = Field("save", max_length=20)  # "save", or "try" to grade unsaved

    @property
    def card(self) -> CardForm:
        return CardForm(self.question, self.points, self.summary)


Posted = Annotated[EditorForm, Form()]


def _page(
    request: Request,
    practice: Practice,
    token: str,
    *,
    deck: Deck,
    card: Card | None,
    form: CardForm,
    version: str,
    answer: str = "",
    tried: Graded | None = None,
    saved: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "deck": deck,
        "card": card,  # None: a new card
        "form": form,
        "version": version,
        "answer": answer,
        "tried": tried,
        "saved": saved,
        "error": error,
        "csrf_token": token,
        "max_answer_chars": practice.settings.max_answer_chars,
    }
    return render(request, "card_edit.html", context, status_code=status_code)


def _open(practice: Practice, deck_id: str) -> DeckFile:
    """The deck's file as it is now; an uneditable deck is an error page saying why (409)."""
    try:
        return open_deck_file(practice.deck(deck_id))
    except EditError as exc:
        raise HTTPException(409, f"This deck cannot be edited here: {exc}") from None


def _card_of(opened: DeckFile, key: str) -> Card:
    try:
        return opened.card(key)
    except LookupError as exc:
        raise NotFound(str(exc)) from None


@router.get("/decks/{deck}/cards/{card}/edit", name="card_edit")
def edit_card_page(
    request: Request,
    deck: str,
    card: str,
    practice: PracticeDep,
    token: CsrfToken,
    saved: bool = False,
) -> HTMLResponse:
    """The editor on a card, as its file holds it now."""
    opened = _open(practice, deck)
    found = _card_of(opened, card)
    return _page(
        request,
        practice,
        token,
        deck=opened.deck,
        card=found,
        form=CardForm.of(found),
        version=opened.version,
        saved=saved,
    )


@router.get("/decks/{deck}/add-card", name="card_new")
def new_card_page(
    request: Request, deck: str, practice: PracticeDep, token: CsrfToken
) -> HTMLResponse:
    """The editor on a new card, added at the end of the deck when saved."""
    opened = _open(practice, deck)
    return _page(
        request,
        practice,
        token,
        deck=opened.deck,
        card=None,
        form=CardForm(),
        version=opened.version,
    )


@router.post(
    "/decks/{deck}/cards/{card}/edit", name="card_save", dependencies=[Depends(verify_csrf)]
)
async def save_card_form(
    request: Request, deck: str, card: str, practice: PracticeDep, token: CsrfToken, posted: Posted
) -> Response:
    """Save the edited card (its id stays), or with ``action=try`` grade ``answer`` against it
    unsaved."""
    opened = await run_in_threadpool(_open, practice, deck)
    return await _submit(request, practice, token, opened, _card_of(opened, card), posted)


@router.post("/decks/{deck}/add-card", name="card_add", dependencies=[Depends(verify_csrf)])
async def add_card_form(
    request: Request, deck: str, practice: PracticeDep, token: CsrfToken, posted: Posted
) -> Response:
    """Add the card at the end of the deck (its id from its question), or try an answer."""
    opened = await run_in_threadpool(_open, practice, deck)
    return await _submit(request, practice, token, opened, None, posted)


async def _submit(
    request: Request,
    practice: Practice,
    token: str,
    opened: DeckFile,
    card: Card | None,
    posted: EditorForm,
) -> Response:
    form, version, answer = posted.card, posted.version, posted.answer

    def again(error: str | None, status: int, tried: Graded | None = None) -> HTMLResponse:
        # the form as posted, never lost; its version stays the one it was opened on
        return _page(
            request,
            practice,
            token,
            deck=opened.deck,
            card=card,
            form=form.normalised(),
            version=version,
            answer=answer,
            tried=tried,
            error=error,
            status_code=status,
        )

    if posted.action == "try":
        try:
            draft = card_from_form(form, card.id if card else "new-card")
        except EditError as exc:
            return again(f"Not graded: {exc}", 422)
        if not answer.strip():
            return again("Type an answer to try it against the card.", 422)
        if len(answer) > practice.settings.max_answer_chars:
            limit = practice.settings.max_answer_chars
            return again(f"Not graded: the answer is over {limit:,} characters.", 413)
        return again(None, 200, await practice.grade_card(opened.deck, draft, answer))
    try:
        saved = await run_in_threadpool(
            save_card, practice.catalog, opened.deck, card.id if card else None, form, version
        )
    except FileChanged as exc:
        return again(f"Not saved: {exc}", 409)
    except EditError as exc:
        return again(f"Not saved: {exc}", 422)
    url = request.app.url_path_for("card_edit", deck=opened.deck.id, card=saved.id)
    return RedirectResponse(f"{url}?saved=1", status_code=303)
