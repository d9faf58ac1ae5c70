"""What is due: a deck's cards against their schedules, today's new-card allowance.

Pure functions over a deck, its cards' stored states and the time, so the rules can be read
(and tested) apart from the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from grader import Card, Deck
from web.store import CardState


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


def new_left(states: Mapping[str, CardState], now: datetime, per_day: int) -> int:
    """New cards still allowed today: the limit less the cards first reviewed today."""
    today = start_of_day(now)
    introduced = sum(1 for s in states.values() if s.introduced_at >= today)
    return max(0, per_day - introduced)


def counts(deck: Deck, states: Mapping[str, CardState], now: datetime, per_day: int) -> DeckCounts:
    ids = {card.id for card in deck.cards}
    due = sum(1 for cid, s in states.items() if cid in ids and s.due <= now)
    unseen = sum(1 for card in deck.cards if card.id not in states)
    return DeckCounts(deck, due, min(unseen, new_left(states, now, per_day)), unseen)


def rows(deck: Deck, states: Mapping[str, CardState], now: datetime) -> list[CardRow]:
    out = []
    for card in deck.cards:
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
    deck: Deck, states: Mapping[str, CardState], now: datetime, per_day: int
) -> Card | None:
    """The most overdue card, else the first new one while today's limit allows, else None."""
    by_id = {card.id: card for card in deck.cards}
    due = sorted(
        (s for s in states.values() if s.card_id in by_id and s.due <= now), key=lambda s: s.due
    )
    if due:
        return by_id[due[0].card_id]
    if new_left(states, now, per_day) > 0:
        for card in deck.cards:
            if card.id not in states:
                return card
    return None


def next_due_at(deck: Deck, states: Mapping[str, CardState]) -> datetime | None:
    """When the deck's next card falls due (for "come back at ..." messages)."""
    ids = {card.id for card in deck.cards}
    dues = [s.due for s in states.values() if s.card_id in ids]
    return min(dues) if dues else None
