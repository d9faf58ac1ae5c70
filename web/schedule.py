"""Spaced repetition with the ``fsrs`` library: final 1-5 scores to FSRS ratings and back.

1-2 -> Again, 3 -> Hard, 4 -> Good, 5 -> Easy. A card's state is a fold of its reviews in
time order, so re-scoring one review replays the history instead of advancing it twice.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fsrs
import fsrs.scheduler

_RATINGS = {
    1: fsrs.Rating.Again,
    2: fsrs.Rating.Again,
    3: fsrs.Rating.Hard,
    4: fsrs.Rating.Good,
    5: fsrs.Rating.Easy,
}

# fsrs draws an interval's fuzz from random.random(), so replaying a card's reviews (after a
# re-score) would move its due date at random each time. Each review draws from a generator
# seeded by its own time instead: replaying unchanged reviews lands on the same dates.
_FUZZ: ContextVar[random.Random | None] = ContextVar("flashgrade_fsrs_fuzz", default=None)


def _fuzz_random() -> float:
    rng = _FUZZ.get()
    return rng.random() if rng is not None else random.random()


if getattr(fsrs.scheduler, "random", None) is random.random:
    fsrs.scheduler.random = _fuzz_random  # type: ignore[attr-defined]

# fsrs.Card() without an id sleeps a millisecond to make one unique; ours live in the database.
_FSRS_CARD_ID = 1


def rating_for(score: int) -> fsrs.Rating:
    """The FSRS rating for a final 1-5 score."""
    try:
        return _RATINGS[score]
    except KeyError:
        raise ValueError(f"score must be 1-5, not {score!r}") from None


@dataclass(frozen=True, slots=True)
class ReviewInput:
    """One review to apply: the final score, when it was given, how long the answer took."""

    score: int
    at: datetime
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Reviewed:
    """A card's FSRS state after its reviews, and when each review scheduled it next."""

    card: fsrs.Card
    due_after: tuple[datetime, ...]

    @property
    def due(self) -> datetime:
        return self.card.due

    def to_dict(self) -> dict[str, Any]:
        return dict(self.card.to_dict())


class Schedule:
    """An FSRS scheduler with flashgrade's score mapping."""

    def __init__(self, *, desired_retention: float = 0.9, fuzz: bool = True) -> None:
        self.scheduler = fsrs.Scheduler(desired_retention=desired_retention, enable_fuzzing=fuzz)

    @staticmethod
    def new_card(at: datetime) -> fsrs.Card:
        return fsrs.Card(card_id=_FSRS_CARD_ID, due=at)

    @staticmethod
    def load(data: dict[str, Any]) -> fsrs.Card:
        return fsrs.Card.from_dict(data)  # type: ignore[arg-type]

    def review(self, card: fsrs.Card | None, review: ReviewInput) -> Reviewed:
        """Apply one review on top of ``card`` (``None`` for a card never reviewed)."""
        return self.replay([review], start=card)

    def replay(self, reviews: Iterable[ReviewInput], *, start: fsrs.Card | None = None) -> Reviewed:
        """Fold ``reviews`` (oldest first) over a new card, or over ``start``."""
        card = start
        due_after: list[datetime] = []
        for review in reviews:
            if card is None:
                card = self.new_card(review.at)
            token = _FUZZ.set(random.Random(round(review.at.timestamp() * 1e6)))
            try:
                card, _log = self.scheduler.review_card(
                    card, rating_for(review.score), review.at, review.duration_ms
                )
            finally:
                _FUZZ.reset(token)
            due_after.append(card.due)
        if card is None:
            raise ValueError("no reviews to replay")
        return Reviewed(card=card, due_after=tuple(due_after))
