"""Storage: the engine (SQLite: WAL, busy timeout), sessions, and the schema's migrations.

The tables are in ``web.storage.models``; Alembic's migrations (``web/storage/migrations``)
build and upgrade them when the app starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from web.storage.models import SCHEMA_VERSION, Base, LLMCacheEntry, Meta, utcnow

# the first revision: the schema of the releases before Alembic (schema version 1)
BASELINE_REVISION = "0001"


def _in_memory(url: str) -> bool:
    return url in ("sqlite://", "sqlite:///:memory:") or "mode=memory" in url


def make_engine(url: str, *, busy_timeout_ms: int = 5000, synchronous: str = "full") -> Engine:
    """An engine; for SQLite: WAL, ``synchronous=FULL``, a busy timeout, foreign keys on."""
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
        # FULL (the default): in WAL mode NORMAL may lose the last commits on power loss, and
        # DESIGN.md promises that an acknowledged attempt is never lost (the cost: README)
        level = "NORMAL" if synchronous == "normal" else "FULL"
        cursor.execute(f"PRAGMA synchronous = {level}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front (BEGIN IMMEDIATE) so that they wait in
        # busy_timeout instead of failing when a read transaction would need upgrading.
        mode = connection.get_execution_options().get("sqlite_begin", "")
        if mode != "NONE":  # NONE: one statement, atomic on its own (Store.first)
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
    """The database was written by a newer flashgrade, or is not flashgrade's."""


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("web.storage") / "migrations"))
    return config


def upgrade(connection: Connection) -> None:
    """Apply Alembic's pending migrations on ``connection`` (inside its transaction). A
    database of the releases before Alembic (tables, no ``alembic_version``) is stamped with
    the baseline first, so its data is kept."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    if connection.dialect.name == "postgresql":  # several workers may start at once
        connection.execute(text("SELECT pg_advisory_xact_lock(74125301)"))
    config = _alembic_config()
    config.attributes["connection"] = connection
    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables and "attempts" in tables:
        command.stamp(config, BASELINE_REVISION)
    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(config)
    try:
        if current is not None:
            script.get_revision(current)
    except CommandError:
        raise SchemaError(
            f"the database's schema revision {current} is newer than this flashgrade; "
            "upgrade flashgrade"
        ) from None
    command.upgrade(config, "head")


def add_to(session: Session, model: Any, keys: dict[str, Any], amounts: dict[str, int]) -> None:
    """Add ``amounts`` to the columns of ``model``'s row at ``keys``, creating the row when
    there is none: one statement, safe when several processes add at once."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    postgres = session.get_bind().dialect.name == "postgresql"
    statement: Any = (pg_insert if postgres else sqlite_insert)(model).values(**keys, **amounts)
    statement = statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: getattr(model, name) + statement.excluded[name] for name in amounts},
    )
    session.execute(statement)


class Store:
    """Sessions on one database: ``read()`` for queries, ``write()`` for one transaction that
    commits on leaving the block."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000, synchronous: str = "full") -> None:
        self.url = url
        self.engine = make_engine(url, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._sqlite = self.engine.dialect.name == "sqlite"
        # SQLite allows one writer at a time: within a process, waiting on a lock is cheaper
        # and fairer than SQLite's sleep-and-retry busy handler. A server database needs none.
        self._write_lock = threading.Lock() if self._sqlite else None

    def create_schema(self) -> None:
        """Create or upgrade the tables (Alembic), and record the schema version.

        A database of another application, or of a newer flashgrade, is refused before
        anything in it changes; one that cannot be written is refused now rather than at
        the first answer (the version is written back every time)."""
        self._check_version()
        if self._sqlite and not _in_memory(self.url):
            raw = self.engine.raw_connection()  # outside a transaction, as the pragma needs
            try:
                raw.cursor().execute("PRAGMA journal_mode = WAL")
            finally:
                raw.close()
        with self._begin_write() as connection:
            upgrade(connection)
        with self.write() as session:
            if session.get(Meta, "schema_version") is None:
                session.add(Meta(key="schema_version", value=str(SCHEMA_VERSION)))
            else:  # written even when unchanged: a database that cannot be written fails here
                session.execute(
                    update(Meta)
                    .where(Meta.key == "schema_version")
                    .values(value=str(SCHEMA_VERSION))
                )

    @contextmanager
    def _begin_write(self) -> Iterator[Connection]:
        with self.engine.connect() as connection:
            if self._sqlite:
                connection = connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection

    def _check_version(self) -> None:
        """Refuse a database that is not flashgrade's or that a newer flashgrade wrote."""
        tables = set(inspect(self.engine).get_table_names())
        value = None
        if "meta" in tables:
            with self.read() as session:
                value = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
        if value is None:
            # without flashgrade's meta table, any table at all is another application's
            ours = set(Base.metadata.tables) if "meta" in tables else set()
            foreign = sorted(tables - ours - {"alembic_version"})
            if foreign:
                raise SchemaError(
                    f"not a flashgrade database: it holds other tables ({', '.join(foreign[:5])})"
                )
            return
        try:
            version = int(value)
        except ValueError:
            raise SchemaError(f"the database's schema version {value!r} is not a number") from None
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"database schema version {version} is newer than this flashgrade "
                f"(version {SCHEMA_VERSION}); upgrade flashgrade"
            )

    def schema_version(self) -> int:
        with self.read() as session:
            value = session.scalar(select(Meta.value).where(Meta.key == "schema_version"))
        return int(value) if value is not None else 0

    def first(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """The first row of one read statement, or None: for the lookups made on every
        request. No transaction around it (a single statement is atomic on its own), and no
        ORM session: a third of the cost of ``read()``."""
        with self.engine.connect() as connection:
            if self._sqlite:
                connection = connection.execution_options(sqlite_begin="NONE")
            return connection.execute(statement, params or {}).first()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._sessions() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        if self._write_lock is None:
            with self._sessions() as session, session.begin():
                yield session
            return
        with self._write_lock, self._sessions() as session:
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session
            session.commit()

    def lock(self, session: Session, key: str) -> None:
        """Hold ``key`` until the session's transaction ends: writers of one card (or one
        deck's totals) take turns on a server database. SQLite's writers take turns anyway."""
        if not self._sqlite:
            session.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key}
            )

    def dispose(self) -> None:
        self.engine.dispose()


class LLMCache:
    """The LLM client's cache: ``get(key)`` / ``set(key, value)`` on the ``llm_cache`` table,
    shared by every server process (so no copy in memory that another could make stale)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        with self._store.read() as session:
            return session.scalar(select(LLMCacheEntry.value).where(LLMCacheEntry.key == key))

    def set(self, key: str, value: str) -> None:
        with self._store.write() as session:
            entry = session.get(LLMCacheEntry, key)
            if entry is None:
                session.add(LLMCacheEntry(key=key, value=value))
            else:
                entry.value = value
                entry.created_at = utcnow()
