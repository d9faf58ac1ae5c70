"""Practice pages: the next card, an answer sent, its feedback, and the final score. They
work without JavaScript.

Every form that changes state carries a CSRF token; posts answer with a redirect (303) so a
reload never submits twice.
"""

from __future__ import annotations

import secrets
import time
from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError

from grader import Card, CardNotFound, Deck
from web.deck_calibration import note as calibration_note
from web.deps import CsrfToken, PracticeDep, SettingsDep, verify_csrf
from web.highlight import segments
from web.practice import MAX_SECONDS, PAGE_SIZE, AnswerTooLong, NotFound, Practice
from web.storage.database import unavailable_reason
from web.storage.models import Attempt
from web.templating import cards_url, render

router = APIRouter(include_in_schema=False)

_STATUS_ORDER = {"missing": 0, "partial": 1, "covered": 2}


def _see_other(request: Request, name: str, query: str = "", **params: Any) -> RedirectResponse:
    url = str(request.app.url_path_for(name, **params)) + query
    return RedirectResponse(url, status_code=303)


@router.get("/decks/{deck}/practice", name="practice")
def practice_next(
    request: Request,
    deck: str,
    practice: PracticeDep,
    token: CsrfToken,
    scored: int | None = None,
    mono: bool = False,
) -> HTMLResponse:
    """The next due card (or new one); when there is none, the practise-ahead page."""
    d = practice.deck(deck)
    last = _scored_attempt(practice, d, scored)
    card = practice.next_card(deck)
    if card is None:
        counts, rows = practice.deck_cards(deck, 1)
        context = {
            "deck": d,
            "counts": counts,
            "rows": rows,
            "pages": -(-len(d.cards) // PAGE_SIZE),
            "cards_url": cards_url(request, d.id),
            "last": last,
            "next_due": practice.next_due_at(deck),
            "learn_ahead": practice.settings.learn_ahead_minutes,
        }
        return render(request, "done.html", context)
    # a card shown before it is due: a learning step within the learn-ahead limit
    state = practice.card_state(d.id, card.id)
    early = state.due if state is not None and state.due > practice.clock() else None
    return _practice_page(request, d, card, token, last=last, mono=mono, early=early)


@router.get("/decks/{deck}/cards/{card}", name="card")
def practice_card(
    request: Request,
    deck: str,
    card: str,
    practice: PracticeDep,
    token: CsrfToken,
    mono: bool = False,
) -> HTMLResponse:
    """Practise one chosen card, due or not ("practise ahead")."""
    d, c = practice.card(deck, card)
    state = practice.card_state(d.id, c.id)
    ahead = state is not None and state.due > practice.clock()  # a new or due card is not
    return _practice_page(request, d, c, token, mono=mono, ahead=ahead)


def _practice_page(
    request: Request,
    deck: Deck,
    card: Card,
    token: str,
    *,
    last: dict[str, Any] | None = None,
    mono: bool = False,
    ahead: bool = False,
    early: datetime | None = None,
    answer: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "deck": deck,
        "card": card,
        "csrf_token": token,
        "shown_at": int(time.time() * 1000),
        # one attempt per showing of the form: Back and send again shows the first one
        "form_key": secrets.token_urlsafe(16),
        "last": last,
        "mono": mono,
        "ahead": ahead,
        "early": early,
        "answer": answer,
        "error": error,
        "max_chars": request.app.state.settings.max_answer_chars,
    }
    # kept for Back (not no-store): the page comes back with the same one-time form key, so
    # sending it again shows the first attempt instead of storing a second
    return render(
        request, "practice.html", context, status_code=status_code, cache="private, no-cache"
    )


def _scored_attempt(
    practice: Practice, deck: Deck, attempt_id: int | None
) -> dict[str, Any] | None:
    """The attempt just scored, with its card's next due date, for the "scored" banner."""
    if attempt_id is None or not 1 <= attempt_id <= 2**62:
        return None
    try:
        attempt = practice.attempt(attempt_id)
    except NotFound:
        return None
    if attempt.deck_id != deck.id or attempt.final is None:
        return None
    state = practice.card_state(attempt.deck_id, attempt.card_id)
    try:
        name = f"Card {deck.card(attempt.card_id).position}"
    except LookupError:
        name = f"Card {attempt.card_id}"
    return {
        "attempt": attempt,
        "name": name,
        "label": deck.label(attempt.final),
        "due": state.due if state else None,
    }


def _seconds(seconds: str, shown_at: str) -> float | None:
    """Time taken: the browser's measure when JavaScript sent one, else since the page was
    rendered (the server's ``shown_at``)."""
    try:
        value = float(seconds)
        if 0 <= value <= MAX_SECONDS:
            return value
    except ValueError:
        pass
    try:
        elapsed = time.time() - int(shown_at) / 1000
    except (ValueError, OverflowError):  # OverflowError: too big for a float
        return None
    return elapsed if 0 <= elapsed <= MAX_SECONDS else None


@router.post(
    "/decks/{deck}/cards/{card}/attempts", name="submit", dependencies=[Depends(verify_csrf)]
)
async def submit(
    request: Request,
    deck: str,
    card: str,
    practice: PracticeDep,
    token: CsrfToken,
    answer: Annotated[str, Form()] = "",
    seconds: Annotated[str, Form()] = "",
    shown_at: Annotated[str, Form()] = "",
    mono: Annotated[bool, Form()] = False,
    form_key: Annotated[str, Form(max_length=100, pattern=r"^[A-Za-z0-9_-]*$")] = "",
    dont_know: Annotated[bool, Form()] = False,
) -> Response:
    answer = answer.replace("\r\n", "\n")  # browsers send a textarea's line ends as CRLF
    if dont_know:  # "I don't know": an empty answer (suggested 1) whatever was typed
        answer = ""
    try:
        d, c = practice.card(deck, card)
    except NotFound as exc:
        # the card left the deck file while its answer was typed: the answer is not lost
        context = {"status": 404, "detail": str(exc), "kept_answer": answer}
        return render(request, "error.html", context, status_code=404)
    try:
        took = _seconds(seconds, shown_at)
        if form_key:
            once = await practice.submit_once(f"form:{form_key}", deck, card, answer, seconds=took)
            attempt_id = once.attempt_id
        else:
            attempt_id = (await practice.submit(deck, card, answer, seconds=took)).attempt_id
    except AnswerTooLong as exc:
        # keep what was typed: nothing is lost, the person can shorten it
        return _practice_page(
            request, d, c, token, mono=mono, answer=answer, error=str(exc), status_code=413
        )
    except OperationalError as exc:
        reason = unavailable_reason(exc)
        if reason is None:
            raise
        # the same: what was typed stays on the page, to be sent again
        error = f"Your answer could not be saved just now (the database: {reason}). Try again."
        return _practice_page(
            request, d, c, token, mono=mono, answer=answer, error=error, status_code=503
        )
    return _see_other(request, "feedback", "?mono=1" if mono else "", attempt_id=attempt_id)


@router.get("/attempts/{attempt_id}", name="feedback")
def feedback(
    request: Request,
    attempt_id: int,
    practice: PracticeDep,
    settings: SettingsDep,
    token: CsrfToken,
    mono: bool = False,
) -> HTMLResponse:
    attempt = _attempt(practice, attempt_id)
    deck: Deck | None = None
    card: Card | None = None
    # a deck or card gone from the files: the attempt's snapshot remains
    with suppress(NotFound):
        deck = practice.deck(attempt.deck_id)
    if deck is not None:
        with suppress(CardNotFound):
            card = deck.card(attempt.card_id)
    graded = attempt.point_results
    points = sorted(graded, key=lambda p: (_STATUS_ORDER.get(p.status, 3), p.position))
    spans = [(p.point_id, p.status, p.span_start, p.span_end) for p in graded]
    state = practice.card_state(attempt.deck_id, attempt.card_id)
    context = {
        "attempt": attempt,
        "deck": deck,
        "card": card,
        "points": points,
        "missing": [p for p in points if p.status == "missing"],
        "status": {p.point_id: p.status for p in graded},  # to mark the reference's points
        "segments": segments(attempt.answer, spans),
        "selected": attempt.final or attempt.suggested,
        "labels": {n: _label(deck, n) for n in range(1, 6)},
        "state": state if attempt.final is not None else None,
        "csrf_token": token,
        "mono": mono,
        "llm_configured": bool(settings.llm_model),
        "calibration_note": calibration_note(attempt, request.app.state.calibrator),
    }
    return render(request, "feedback.html", context)


def _label(deck: Deck | None, score: int) -> str:
    return deck.label(score) if deck is not None else str(score)


def _attempt(practice: Practice, attempt_id: int) -> Attempt:
    if not 1 <= attempt_id <= 2**62:
        raise NotFound(f"no attempt {attempt_id}")
    return practice.attempt(attempt_id)


@router.post("/attempts/{attempt_id}/score", name="score", dependencies=[Depends(verify_csrf)])
def score(
    request: Request,
    attempt_id: int,
    practice: PracticeDep,
    score: Annotated[int, Form(ge=1, le=5)],
    mono: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    _attempt(practice, attempt_id)
    scored = practice.set_score(attempt_id, score)
    deck_id = scored.attempt.deck_id
    try:
        practice.deck(deck_id)
    except NotFound:  # its deck file is gone: back to the attempt, now scored
        return _see_other(request, "feedback", "?mono=1" if mono else "", attempt_id=attempt_id)
    query = f"?scored={attempt_id}" + ("&mono=1" if mono else "")
    return _see_other(request, "practice", query, deck=deck_id)
