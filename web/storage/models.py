"""Every table of flashgrade's database, in one module (Alembic's migrations build them).

Deck files stay the source of the cards; the database holds what happened to them, keyed by
(deck id, card id), so history survives edits of a card's text. Attempts keep a snapshot of
the question and of every point as graded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# The schema version kept in ``meta`` since the first release; Alembic's revision is the
# authority now, this number only lets an older flashgrade refuse a newer database.
SCHEMA_VERSION = 3

# local mode's one implicit person (no account yet); the first account takes its rows over
LOCAL_PERSON = 0


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes, stored naive (as UTC) so every backend sorts them alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Meta(Base):
    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Attempt(Base):
    """One typed answer to one card, its grade, and (once given) the person's final score."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(default=LOCAL_PERSON, server_default="0")
    deck_id: Mapped[str] = mapped_column(String(200))
    card_id: Mapped[str] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text)  # as it was when answered
    answer: Mapped[str] = mapped_column(Text)
    grader_score: Mapped[int]  # the grader's own score
    suggested: Mapped[int]  # the score shown (a calibrated one where the deck is calibrated)
    coverage: Mapped[float]
    method: Mapped[str] = mapped_column(String(16))
    grader_version: Mapped[str] = mapped_column(String(32))
    warnings: Mapped[list[str]] = mapped_column(default=list)
    # SQL NULL when no LLM was used (not JSON null), so an index can skip those attempts
    llm_usage: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    final: Mapped[int | None]
    seconds: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    scored_at: Mapped[datetime | None]

    # every reference point as graded, in deck order: {"id", "section", "text", "status",
    # "evidence", "span": [start, end] | null, and "contradicted": true where it is}; one JSON
    # column, not a row per point, as attempts are written far more often than their points
    # are queried (4x cheaper writes)
    points: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    review: Mapped[Review | None] = relationship(back_populates="attempt", lazy="raise")

    __table_args__ = (
        Index("ix_attempts_person_deck_card", "person_id", "deck_id", "card_id"),
        Index("ix_attempts_person_created_at", "person_id", "created_at"),
        # per-deck totals (attempts, scored, by method) from the index alone
        Index("ix_attempts_person_deck_final", "person_id", "deck_id", "final", "method"),
        # the few attempts that used the LLM, for its usage figures
        Index(
            "ix_attempts_person_llm_usage",
            "person_id",
            "deck_id",
            sqlite_where=text("llm_usage IS NOT NULL"),
            postgresql_where=text("llm_usage IS NOT NULL"),
        ),
    )

    @property
    def point_results(self) -> list[StoredPoint]:
        """The graded points as objects, in deck order."""
        return [StoredPoint.from_json(i, p) for i, p in enumerate(self.points)]


@dataclass(frozen=True, slots=True)
class StoredPoint:
    """One reference point of an attempt as graded: status, evidence and its span."""

    position: int
    point_id: str
    section: str
    text: str
    status: str
    evidence: str | None
    span_start: int | None
    span_end: int | None
    contradicted: bool = False  # the answer denied it ("no need to monitor drift")

    @classmethod
    def from_json(cls, position: int, data: dict[str, Any]) -> StoredPoint:
        span = data.get("span") or (None, None)
        return cls(
            position,
            str(data.get("id", "")),
            str(data.get("section", "")),
            str(data.get("text", "")),
            str(data.get("status", "missing")),
            data.get("evidence"),
            span[0],
            span[1],
            data.get("contradicted") is True,
        )


