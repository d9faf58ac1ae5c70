"""People and access (DESIGN.md): accounts, passwords, sign-in sessions, API tokens and the
login throttle. The use cases, free of HTTP; the CLI and the routes call these.

No account yet is local mode: one implicit person (``LOCAL``, id 0), no sign-in. The first
account takes local mode's rows over, and from then on every request needs a person.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from web.storage.database import Store
from web.storage.models import (
    LOCAL_PERSON,
    AgreementTotal,
    ApiToken,
    Attempt,
    CalibrationCount,
    CardState,
    DeckCalibration,
    IdempotencyKey,
    LoginFailure,
    LoginSession,
    Review,
    User,
    utcnow,
)

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 takes any length; a megabyte "password" is a denial of service
NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
FAILURES_ALLOWED = 10  # failed sign-ins for one name within FAILURE_WINDOW; then 429
FAILURE_WINDOW = timedelta(minutes=15)
TOKEN_PREFIX = "fg_"
# every table whose rows belong to a person (the first account takes local mode's over)
PERSON_TABLES = (
    IdempotencyKey,
    Attempt,
    Review,
    CardState,
    DeckCalibration,
    CalibrationCount,
    AgreementTotal,
)


class AccountError(ValueError):
    """A name or password that cannot be used; the message says why."""


class Throttled(Exception):
    """Too many failed sign-ins for a name; ``retry_after`` seconds until the window passes."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after // 60 + 1} min")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Person:
    """Who a request acts for."""

    id: int
    name: str
    is_admin: bool


# local mode's person may do everything: whoever reaches a loopback-only app is its owner
LOCAL = Person(LOCAL_PERSON, "local", True)


@dataclass(frozen=True, slots=True)
class Activity:
    """A person as the admin page lists them: counts only, never an answer."""

    name: str
    is_admin: bool
    created_at: datetime
    attempts: int
    scored: int
    last_attempt: datetime | None


def digest(token: str) -> str:
    """What is stored for a session or API token: its SHA-256 (tokens are random, so a fast
    hash is enough; a copy of the database signs nobody in)."""
    return hashlib.sha256(token.encode()).hexdigest()


def name_key(name: str) -> str:
    """A name as names are compared and stored: trimmed, casefolded, at most 64 characters;
    a NUL (which PostgreSQL's text refuses) becomes U+FFFD, which no account's name has."""
    return name.strip().casefold()[:64].replace("\x00", "\ufffd")


def clean_name(name: str) -> str:
    """The account name as stored, or ``AccountError``."""
    key = name_key(name)
    if not NAME.fullmatch(name.strip().casefold()):
        raise AccountError(
            "a name is 1-64 letters, digits and . _ @ - (starting with a letter or digit)"
        )
    return key


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")


_ANY_USER = select(User.id).limit(1)
_SESSION = (
    select(User.id, User.name, User.is_admin)
    .join(LoginSession, LoginSession.user_id == User.id)
    .where(LoginSession.token_hash == bindparam("h"), LoginSession.expires_at > bindparam("now"))
)
_TOKEN = (
    select(User.id, User.name, User.is_admin)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("h"))
)


