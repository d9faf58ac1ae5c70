"""Recording a final score: FSRS's review log beside the raw 1-5 score, and the card's state.

A card's state is a fold of its reviews in time order. A new review after the last one is one
step on the stored state; a re-score (or an out-of-order review) replays the card's history,
so scoring an attempt again replaces its review instead of advancing the schedule twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from web.schedule import Reviewed, ReviewInput, Schedule, rating_for
from web.storage.models import Attempt, CardState, Review

MASTERED = 4  # a last final score of at least this, and not overdue, counts as mastered
RECENT = 3  # the weakest cards are ranked by the mean of their last RECENT final scores


def _mastered_until(review: Review, following: datetime | None) -> datetime | None:
    """Until when ``review`` leaves its card mastered: its due date, or the next review."""
    if review.score < MASTERED:
        return None
    return review.due_after if following is None else min(review.due_after, following)


def record(
    session: Session, schedule: Schedule, attempt: Attempt, score: int, now: datetime
) -> CardState:
    """Give ``attempt`` the final ``score`` (replacing an earlier one) and reschedule its
    card; returns the card's new state. Runs inside the caller's write transaction."""
    review = session.scalar(select(Review).where(Review.attempt_id == attempt.id))
    if review is None:
        review = Review(
            attempt_id=attempt.id,
            person_id=attempt.person_id,
            deck_id=attempt.deck_id,
            card_id=attempt.card_id,
            reviewed_at=now,
            duration_ms=int(attempt.seconds * 1000) if attempt.seconds is not None else None,
        )
        session.add(review)
    review.score = score
    review.rating = int(rating_for(score))
    return _reschedule(session, schedule, attempt, review)


def _reschedule(
    session: Session, schedule: Schedule, attempt: Attempt, review: Review
) -> CardState:
    state = session.get(CardState, (attempt.person_id, attempt.deck_id, attempt.card_id))
    reviewed: Reviewed
    if state is not None and review.id is None and state.last_reviewed_at <= review.reviewed_at:
        # the usual case, a new review after the last one: one step on the stored state
        reviewed = schedule.review(
            schedule.load(state.fsrs_card),
            ReviewInput(review.score, review.reviewed_at, review.duration_ms),
        )
        review.due_after = reviewed.due
        review.mastered_until = _mastered_until(review, None)
        previous = session.scalars(
            select(Review)
            .where(
                Review.person_id == attempt.person_id,
                Review.deck_id == attempt.deck_id,
                Review.card_id == attempt.card_id,
            )
            .order_by(Review.reviewed_at.desc(), Review.id.desc())
            .limit(1)
        ).first()
        if previous is not None:  # its card is no longer mastered on its account from now
            previous.mastered_until = _mastered_until(previous, review.reviewed_at)
        reps = state.reps + 1
        introduced_at = state.introduced_at
        last = review
        recent = [*(state.recent_scores or []), review.score][-RECENT:]
    else:
        # a first review, or a re-score: replay the card's whole history, oldest first
        stored = session.scalars(
            select(Review).where(
                Review.person_id == attempt.person_id,
                Review.deck_id == attempt.deck_id,
                Review.card_id == attempt.card_id,
            )
        )
        history = sorted(
            {*stored, review},  # a new review is not in the database yet
            key=lambda r: (r.reviewed_at, r.id if r.id is not None else 2**63),
        )
        reviewed = schedule.replay(
            ReviewInput(r.score, r.reviewed_at, r.duration_ms) for r in history
        )
        for r, due_after in zip(history, reviewed.due_after, strict=True):
            r.due_after = due_after
        for r, following in zip(history, [*history[1:], None], strict=True):
            r.mastered_until = _mastered_until(r, following.reviewed_at if following else None)
        reps = len(history)
        introduced_at = history[0].reviewed_at
        last = history[-1]
        recent = [r.score for r in history[-RECENT:]]
    if state is None:
        state = CardState(
            person_id=attempt.person_id, deck_id=attempt.deck_id, card_id=attempt.card_id
        )
        session.add(state)
    state.reps = reps
    state.introduced_at = introduced_at
    state.fsrs_card = reviewed.to_dict()
    state.due = reviewed.due
    state.last_score = last.score
    state.recent_scores = recent
    state.last_reviewed_at = last.reviewed_at
    return state
