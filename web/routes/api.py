"""The JSON API of DESIGN.md, plus ``/healthz``, ``/metrics`` and the API's docs page.

DB-only endpoints are plain ``def`` (FastAPI runs them in a worker thread); the grading ones
are ``async`` and hand their database work to a thread themselves.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse
from pydantic_core import to_json
from starlette.concurrency import run_in_threadpool

from grader import Card
from grader.cards import Alias
from grader.decks._common import SLUG_RE
from web.card_editor import CardForm, EditError, card_from_form, draft_card
from web.deps import MetricsDep, PersonDep, PracticeDep, current_person, require_admin
from web.metrics import CONTENT_TYPE_LATEST
from web.routes.schemas import (
    CSV_FIELDS,
    AttemptOut,
    AttemptRequest,
    AttemptRow,
    CardSummary,
    DeckDetail,
    DeckSummary,
    DraftCard,
    DraftPoint,
    ErrorOut,
    GradeOut,
    GradeRequest,
    Health,
    NextCard,
    ScoreOut,
    ScoreRequest,
)
from web.storage.models import Attempt
from web.templating import render

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown deck, card or attempt"},
    422: {"model": ErrorOut, "description": "malformed or invalid input"},
}
_BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    413: {"model": ErrorOut, "description": "the answer or the body is too large"},
    415: {"model": ErrorOut, "description": "the body is not JSON"},
}

AttemptId = Annotated[int, Path(ge=1, le=2**62, description="the attempt's id")]
DeckFilter = Annotated[str | None, Query(max_length=200, description="deck id")]
CardFilter = Annotated[str | None, Query(max_length=200, description="card id or position")]
Overridden = Annotated[
    bool, Query(description="only attempts whose final score differs from the suggestion")
]

api = APIRouter(prefix="/api", tags=["api"], responses=_ERRORS)
ops = APIRouter(tags=["operations"])


@ops.get("/healthz", response_model=Health, summary="Liveness")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@ops.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "text format"}},
    dependencies=[Depends(require_admin)],
)
async def metrics(m: MetricsDep) -> Response:
    # in a thread: the agreement gauges are read from the database at scrape time
    return Response(await run_in_threadpool(m.exposition), media_type=CONTENT_TYPE_LATEST)


@api.get("/decks", response_model=list[DeckSummary], summary="Every deck with due and new counts")
def list_decks(practice: PracticeDep) -> list[dict[str, Any]]:
    return [
        {
            "id": c.deck.id,
            "title": c.deck.title,
            "card_count": len(c.deck.cards),
            "due": c.due,
            "new": c.new,
        }
        for c in practice.overview()
    ]


@api.get("/decks/{deck}", response_model=DeckDetail, summary="A deck's cards and due dates")
def get_deck(deck: str, practice: PracticeDep) -> dict[str, Any]:
    counts, rows = practice.deck_cards(deck)
    cards = [
        CardSummary(id=r.card.id, position=r.card.position, question=r.card.question, due=r.due)
        for r in rows
    ]
    return {"id": counts.deck.id, "title": counts.deck.title, "cards": cards}


@api.get(
    "/decks/{deck}/next",
    response_model=NextCard,
    summary="The next due card",
    responses={204: {"description": "nothing is due and today's new cards are done"}},
)
def next_card(deck: str, practice: PracticeDep) -> Any:
    card = practice.next_card(deck)
    if card is None:
        return Response(status_code=204)
    return {"id": card.id, "position": card.position, "question": card.question}


@api.post(
    "/grade",
    response_model=GradeOut,
    summary="Grade an answer (stores nothing)",
    responses=_BODY_ERRORS,
)
async def grade(body: GradeRequest, practice: PracticeDep, person: PersonDep) -> Response:
    if body.draft is not None:  # the card editor's unsaved card, graded in the deck
        if not person.is_admin:  # drafts are for those who write cards (and may cost LLM calls)
            raise HTTPException(403, "only an admin can grade a draft card")
        graded = await practice.grade_card(
            practice.deck(body.deck), draft_of(body.draft, body.card), body.answer
        )
    else:
        assert body.card is not None  # the request's validator sees to it
        graded = await practice.grade(body.deck, body.card, body.answer)
    return _json(graded.to_dict())


def draft_of(draft: DraftCard, card: str | int | None) -> Card:
    """The Card a request's draft describes; 422 when nothing of it is left to grade."""
    card_id = str(card) if card is not None and SLUG_RE.match(str(card)) else "draft"
    if draft.points_markdown is not None:  # the editor's field, read as saving reads it
        form = CardForm(draft.question, draft.points_markdown, draft.summary or "")
        try:
            return card_from_form(form, card_id)
        except EditError as exc:
            raise HTTPException(422, str(exc)) from None
    points = [
        (p.section, p.text, [Alias(a.term, tuple(a.alternatives)) for a in p.aliases])
        if isinstance(p, DraftPoint)
        else ("", p, [])
        for p in draft.points or ()
    ]
    try:
        return draft_card(card_id, draft.question, points, draft.summary)
    except EditError as exc:
        raise HTTPException(422, str(exc)) from None


