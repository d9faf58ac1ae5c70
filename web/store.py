"""Storage: the SQLAlchemy 2 schema, the engine (SQLite: WAL, busy timeout) and sessions.

Deck files stay the source of the cards; the database holds what happened to them, keyed by
(deck id, card id), so history survives edits of a card's text. Attempts keep a snapshot of
the question and of every point as graded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Index,
    String,
    Text,
    TypeDecorator,
    create_engine,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    relationship,
    sessionmaker,
)
from sqlalchemy.pool import StaticPool

from grader.llm_types import MemoryCache

SCHEMA_VERSION = 1

# Migrations from version N to N + 1, run in order inside one transaction by ``create_schema``.
# New tables need no entry (``create_all`` adds them); changed columns do.
MIGRATIONS: dict[int, Callable[[Session], None]] = {}


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
    llm_usage: Mapped[dict[str, Any] | None]
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
        Index("ix_attempts_deck_card", "deck_id", "card_id"),
        Index("ix_attempts_created_at", "created_at"),
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
    deck_id: Mapped[str] = mapped_column(String(200))
    card_id: Mapped[str] = mapped_column(String(200))
    score: Mapped[int]  # the final 1-5 score
    rating: Mapped[int]  # fsrs.Rating: 1 Again, 2 Hard, 3 Good, 4 Easy
    reviewed_at: Mapped[datetime]
    duration_ms: Mapped[int | None]
    due_after: Mapped[datetime]  # when this review scheduled the card next

    attempt: Mapped[Attempt] = relationship(back_populates="review", lazy="raise")

    __table_args__ = (
        Index("ix_reviews_deck_card_time", "deck_id", "card_id", "reviewed_at"),
        Index("ix_reviews_reviewed_at", "reviewed_at"),
    )


class CardState(Base):
    """A card's current FSRS state (replayable from its reviews), denormalised for queries."""

    __tablename__ = "card_states"

    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    card_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    fsrs_card: Mapped[dict[str, Any]]  # fsrs.Card.to_dict()
    due: Mapped[datetime]
    reps: Mapped[int]
    last_score: Mapped[int | None]
    introduced_at: Mapped[datetime]  # the first review: counts against the daily new limit
    last_reviewed_at: Mapped[datetime]

    __table_args__ = (Index("ix_card_states_deck_due", "deck_id", "due"),)


class LLMCacheEntry(Base):
    """Answers of the LLM endpoint by request key, so identical requests are not sent again."""

    __tablename__ = "llm_cache"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- engine -----------------------------------------------------------------------------------


def _in_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url


def make_engine(url: str, *, busy_timeout_ms: int = 5000) -> Engine:
    """An engine; for SQLite: WAL, ``synchronous=NORMAL``, a busy timeout, foreign keys on."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    if _in_memory(url):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, pool_size=8, max_overflow=32, pool_timeout=30)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun by _on_begin
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        # WAL, which stays with the file, is switched on by Store.create_schema once the file
        # is known to be flashgrade's: another application's database is left as it was
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE) so that they wait in
        # busy_timeout instead of failing when a read transaction would need upgrading.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())

    return engine


# SQLite's result codes for a database that cannot be used just now, as opposed to a fault in
# the SQL or the schema (extended codes such as SQLITE_BUSY_SNAPSHOT share these prefixes).
_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_READONLY",
    "SQLITE_FULL",
    "SQLITE_IOERR",
    "SQLITE_CANTOPEN",
)


def unavailable_reason(exc: OperationalError) -> str | None:
    """Why the database cannot be used just now (locked past the busy timeout, read-only,
    full, unreadable, or the connection lost), or None when ``exc`` is a fault to fix."""
    name = getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(name, str) and name.startswith(_UNAVAILABLE):
        return str(exc.orig)  # SQLite's own words for these hold no names from the schema
    if exc.connection_invalidated:
        return "the connection to it was lost"
    if exc.statement is None:  # raised while connecting: a server database that is down
        return "it cannot be reached"
    return None


class SchemaError(RuntimeError):
    """The database was written by a newer flashgrade."""


class Store:
    """Sessions on one database: ``read()`` for queries, ``write()`` for one serialized
    transaction that commits on leaving the block."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        # One writer at a time inside this process: SQLite allows one anyway, and waiting on a
        # lock is cheaper and fairer than SQLite's sleep-and-retry busy handler.
        self._write_lock = threading.Lock()

    def create_schema(self) -> None:
        """Create missing tables, record the schema version, run pending migrations.

        A database of another application, or of a newer flashgrade, is refused before
        anything in it changes; one that cannot be written is refused now rather than at
        the first answer (the version is written back every time)."""
        version = self._stored_version()
        if version is not None and version > SCHEMA_VERSION:
            raise SchemaError(
                f"database schema version {version} is newer than this flashgrade "
                f"(version {SCHEMA_VERSION}); upgrade flashgrade"
            )
        if self.engine.dialect.name == "sqlite" and not _in_memory(self.url):
            raw = self.engine.raw_connection()  # outside a transaction, as the pragma needs
            try:
                raw.cursor().execute("PRAGMA journal_mode = WAL")
            finally:
                raw.close()
        Base.metadata.create_all(self.engine)
        with self.write() as session:
            version = SCHEMA_VERSION if version is None else version
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](session)
                version += 1
            if session.get(Meta, "schema_version") is None:
                session.add(Meta(key="schema_version", value=str(version)))
            else:  # written even when unchanged: a database that cannot be written fails here
                session.execute(
                    update(Meta).where(Meta.key == "schema_version").values(value=str(version))
                )

    def _stored_version(self) -> int | None:
        """The recorded schema version; None for a new (or half-created) flashgrade database."""
        tables = set(inspect(self.engine).get_table_names())
        value = None
        if "meta" in tables:
            with self.read() as session:
                value = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
        if value is None:
            foreign = sorted(tables - set(Base.metadata.tables))
            if foreign:
                raise SchemaError(
                    f"not a flashgrade database: it holds other tables ({', '.join(foreign[:5])})"
                )
            return None
        try:
            return int(value)
        except ValueError:
            raise SchemaError(f"the database's schema version {value!r} is not a number") from None

    def schema_version(self) -> int:
        with self.read() as session:
            value = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
        return int(value) if value is not None else 0

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write_lock, self._sessions() as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
            session.commit()

    def dispose(self) -> None:
        self.engine.dispose()


class LLMCache:
    """The LLM client's cache: ``get(key)`` / ``set(key, value)`` on the ``llm_cache`` table,
    with grader's in-memory LRU in front (the client calls it from a worker thread)."""

    def __init__(self, store: Store, *, memory_items: int = 256) -> None:
        self._store = store
        self._memory = MemoryCache(memory_items)

    def get(self, key: str) -> str | None:
        value = self._memory.get(key)
        if value is not None:
            return value
        with self._store.read() as session:
            value = session.scalar(select(LLMCacheEntry.value).where(LLMCacheEntry.key == key))
        if value is not None:
            self._memory.set(key, value)
        return value

    def set(self, key: str, value: str) -> None:
        with self._store.write() as session:
            entry = session.get(LLMCacheEntry, key)
            if entry is None:
                session.add(LLMCacheEntry(key=key, value=value))
            else:
                entry.value = value
                entry.created_at = utcnow()
        self._memory.set(key, value)
