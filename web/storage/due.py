"""What is due: a deck's cards against their schedules, today's new-card allowance.

Every figure is a query on one person's ``card_states`` (counts, a minimum, one page of
rows), so a deck of 10,000 cards never loads 10,000 states.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from grader import Card, Deck
from web.storage.models import CardState

# card ids per IN (...) list: well under SQLite's limit of bound parameters
CHUNK = 5000


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


def _chunks(cards: Sequence[Card]) -> Iterator[list[str]]:
    for start in range(0, len(cards), CHUNK):
        yield [card.id for card in cards[start : start + CHUNK]]


def new_left(session: Session, person: int, deck_id: str, now: datetime, per_day: int) -> int:
    """New cards still allowed today: the limit less the cards first reviewed today."""
    introduced = session.scalar(
        select(func.count()).where(
            CardState.person_id == person,
            CardState.deck_id == deck_id,
            CardState.introduced_at >= start_of_day(now),
        )
    )
    return max(0, per_day - int(introduced or 0))


def counts(session: Session, person: int, deck: Deck, now: datetime, per_day: int) -> DeckCounts:
    """The deck's due and new cards, counted by the database."""
    seen = due = 0
    for ids in _chunks(deck.cards):
        row = session.execute(
            select(func.count(), func.sum(case((CardState.due <= now, 1), else_=0))).where(
                CardState.person_id == person,
                CardState.deck_id == deck.id,
                CardState.card_id.in_(ids),
            )
        ).one()
        seen += int(row[0] or 0)
        due += int(row[1] or 0)
    unseen = len(deck.cards) - seen
    return DeckCounts(
        deck, due, min(unseen, new_left(session, person, deck.id, now, per_day)), unseen
    )


def rows(
    session: Session, person: int, deck: Deck, cards: Sequence[Card], now: datetime
) -> list[CardRow]:
    """``cards`` of ``deck`` (a page of them, or all) with their schedules."""
    states = {}
    for ids in _chunks(cards):
        query = select(CardState.card_id, CardState.due, CardState.last_score, CardState.reps)
        for r in session.execute(
            query.where(
                CardState.person_id == person,
                CardState.deck_id == deck.id,
                CardState.card_id.in_(ids),
            )
        ):
            states[r.card_id] = r
    out = []
    for card in cards:
        s = states.get(card.id)
        out.append(
            CardRow(
                card=card,
                due=s.due if s else None,
                last_score=s.last_score if s else None,
                reps=s.reps if s else 0,
                is_due=bool(s and s.due <= now),
            )
        )
    return out


def next_card(
    session: Session,
    person: int,
    deck: Deck,
    now: datetime,
    per_day: int,
    learn_ahead: timedelta = timedelta(0),
) -> Card | None:
    """The most overdue card, else the first new one while today's limit allows, else (as
    Anki does when nothing else is left) the card falling due first within ``learn_ahead``:
    a card just failed comes back in the same session. None when there is none of these."""
    due_card = _first_due(session, person, deck, now)
    if due_card is not None:
        return due_card
    if new_left(session, person, deck.id, now, per_day) > 0:
        seen = set(
            session.scalars(
                select(CardState.card_id).where(
                    CardState.person_id == person, CardState.deck_id == deck.id
                )
            )
        )
        for card in deck.cards:
            if card.id not in seen:
                return card
    if learn_ahead > timedelta(0):
        return _first_due(session, person, deck, now + learn_ahead)
    return None


def _first_due(session: Session, person: int, deck: Deck, until: datetime) -> Card | None:
    """The deck's card due first, if it is due by ``until``."""
    best: tuple[datetime, str] | None = None
    for ids in _chunks(deck.cards):
        row = session.execute(
            select(CardState.due, CardState.card_id)
            .where(
                CardState.person_id == person,
                CardState.deck_id == deck.id,
                CardState.card_id.in_(ids),
                CardState.due <= until,
            )
            .order_by(CardState.due)
            .limit(1)
        ).first()
        if row is not None and (best is None or row.due < best[0]):
            best = (row.due, row.card_id)
    return deck.card(best[1]) if best is not None else None


def next_due_at(session: Session, person: int, deck: Deck) -> datetime | None:
    """When the deck's next card falls due (for "come back at ..." messages)."""
    dues = [
        session.scalar(
            select(func.min(CardState.due)).where(
                CardState.person_id == person,
                CardState.deck_id == deck.id,
                CardState.card_id.in_(ids),
            )
        )
        for ids in _chunks(deck.cards)
    ]
    found = [d for d in dues if d is not None]
    return min(found) if found else None