@api.post(
    "/attempts",
    response_model=AttemptOut,
    status_code=201,
    summary="Grade an answer and store the attempt",
    responses=_BODY_ERRORS,
)
async def create_attempt(
    body: AttemptRequest,
    practice: PracticeDep,
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
) -> Response:
    """With an ``Idempotency-Key``, a retry within 24 hours gets the first reply and stores
    nothing (``Idempotent-Replayed: true`` says so)."""
    if idempotency_key is None:
        submitted = await practice.submit(body.deck, body.card, body.answer, seconds=body.seconds)
        attempt_id, reply, replayed = submitted.attempt_id, submitted.to_dict(), False
    else:
        once = await practice.submit_once(
            f"api:{idempotency_key}", body.deck, body.card, body.answer, seconds=body.seconds
        )
        attempt_id, reply, replayed = once.attempt_id, once.reply, once.replayed
    headers = {"Location": f"/attempts/{attempt_id}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return _json(reply, status=201, headers=headers)


def _json(content: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response without FastAPI's re-validation of the model: the grading endpoints'
    objects are built from typed results (tests check them against the models), and the
    validation would cost more than the rest of the request's own work."""
    return Response(
        to_json(content), status_code=status, headers=headers, media_type="application/json"
    )


@api.post(
    "/attempts/{attempt_id}/score",
    response_model=ScoreOut,
    summary="Give (or replace) an attempt's final score; reschedules the card",
    responses=_BODY_ERRORS,
)
def score_attempt(attempt_id: AttemptId, body: ScoreRequest, practice: PracticeDep) -> ScoreOut:
    scored = practice.set_score(attempt_id, body.score)
    a = scored.attempt
    return ScoreOut(
        attempt_id=a.id, suggested=a.suggested, final=body.score, next_due=scored.next_due
    )


@api.get("/attempts", response_model=list[AttemptRow], summary="Attempts, newest first")
def list_attempts(
    practice: PracticeDep,
    deck: DeckFilter = None,
    card: CardFilter = None,
    overridden: Overridden = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> list[dict[str, Any]]:
    rows = practice.list_attempts(
        deck_id=deck, card_key=card, overridden=overridden, limit=limit, offset=offset
    )
    return [attempt_row(a) for a in rows]


@api.get(
    "/attempts.csv",
    summary="Attempts as CSV (UTF-8, header row)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "the rows of GET /api/attempts"}},
)
def attempts_csv(
    practice: PracticeDep,
    deck: DeckFilter = None,
    card: CardFilter = None,
    overridden: Overridden = False,
) -> StreamingResponse:
    # 404 before streaming starts
    rows = practice.iter_attempts(deck_id=deck, card_key=card, overridden=overridden)
    first = next(rows, None)
    return StreamingResponse(
        _csv_lines(first, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="flashgrade-attempts.csv"'},
    )


def _csv_lines(first: Attempt | None, rest: Iterator[Attempt]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\r\n")
    writer.writeheader()
    if first is not None:
        writer.writerow(_csv_row(first))
        for n, attempt in enumerate(rest, 1):
            writer.writerow(_csv_row(attempt))
            if n % 200 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such a cell gets a leading ' (OWASP's advice), which the spreadsheet shows as text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_row(attempt: Attempt) -> dict[str, Any]:
    row = attempt_row(attempt)
    row["created_at"] = attempt.created_at.isoformat()
    row["final"] = "" if attempt.final is None else attempt.final
    return {
        k: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
        for k, v in row.items()
    }


def attempt_row(a: Attempt) -> dict[str, Any]:
    return {
        "attempt_id": a.id,
        "deck": a.deck_id,
        "card": a.card_id,
        "answer": a.answer,
        "suggested": a.suggested,
        "final": a.final,
        "created_at": a.created_at,
    }


@ops.get("/openapi.json", include_in_schema=False, dependencies=[Depends(current_person)])
def openapi(request: Request) -> dict[str, Any]:
    """The OpenAPI document (FastAPI's own route would be open to anyone)."""
    return request.app.openapi()  # type: ignore[no-any-return]


@ops.get("/docs", name="docs", include_in_schema=False, dependencies=[Depends(current_person)])
def docs(request: Request) -> HTMLResponse:
    """The OpenAPI page, served from local files (no CDN) and without inline script."""
    return render(request, "docs.html", {"swagger": request.app.state.swagger_ui})
