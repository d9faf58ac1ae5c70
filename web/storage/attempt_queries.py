"""Queries over past attempts: the filters of ``GET /api/attempts`` and its CSV."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import defer

from grader import CardNotFound
from web.catalog import Catalog, DeckNotFound
from web.storage.database import Store
from web.storage.models import Attempt


def attempts_query(
    store: Store,
    catalog: Catalog,
    person: int,
    deck_id: str | None,
    card_key: str | None,
    *,
    overridden: bool = False,
) -> Select[Any]:
    """A person's attempts newest first, by deck and card (id, or position in the deck), or
    only those whose final score differs from the suggestion; raises ``DeckNotFound`` for a
    deck that is neither in the files nor in the history."""
    # list rows never show the points: don't load them
    query = (
        select(Attempt)
        .options(defer(Attempt.points))
        .where(Attempt.person_id == person)
        .order_by(Attempt.id.desc())
    )
    if deck_id is not None:
        card_id = _card_filter(store, catalog, person, deck_id, card_key)
        query = query.where(Attempt.deck_id == deck_id)
        if card_id is not None:
            query = query.where(Attempt.card_id == card_id)
    elif card_key is not None:
        query = query.where(Attempt.card_id == card_key)
    if overridden:
        query = query.where(Attempt.final.is_not(None), Attempt.final != Attempt.suggested)
    return query


def _card_filter(
    store: Store, catalog: Catalog, person: int, deck_id: str, card_key: str | None
) -> str | None:
    """The card id to filter by; the history of a deck whose file is gone stays listable."""
    try:
        deck = catalog.get(deck_id)
    except DeckNotFound:
        with store.read() as session:
            known = session.scalar(
                select(Attempt.id)
                .where(Attempt.person_id == person, Attempt.deck_id == deck_id)
                .limit(1)
            )
        if known is None:
            raise
        return card_key
    if card_key is None:
        return None
    try:
        return deck.card(card_key).id
    except CardNotFound:
        return card_key  # a card removed from the file keeps its history