class Review(Base):
    """FSRS's review log, one per scored attempt, with the raw 1-5 score beside the rating."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_id: Mapped[int] = mapped_column(
        ForeignKey("attempts.id", ondelete="CASCADE"), unique=True
    )
    person_id: Mapped[int] = mapped_column(default=LOCAL_PERSON, server_default="0")
    deck_id: Mapped[str] = mapped_column(String(200))
    card_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[int]  # the final 1-5 score
    rating: Mapped[int]  # fsrs.Rating: 1 Again, 2 Hard, 3 Good, 4 Easy
    reviewed_at: Mapped[datetime]
    duration_ms: Mapped[int | None]
    due_after: Mapped[datetime]  # when this review scheduled the card next
    # the end of the time this review leaves its card mastered (final 4-5: until it falls due
    # or the card's next review, whichever is first; None below 4), so mastery over time is
    # a count of intervals, not a replay of every card's history
    mastered_until: Mapped[datetime | None]

    attempt: Mapped[Attempt] = relationship(back_populates="review", lazy="raise")

    __table_args__ = (
        Index("ix_reviews_person_deck_card_time", "person_id", "deck_id", "card_id", "reviewed_at"),
        Index("ix_reviews_person_reviewed_at", "person_id", "reviewed_at"),
        Index("ix_reviews_person_mastered_until", "person_id", "mastered_until"),
        Index("ix_reviews_person_deck_time", "person_id", "deck_id", "reviewed_at"),
        Index("ix_reviews_person_deck_mastered_until", "person_id", "deck_id", "mastered_until"),
    )


class CardState(Base):
    """A card's current FSRS state (replayable from its reviews), denormalised for queries."""

    __tablename__ = "card_states"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    fsrs_card: Mapped[dict[str, Any]]  # fsrs.Card.to_dict()
    due: Mapped[datetime]
    reps: Mapped[int]
    last_score: Mapped[int | None]
    introduced_at: Mapped[datetime]  # the first review: counts against the daily new limit
    last_reviewed_at: Mapped[datetime]
    # the final scores of the card's last few reviews, oldest first (for "weakest cards")
    recent_scores: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))

    __table_args__ = (Index("ix_card_states_person_deck_due", "person_id", "deck_id", "due"),)


class LLMCacheEntry(Base):
    """Answers of the LLM endpoint by request key, so identical requests are not sent again."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DeckCalibration(Base):
    """A deck's calibration map (JSON, null until enough overrides) and its on/off switch."""

    __tablename__ = "deck_calibrations"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    calibration: Mapped[str | None] = mapped_column(Text)  # {method: Calibration JSON}
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CalibrationCount(Base):
    """How many of a deck's scored attempts by one grading method had this (grader's score,
    final score) pair: the running totals a calibration is fitted from, so a score never
    re-reads the deck's history."""

    __tablename__ = "calibration_counts"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    grader_score: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    final: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    n: Mapped[int]


class AgreementTotal(Base):
    """Running sums of a card's scored attempts by grading method: how often the final score
    equals the suggestion and by how much they differ (see ``web.agreement``), kept as scores
    come in so that agreement never re-reads the history."""

    __tablename__ = "agreement_totals"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    method: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int]
    exact: Mapped[int]  # final == suggested
    signed_sum: Mapped[int]  # of final - suggested
    abs_sum: Mapped[int]
    grader_exact: Mapped[int]  # final == the grader's own score
    grader_signed_sum: Mapped[int]


# --- people and access (DESIGN.md "People and access") ------------------------------------


class User(Base):
    """An account. Names are kept casefolded: "Ada" and "ada" are one person."""

    __tablename__ = "users"
    # ids are never reused (SQLite would reuse the largest after a removal): a row still on
    # its way for a removed person must not land in a newer person's history
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)  # Argon2id, in PHC string form
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256, so a
    copy of the database signs nobody in. Signing out deletes the row."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class ApiToken(Base):
    """A Bearer token for the JSON API, stored as its SHA-256 (it is shown once)."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(Base):
    """A failed sign-in for a name (known or not), for the throttle."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_login_failures_name_at", "name", "at"),)


class IdempotencyKey(Base):
    """The first reply to a request with this key from this person: a retried
    ``POST /api/attempts`` (or a practice form sent twice) stores nothing new."""

    __tablename__ = "idempotency_keys"

    person_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(220), primary_key=True)
    attempt_id: Mapped[int] = mapped_column(ForeignKey("attempts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