class Accounts:
    """Accounts on one store. Argon2id (argon2-cffi's defaults: RFC 9106's second choice)."""

    def __init__(
        self, store: Store, *, session_days: int = 14, hasher: PasswordHasher | None = None
    ) -> None:
        self.store = store
        self.session_lifetime = timedelta(days=session_days)
        self.hasher = hasher or PasswordHasher()
        self._exist = False  # once there are accounts there always are (the last admin stays)

    @cached_property
    def _dummy(self) -> str:
        """Verified against when the name is unknown: the reply takes as long as for a wrong
        password, so it does not tell which names exist."""
        return self.hasher.hash(secrets.token_urlsafe(16))

    # --- local mode or accounts ------------------------------------------------------------

    def exist(self) -> bool:
        """True once any account exists (then every request needs a person)."""
        if not self._exist:  # local mode asks on every request: another process may add one
            self._exist = self.store.first(_ANY_USER) is not None
        return self._exist

    # --- managing accounts (the CLI) --------------------------------------------------------

    def add(self, name: str, password: str, *, admin: bool = False) -> tuple[Person, int]:
        """Create an account; returns it and how many of local mode's attempts it took over
        (the first account takes them all, with their schedules and calibration)."""
        key = clean_name(name)
        check_password(password)
        hashed = self.hasher.hash(password)
        with self.store.write() as session:
            self.store.lock(session, "users")
            if session.scalar(select(User.id).where(User.name == key)) is not None:
                raise AccountError(f"there is already an account named {key!r}")
            first = session.scalar(select(User.id).limit(1)) is None
            user = User(name=key, password_hash=hashed, is_admin=admin or first)
            session.add(user)
            session.flush()
            taken = 0
            if first:
                taken = int(
                    session.scalar(select(func.count()).where(Attempt.person_id == LOCAL_PERSON))
                    or 0
                )
                for model in PERSON_TABLES:
                    session.execute(
                        update(model)
                        .where(model.person_id == LOCAL_PERSON)
                        .values(person_id=user.id)
                    )
        return Person(user.id, user.name, user.is_admin), taken

    def remove(self, name: str) -> int:
        """Delete an account with its sessions, tokens and history; returns the attempts
        deleted. The last admin cannot be removed (the server would have no one to run it)."""
        with self.store.write() as session:
            user = self._user(session, name)
            if user.is_admin:
                admins = session.scalar(select(func.count()).where(User.is_admin.is_(True)))
                if (admins or 0) <= 1:
                    raise AccountError(f"{user.name!r} is the last admin; add another admin first")
            attempts = int(
                session.scalar(select(func.count()).where(Attempt.person_id == user.id)) or 0
            )
            for model in PERSON_TABLES:
                session.execute(delete(model).where(model.person_id == user.id))
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
            session.delete(user)
        return attempts

    def set_password(self, name: str, password: str) -> None:
        """A new password: every browser signed in as the person is signed out, their API
        tokens stop working, and failed sign-ins against the name are forgotten."""
        check_password(password)
        hashed = self.hasher.hash(password)
        with self.store.write() as session:
            user = self._user(session, name)
            user.password_hash = hashed
            session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
            session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
            session.execute(delete(LoginFailure).where(LoginFailure.name == user.name))

    def new_token(self, name: str) -> str:
        """A new API token for the person, returned once (only its digest is kept)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.store.write() as session:
            user = self._user(session, name)
            session.add(ApiToken(token_hash=digest(token), user_id=user.id))
        return token

    def people(self) -> list[Activity]:
        """Every account with its activity counts, by name."""
        counts = (
            select(
                Attempt.person_id,
                func.count().label("attempts"),
                func.count(Attempt.final).label("scored"),
                func.max(Attempt.created_at).label("last"),
            )
            .group_by(Attempt.person_id)
            .subquery()
        )
        query = (
            select(User, counts.c.attempts, counts.c.scored, counts.c.last)
            .outerjoin(counts, counts.c.person_id == User.id)
            .order_by(User.name)
        )
        with self.store.read() as session:
            return [
                Activity(u.name, u.is_admin, u.created_at, int(a or 0), int(s or 0), last)
                for u, a, s, last in session.execute(query)
            ]

    def _user(self, session: Session, name: str) -> User:
        user = session.scalar(select(User).where(User.name == name_key(name)))
        if user is None:
            raise AccountError(f"no account named {name.strip()!r}")
        return user

    # --- signing in --------------------------------------------------------------------------

    def authenticate(self, name: str, password: str, *, now: datetime | None = None) -> Person:
        """The person whose name and password these are. A wrong password and an unknown name
        fail alike (``AccountError``, same message, same Argon2 work); after FAILURES_ALLOWED
        failures for a name within FAILURE_WINDOW, ``Throttled`` until the window passes.

        Each try is counted as a failure before the password is checked, and the mark taken
        off when it was right: guesses sent at once cannot all slip under the limit."""
        now = now or utcnow()
        key = name_key(name)
        since = now - FAILURE_WINDOW
        with self.store.write() as session:
            self.store.lock(session, f"login:{key}")
            failures = session.scalars(
                select(LoginFailure.at)
                .where(LoginFailure.name == key, LoginFailure.at > since)
                .order_by(LoginFailure.at)
            ).all()
            if len(failures) >= FAILURES_ALLOWED:
                oldest = failures[-FAILURES_ALLOWED]
                raise Throttled(max(1, int((oldest + FAILURE_WINDOW - now).total_seconds())))
            mark = LoginFailure(name=key, at=now)
            session.add(mark)
            session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
            user = session.scalar(select(User).where(User.name == key))
        stored = user.password_hash if user is not None else self._dummy
        try:
            ok = self.hasher.verify(stored, password[:MAX_PASSWORD]) and user is not None
        except (VerificationError, InvalidHashError):
            ok = False
        if not ok or user is None:
            raise AccountError("wrong name or password")
        with self.store.write() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.id == mark.id))
            if self.hasher.check_needs_rehash(stored):  # the defaults grew stronger: keep up
                session.execute(
                    update(User)
                    .where(User.id == user.id)
                    .values(password_hash=self.hasher.hash(password))
                )
        return Person(user.id, user.name, user.is_admin)

    def start_session(self, person: Person, *, now: datetime | None = None) -> str:
        """A new sign-in session for ``person``: the cookie's value (kept only as a digest)."""
        now = now or utcnow()
        token = secrets.token_urlsafe(32)
        with self.store.write() as session:
            session.add(
                LoginSession(
                    token_hash=digest(token),
                    user_id=person.id,
                    created_at=now,
                    expires_at=now + self.session_lifetime,
                )
            )
            session.execute(delete(LoginSession).where(LoginSession.expires_at <= now))
        return token

    def end_session(self, token: str) -> None:
        with self.store.write() as session:
            session.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))

    def by_session(self, token: str) -> Person | None:
        """The person signed in with this cookie value, if the session is live (one indexed
        lookup: this runs on every request)."""
        return self._lookup(_SESSION, {"h": digest(token), "now": utcnow()})

    def by_token(self, token: str) -> Person | None:
        """The person an API token belongs to."""
        return self._lookup(_TOKEN, {"h": digest(token)})

    def _lookup(self, query: Any, params: dict[str, Any]) -> Person | None:
        row = self.store.first(query, params)
        return None if row is None else Person(int(row[0]), str(row[1]), bool(row[2]))
