"""The use cases: grade an answer, store an attempt, score it, pick the next card.

Pages and API call these and nothing lower. Database work is synchronous (run it in a thread
from async code); grading is async so that an LLM call never blocks the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from grader import Card, CardNotFound, Deck, GradeResult, grade_async
from web.catalog import Catalog, DeckNotFound
from web.grading import FuzzyGrader
from web.metrics import Metrics
from web.schedule import ReviewInput, Schedule, rating_for
from web.settings import Settings
from web.store import Attempt, CardState, Review, Store, utcnow
from web.writer import AttemptWriter, insert_attempts

MAX_SECONDS = 24 * 3600.0


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
class Scored:
    attempt: Attempt
    next_due: datetime
    previous_final: int | None


@dataclass(frozen=True, slots=True)
class CardRow:
    """A card of a deck with its schedule: for the deck page and ``GET /api/decks/{deck}``."""

    card: Card
    due: datetime | None  # None: never reviewed
    last_score: int | None
    reps: int
    is_due: bool


@dataclass(frozen=True, slots=True)
class DeckCounts:
    deck: Deck
    due: int  # reviewed cards due now
    new: int  # never-reviewed cards that today's new-card limit still allows
    unseen: int  # never-reviewed cards, whatever the limit


def start_of_day(now: datetime) -> datetime:
    """Local midnight (the server's time zone) before ``now``, as an aware datetime."""
    local = now.astimezone()
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


class Practice:
    """flashgrade's use cases, over one store, one catalog of decks and one scheduler."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        catalog: Catalog,
        schedule: Schedule,
        metrics: Metrics,
        fuzzy: FuzzyGrader,
        writer: AttemptWriter,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.schedule = schedule
        self.metrics = metrics
        self.fuzzy = fuzzy
        self.writer = writer
        self.clock = clock

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
        per deck hooks in at this point)."""
        return result.score

    async def grade(self, deck_id: str, card_key: str | int, answer: str, *, llm: Any) -> Graded:
        """Grade an answer without storing anything."""
        deck, card = self.card(deck_id, card_key)
        self.check_answer(answer)
        if llm is not None:
            result = await grade_async(card, answer, llm=llm, strictness=self.settings.strictness)
        else:
            result = await self.fuzzy.grade(card, answer)
        self.metrics.grades.labels(result.method).inc()
        if llm is not None and result.method != "llm":
            self.metrics.llm_fallbacks.inc()
        self.metrics.record_llm(result.llm_usage)
        return Graded(deck, card, result, self.suggest(deck, card, result))

    async def submit(
        self,
        deck_id: str,
        card_key: str | int,
        answer: str,
        *,
        seconds: float | None,
        llm: Any,
    ) -> Submitted:
        """Grade an answer and store the attempt; it is committed when this returns."""
        graded = await self.grade(deck_id, card_key, answer, llm=llm)
        attempt_id = await self.writer.add(self._attempt_row(graded, answer, seconds))
        self.metrics.attempts.inc()
        return Submitted(attempt_id, graded)

    def record_attempt(self, graded: Graded, answer: str, seconds: float | None) -> int:
        """Store an attempt with its points in a transaction of its own; returns its id."""
        row = self._attempt_row(graded, answer, seconds)
        with self.store.write() as session:
            [attempt_id] = insert_attempts(session, [row])
        self.metrics.attempts.inc()
        return attempt_id

    def _attempt_row(self, graded: Graded, answer: str, seconds: float | None) -> dict[str, Any]:
        result = graded.result
        if seconds is not None:
            seconds = min(max(float(seconds), 0.0), MAX_SECONDS)
        return {
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
        with self.store.read() as session:
            attempt = session.get(Attempt, attempt_id)
        if attempt is None:
            raise NotFound(f"no attempt {attempt_id}")
        return attempt

    def card_state(self, deck_id: str, card_id: str) -> CardState | None:
        with self.store.read() as session:
            return session.get(CardState, (deck_id, card_id))

    def set_score(self, attempt_id: int, score: int) -> Scored:
        """Give an attempt its final score (again, to replace it) and reschedule its card."""
        if not 1 <= score <= 5:
            raise ValueError(f"score must be 1-5, not {score}")
        now = self.clock()
        with self.store.write() as session:
            attempt = session.get(Attempt, attempt_id)
            if attempt is None:
                raise NotFound(f"no attempt {attempt_id}")
            previous = attempt.final
            review = session.scalar(select(Review).where(Review.attempt_id == attempt_id))
            duration = int(attempt.seconds * 1000) if attempt.seconds is not None else None
            if review is None:
                review = Review(
                    attempt_id=attempt.id,
                    deck_id=attempt.deck_id,
                    card_id=attempt.card_id,
                    reviewed_at=now,
                    duration_ms=duration,
                )
                session.add(review)
            review.score = score
            review.rating = int(rating_for(score))
            state = self._reschedule(session, attempt, review)
            attempt.final = score
            attempt.scored_at = now
        self.metrics.record_score(suggested=attempt.suggested, final=score)
        return Scored(attempt=attempt, next_due=state.due, previous_final=previous)

    def _reschedule(self, session: Session, attempt: Attempt, review: Review) -> CardState:
        state = session.get(CardState, (attempt.deck_id, attempt.card_id))
        if state is not None and review.id is None and state.last_reviewed_at <= review.reviewed_at:
            # the usual case, a new review after the last one: one step on the stored state
            reviewed = self.schedule.review(
                self.schedule.load(state.fsrs_card),
                ReviewInput(review.score, review.reviewed_at, review.duration_ms),
            )
            review.due_after = reviewed.due
            reps = state.reps + 1
            introduced_at = state.introduced_at
        else:
            # a first review, or a re-score: replay the card's whole history, oldest first
            stored = session.scalars(
                select(Review).where(
                    Review.deck_id == attempt.deck_id, Review.card_id == attempt.card_id
                )
            )
            history = sorted(
                {*stored, review},  # a new review is not in the database yet
                key=lambda r: (r.reviewed_at, r.id if r.id is not None else 2**63),
            )
            reviewed = self.schedule.replay(
                ReviewInput(r.score, r.reviewed_at, r.duration_ms) for r in history
            )
            for r, due in zip(history, reviewed.due_after, strict=True):
                r.due_after = due
            reps = len(history)
            introduced_at = history[0].reviewed_at
            review = history[-1]
        if state is None:
            state = CardState(deck_id=attempt.deck_id, card_id=attempt.card_id)
            session.add(state)
        state.reps = reps
        state.introduced_at = introduced_at
        state.fsrs_card = reviewed.to_dict()
        state.due = reviewed.due
        state.last_score = review.score
        state.last_reviewed_at = review.reviewed_at
        return state

    def list_attempts(
        self,
        *,
        deck_id: str | None = None,
        card_key: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Attempt]:
        """Attempts, newest first, filtered by deck and card (id, or position in the deck)."""
        query = self._attempts_query(deck_id, card_key).limit(limit).offset(offset)
        with self.store.read() as session:
            return list(session.scalars(query))

    def iter_attempts(
        self, *, deck_id: str | None = None, card_key: str | None = None, batch: int = 500
    ) -> Iterator[Attempt]:
        """Every matching attempt, newest first, read in batches (for the CSV export)."""
        query = self._attempts_query(deck_id, card_key).execution_options(yield_per=batch)
        with self.store.read() as session:
            yield from session.scalars(query)

    def _attempts_query(self, deck_id: str | None, card_key: str | None) -> Any:
        # list rows never show the points: don't load them
        query = select(Attempt).options(defer(Attempt.points)).order_by(Attempt.id.desc())
        if deck_id is not None:
            card_id = self._resolve_filter(deck_id, card_key)
            query = query.where(Attempt.deck_id == deck_id)
            if card_id is not None:
                query = query.where(Attempt.card_id == card_id)
        elif card_key is not None:
            query = query.where(Attempt.card_id == card_key)
        return query

    def _resolve_filter(self, deck_id: str, card_key: str | None) -> str | None:
        """The card id for a filter; history of a deck whose file is gone stays listable."""
        try:
            deck = self.catalog.get(deck_id)
        except DeckNotFound:
            with self.store.read() as session:
                known = session.scalar(
                    select(Attempt.id).where(Attempt.deck_id == deck_id).limit(1)
                )
            if known is None:
                raise NotFound(f"no deck {deck_id!r}") from None
            return card_key
        if card_key is None:
            return None
        try:
            return deck.card(card_key).id
        except CardNotFound:
            return card_key  # a card removed from the file keeps its history

    # --- the schedule ------------------------------------------------------------------------

    def _states(self, deck: Deck) -> dict[str, CardState]:
        with self.store.read() as session:
            rows = session.scalars(select(CardState).where(CardState.deck_id == deck.id))
            return {row.card_id: row for row in rows}

    def counts(self, deck: Deck, states: dict[str, CardState] | None = None) -> DeckCounts:
        now = self.clock()
        states = self._states(deck) if states is None else states
        ids = {card.id for card in deck.cards}
        due = sum(1 for cid, s in states.items() if cid in ids and s.due <= now)
        unseen = sum(1 for card in deck.cards if card.id not in states)
        return DeckCounts(deck, due, min(unseen, self._new_left(states, now)), unseen)

    def _new_left(self, states: dict[str, CardState], now: datetime) -> int:
        today = start_of_day(now)
        introduced = sum(1 for s in states.values() if s.introduced_at >= today)
        return max(0, self.settings.new_cards_per_day - introduced)

    def cards(self) -> list[Card]:
        """Every card of every deck (to warm the grader up with)."""
        return [card for deck in self.catalog.decks() for card in deck.cards]

    def overview(self) -> list[DeckCounts]:
        return [self.counts(deck) for deck in self.catalog.decks()]

    def deck_cards(self, deck_id: str) -> tuple[DeckCounts, list[CardRow]]:
        deck = self.deck(deck_id)
        states = self._states(deck)
        now = self.clock()
        rows = []
        for card in deck.cards:
            s = states.get(card.id)
            rows.append(
                CardRow(
                    card=card,
                    due=s.due if s else None,
                    last_score=s.last_score if s else None,
                    reps=s.reps if s else 0,
                    is_due=bool(s and s.due <= now),
                )
            )
        return self.counts(deck, states), rows

    def next_card(self, deck_id: str) -> Card | None:
        """The most overdue card, else a new one while today's limit allows, else None."""
        deck = self.deck(deck_id)
        states = self._states(deck)
        now = self.clock()
        by_id = {card.id: card for card in deck.cards}
        due = sorted(
            (s for s in states.values() if s.card_id in by_id and s.due <= now),
            key=lambda s: s.due,
        )
        if due:
            return by_id[due[0].card_id]
        if self._new_left(states, now) > 0:
            for card in deck.cards:
                if card.id not in states:
                    return card
        return None

    def next_due_at(self, deck_id: str) -> datetime | None:
        """When the next card of the deck falls due (for "come back at ..." messages)."""
        deck = self.deck(deck_id)
        ids = {card.id for card in deck.cards}
        dues = [s.due for s in self._states(deck).values() if s.card_id in ids]
        return min(dues) if dues else None
