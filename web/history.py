"""The history page: attempts newest first, filtered by deck, card and "overridden only" (the
final score differs from the suggestion shown), a page at a time, with the total count.

Deck and card filters are those of ``GET /api/attempts``
(``web.storage.attempt_queries.attempts_query``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from web.catalog import Catalog, labelled
from web.storage.attempt_queries import attempts_query
from web.storage.database import Store
from web.storage.models import Attempt

PER_PAGE = 25


@dataclass(frozen=True, slots=True)
class Filters:
    deck: str | None = None
    card: str | None = None  # as given: a card id or position (needs a deck)
    overridden: bool = False

    def params(self, **extra: Any) -> dict[str, Any]:
        """The page's query parameters for these filters (for links), plus ``extra``."""
        params: dict[str, Any] = {}
        if self.deck:
            params["deck"] = self.deck
            if self.card:
                params["card"] = self.card
        if self.overridden:
            params["overridden"] = "1"
        params.update({k: v for k, v in extra.items() if v is not None})
        return params


@dataclass(frozen=True, slots=True)
class Page:
    filters: Filters
    rows: list[Attempt]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """1-based number of the first row shown (0 when there are none)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def page_of(
    store: Store,
    catalog: Catalog,
    person: int,
    filters: Filters,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """One page of matching attempts; a page past the end shows the last one. Raises
    ``DeckNotFound`` for a deck with neither a file nor history."""
    card = filters.card if filters.deck else None
    query = attempts_query(
        store, catalog, person, filters.deck, card, overridden=filters.overridden
    )
    count = select(func.count()).select_from(query.order_by(None).subquery())
    with store.read() as session:
        total = int(session.scalar(count) or 0)
        page = min(max(1, page), max(1, -(-total // per_page)))
        rows = list(session.scalars(query.limit(per_page).offset((page - 1) * per_page)))
    return Page(filters, rows, total, page, per_page)


def decks_with_history(catalog: Catalog, store: Store, person: int) -> list[tuple[str, str]]:
    """(id, title) of every deck with a file or with the person's history, for the filter."""
    decks = {d.id: d.title for d in catalog.decks()}
    with store.read() as session:
        for deck_id in session.scalars(
            select(Attempt.deck_id).where(Attempt.person_id == person).distinct()
        ):
            if deck_id not in decks:
                broken = catalog.error_of(deck_id) is not None
                decks[deck_id] = f"{deck_id} ({'file cannot be read' if broken else 'file gone'})"
    return labelled(sorted(decks.items(), key=lambda item: (item[1].lower(), item[0])))
