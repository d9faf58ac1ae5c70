"""The use cases: grade an answer, store an attempt, score it, pick the next card.

Pages and API call these and nothing lower. Database work is synchronous (run it in a thread
from async code); grading is async so that an LLM call never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError

from grader import Card, CardNotFound, Deck, GradeResult, grade_async
from grader.llm_types import ChatClient
from web import agreement
from web.catalog import Catalog, DeckNotFound
from web.deck_calibration import Calibrator
from web.metrics import Metrics
from web.offline_grading import OfflineGrader
from web.schedule import Schedule
from web.settings import Settings
from web.storage import attempt_queries, due, reviews
from web.storage.attempt_writer import AttemptWriter, insert_attempts
from web.storage.database import Store
from web.storage.models import LOCAL_PERSON, Attempt, CardState, IdempotencyKey, utcnow

MAX_SECONDS = 24 * 3600.0
PAGE_SIZE = 100  # cards per page of a deck
KEY_LIFETIME = timedelta(hours=24)  # an idempotency key answers its first reply this long


def storable(answer: str) -> str:
    """The answer as stored and graded: a NUL (which PostgreSQL's text refuses) becomes
    U+FFFD, keeping every other character and every offset of the evidence."""
    return answer.replace("\x00", "\ufffd")


class NotFound(LookupError):
    """An unknown deck, card or attempt; the message says which."""


class AnswerTooLong(ValueError):
    """An answer over ``max_answer_chars``."""


@dataclass(frozen=True, slots=True)
class Graded:
    deck: Deck
    card: Card
    result: GradeResult
    suggested: int  # the score to show: the grader's, or the deck's calibrated one

    def to_dict(self) -> dict[str, Any]:
        """The grade object of DESIGN.md, with the suggested score."""
        return {**self.result.to_dict(), "score": self.suggested}


@dataclass(frozen=True, slots=True)
class Submitted:
    """A stored attempt: its id and the grade it was given."""

    attempt_id: int
    graded: Graded

    def to_dict(self) -> dict[str, Any]:
        return {"attempt_id": self.attempt_id, **self.graded.to_dict()}


@dataclass(frozen=True, slots=True)
class Once:
    """The attempt stored under an idempotency key, and whether this request stored it."""

    attempt_id: int
    reply: dict[str, Any]  # the first reply: {"attempt_id", ...the grade object}
    replayed: bool


def reply_of(attempt: Attempt) -> dict[str, Any]:
    """The reply ``POST /api/attempts`` gave for a stored attempt (its grade object, with the
    suggestion shown), rebuilt from what the attempt keeps."""
    points = [
        {
            "id": p.get("id"),
            "section": p.get("section"),
            "text": p.get("text"),
            "status": p.get("status"),
            "evidence": p.get("evidence"),
            "contradicted": p.get("contradicted") is True,
        }
        for p in attempt.points or ()
    ]
    return {
        "attempt_id": attempt.id,
        "score": attempt.suggested,
        "coverage": round(attempt.coverage, 4),
        "method": attempt.method,
        "points": points,
        "missing": [p["text"] for p in points if p["status"] == "missing"],
        "warnings": list(attempt.warnings or ()),
        "grader_version": attempt.grader_version,
    }


class _KeyTaken(Exception):
    """Another request stored an attempt under the same key first."""


@dataclass(frozen=True, slots=True)
class Scored:
    attempt: Attempt
    next_due: datetime
    previous_final: int | None


class Practice:
    """flashgrade's use cases for one person, over one store, one catalog of decks and one
    scheduler. The app keeps one for local mode's person; ``for_person`` gives each signed-in
    person's request its own view (a shallow copy: the resources are shared)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        catalog: Catalog,
        schedule: Schedule,
        metrics: Metrics,
        offline: OfflineGrader,
        writer: AttemptWriter,
        *,
        calibrator: Calibrator | None = None,
        clock: Callable[[], datetime] = utcnow,
        person: int = LOCAL_PERSON,
    ) -> None:
        self.person = person  # whose attempts, schedules and calibration these are
        self.settings = settings
        self.calibrator = calibrator  # per-deck calibration of suggestions; None: never
        self.store = store
        self.catalog = catalog
        self.schedule = schedule
        self.metrics = metrics
        self.offline = offline
        self.writer = writer
        self.clock = clock
        # the app's LLM client (grader.llm.AsyncLLMClient), set for the app's lifetime; None:
        # offline grading only
        self.llm: ChatClient | None = None

    def for_person(self, person: int) -> Practice:
        """The same use cases over ``person``'s data."""
        if person == self.person:
            return self
        view = copy.copy(self)
        view.person = person
        return view

    # --- decks and cards ---------------------------------------------------------------------

    def deck(self, deck_id: str) -> Deck:
        try:
            return self.catalog.get(deck_id)
        except DeckNotFound as exc:
            raise NotFound(str(exc)) from None

    def card(self, deck_id: str, card_key: str | int) -> tuple[Deck, Card]:
        deck = self.deck(deck_id)
        try:
            return deck, deck.card(card_key)
        except CardNotFound as exc:
            raise NotFound(str(exc)) from None

    # --- grading -----------------------------------------------------------------------------

    def check_answer(self, answer: str) -> None:
        limit = self.settings.max_answer_chars
        if len(answer) > limit:
            raise AnswerTooLong(
                f"answer is {len(answer):,} characters long; the limit is {limit:,}"
            )

    def suggest(self, deck: Deck, card: Card, result: GradeResult) -> int:
        """The score to suggest for ``result``: every suggestion goes through here (calibration
        per deck hooks in at this point). A calibrated suggestion is the person's own scale,
        even where it says 1 beside a covered point: the grader's "at least 2 if a point is
        covered" holds for its own scores only, or it would override someone who consistently
        scores such answers 1."""
        if self.calibrator is None:
            return result.score
        return self.calibrator.apply(self.person, deck.id, result.score, result.method)

    async def grade(self, deck_id: str, card_key: str | int, answer: str) -> Graded:
        """Grade an answer without storing anything."""
        deck, card = self.card(deck_id, card_key)
        return await self.grade_card(deck, card, answer)

    async def grade_card(self, deck: Deck, card: Card, answer: str) -> Graded:
        """Grade an answer to ``card`` of ``deck``, stored or not (the card editor's draft),
        without storing anything."""
        llm = self.llm
        self.check_answer(answer)
        if llm is not None:
            result = await grade_async(
                card,
                answer,
                llm=llm,
                matcher=self.offline.method,  # type: ignore[arg-type]
                embedder=self.offline.embedder,
                strictness=self.settings.strictness,
            )
        else:
            result = await self.offline.grade(card, answer)
        self.metrics.grades.labels(result.method).inc()
        if llm is not None and result.method != "llm":
            self.metrics.llm_fallbacks.inc()
        self.metrics.record_llm(result.llm_usage)
        if not answer.strip():  # "I don't know": nothing for a calibration to adjust
            return Graded(deck, card, result, result.score)
        # the deck's map is read from the database (another process may have changed it):
        # one primary-key lookup, cheaper inline than a hop to a thread and back
        return Graded(deck, card, result, self.suggest(deck, card, result))

    async def submit(
        self,
        deck_id: str,
        card_key: str | int,
        answer: str,
        *,
        seconds: float | None,
    ) -> Submitted:
        """Grade an answer and store the attempt; it is committed when this returns."""
        answer = storable(answer)
        graded = await self.grade(deck_id, card_key, answer)
        attempt_id = await self.writer.add(self._attempt_row(graded, answer, seconds))
        self.metrics.attempts.inc()
        return Submitted(attempt_id, graded)

    async def submit_once(
        self,
        key: str,
        deck_id: str,
        card_key: str | int,
        answer: str,
        *,
        seconds: float | None,
    ) -> Once:
        """``submit`` under an idempotency key: the first request with ``key`` from this
        person within KEY_LIFETIME stores the attempt; every later one gets its reply and
        stores nothing (a client retrying after a timeout, a form sent twice)."""
        first = await asyncio.to_thread(self._keyed, key)
        if first is not None:
            return Once(first.id, reply_of(first), replayed=True)
        answer = storable(answer)
        graded = await self.grade(deck_id, card_key, answer)
        row = self._attempt_row(graded, answer, seconds)
        try:
            attempt_id = await asyncio.to_thread(self._store_keyed, key, row)
        except _KeyTaken:
            first = await asyncio.to_thread(self._keyed, key)
            assert first is not None  # the key's row and its attempt commit together
            return Once(first.id, reply_of(first), replayed=True)
        self.metrics.attempts.inc()
        return Once(attempt_id, Submitted(attempt_id, graded).to_dict(), replayed=False)

    def _keyed(self, key: str) -> Attempt | None:
        since = self.clock() - KEY_LIFETIME
        with self.store.read() as session:
            return session.scalar(
                select(Attempt)
                .join(IdempotencyKey, IdempotencyKey.attempt_id == Attempt.id)
                .where(
                    IdempotencyKey.person_id == self.person,
                    IdempotencyKey.key == key,
                    IdempotencyKey.created_at > since,
                )
            )

    def _store_keyed(self, key: str, row: dict[str, Any]) -> int:
        now = self.clock()
        try:
            with self.store.write() as session:
                # keys past their lifetime are free again (and need not be kept)
                session.execute(
                    delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEY_LIFETIME)
                )
                [attempt_id] = insert_attempts(session, [row])
                session.add(
                    IdempotencyKey(
                        person_id=self.person, key=key, attempt_id=attempt_id, created_at=now
                    )
                )
        except IntegrityError:
            raise _KeyTaken from None
        return attempt_id

    def _attempt_row(self, graded: Graded, answer: str, seconds: float | None) -> dict[str, Any]:
        result = graded.result
        if seconds is not None:
            seconds = min(max(float(seconds), 0.0), MAX_SECONDS)
        return {
            "person_id": self.person,
            "deck_id": graded.deck.id,
            "card_id": graded.card.id,
            "question": graded.card.question,
            "answer": answer,
            "grader_score": result.score,
            "suggested": graded.suggested,
            "coverage": float(result.coverage),
            "method": result.method,
            "grader_version": result.grader_version,
            "warnings": list(result.warnings),
            "llm_usage": result.llm_usage,
            "points": [
                {
                    "id": p.id,
                    "section": p.section,
                    "text": p.text,
                    "status": p.status,
                    "evidence": p.evidence,
                    "span": list(p.span) if p.span else None,
                    **({"contradicted": True} if p.contradicted else {}),
                }
                for p in result.points
            ],
            "final": None,
            "seconds": seconds,
            "created_at": self.clock(),
            "scored_at": None,
        }

    # --- attempts ----------------------------------------------------------------------------

    def attempt(self, attempt_id: int) -> Attempt:
        """The person's attempt; another person's is as unknown as one never made."""
        with self.store.read() as session:
            attempt = session.get(Attempt, attempt_id)
        if attempt is None or attempt.person_id != self.person:
            raise NotFound(f"no attempt {attempt_id}")
        return attempt

    def card_state(self, deck_id: str, card_id: str) -> CardState | None:
        with self.store.read() as session:
            return session.get(CardState, (self.person, deck_id, card_id))

    def set_score(self, attempt_id: int, score: int) -> Scored:
        """Give an attempt its final score (again, to replace it) and reschedule its card."""
        if not 1 <= score <= 5:
            raise ValueError(f"score must be 1-5, not {score}")
        now = self.clock()
        with self.store.write() as session:
            attempt = session.get(Attempt, attempt_id)
            if attempt is None or attempt.person_id != self.person:
                raise NotFound(f"no attempt {attempt_id}")
            # one writer per card at a time: its first review creates its state
            self.store.lock(session, f"card:{self.person}:{attempt.deck_id}:{attempt.card_id}")
            session.refresh(attempt)
            previous = attempt.final
            state = reviews.record(session, self.schedule, attempt, score, now)
            attempt.final = score
            attempt.scored_at = now
            agreement.record(session, attempt, score, previous)
            if self.calibrator is not None:  # every score is a label: count it, refit
                self.calibrator.record(
                    session,
                    self.person,
                    attempt.deck_id,
                    attempt.method,
                    attempt.grader_score,
                    score,
                    previous,
                )
        self.metrics.record_score(suggested=attempt.suggested, final=score)
        return Scored(attempt=attempt, next_due=state.due, previous_final=previous)

    def list_attempts(
        self,
        *,
        deck_id: str | None = None,
        card_key: str | None = None,
        overridden: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Attempt]:
        """Attempts, newest first, filtered by deck and card (id, or position in the deck)."""
        query = self._attempts(deck_id, card_key, overridden).limit(limit).offset(offset)
        with self.store.read() as session:
            return list(session.scalars(query))

    def iter_attempts(
        self,
        *,
        deck_id: str | None = None,
        card_key: str | None = None,
        overridden: bool = False,
        batch: int = 500,
    ) -> Iterator[Attempt]:
        """Every matching attempt, newest first, read in batches (for the CSV export)."""
        query = self._attempts(deck_id, card_key, overridden).execution_options(yield_per=batch)
        with self.store.read() as session:
            yield from session.scalars(query)

    def _attempts(self, deck_id: str | None, card_key: str | None, overridden: bool) -> Select[Any]:
        try:
            return attempt_queries.attempts_query(
                self.store, self.catalog, self.person, deck_id, card_key, overridden=overridden
            )
        except DeckNotFound as exc:
            raise NotFound(str(exc)) from None

    def cards(self) -> list[Card]:
        """Every card of every deck (for the grading workers)."""
        return [card for deck in self.catalog.decks() for card in deck.cards]

    # --- the schedule ------------------------------------------------------------------------

    def counts(self, deck: Deck) -> due.DeckCounts:
        with self.store.read() as session:
            return due.counts(
                session, self.person, deck, self.clock(), self.settings.new_cards_per_day
            )

    def overview(self) -> list[due.DeckCounts]:
        return [self.counts(deck) for deck in self.catalog.decks()]

    def deck_cards(
        self, deck_id: str, page: int | None = None
    ) -> tuple[due.DeckCounts, list[due.CardRow]]:
        """The deck's counts and its cards with their schedules: every card, or one page of
        ``PAGE_SIZE`` (numbered from 1)."""
        deck = self.deck(deck_id)
        cards = deck.cards
        if page is not None:
            cards = cards[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        now, per_day = self.clock(), self.settings.new_cards_per_day
        with self.store.read() as session:
            return (
                due.counts(session, self.person, deck, now, per_day),
                due.rows(session, self.person, deck, cards, now),
            )

    def next_card(self, deck_id: str) -> Card | None:
        """The most overdue card, else a new one while today's limit allows, else one due
        within the learn-ahead limit, else None."""
        deck = self.deck(deck_id)
        ahead = timedelta(minutes=self.settings.learn_ahead_minutes)
        with self.store.read() as session:
            return due.next_card(
                session, self.person, deck, self.clock(), self.settings.new_cards_per_day, ahead
            )

    def next_due_at(self, deck_id: str) -> datetime | None:
        deck = self.deck(deck_id)
        with self.store.read() as session:
            return due.next_due_at(session, self.person, deck)
