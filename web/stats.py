"""Progress figures for one deck or for every deck: reviews per day, mastery over time, the
weakest cards, the reference points missed most often, grader agreement and LLM usage.

Everything is computed from the database on request (reads only), in the server's local
time zone for days, like the daily new-card limit. The database does the counting (GROUP BY):
Python sees at most a row per card, per card and hour, or per score combination, never one
per attempt, so the cost stays flat as history grows.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import Text, and_, cast, func, select, true
from sqlalchemy.orm import Session

from grader import Deck
from web.agreement import Report, grouped_report
from web.agreement import totals as agreement_totals
from web.catalog import Catalog, DeckNotFound, labelled
from web.storage.database import Store
from web.storage.models import Attempt, CardState, Review, utcnow
from web.storage.reviews import MASTERED

WINDOWS = (7, 30, 90, 365)  # the day ranges the pages offer
DEFAULT_DAYS = 30
MAX_POINT_ROWS = 2_000  # the most recent attempts whose points count for "missed most often"
MISSED_AT_MOST = 3  # a final score above this says the points called missing were not


class NoSuchDeck(LookupError):
    """Neither a deck file nor any history for this deck id."""


@dataclass(frozen=True, slots=True)
class CardStat:
    deck_id: str
    card_id: str
    position: int | None  # None: no longer in the deck file
    question: str
    attempts: int
    scored: int
    recent: float  # mean of the last RECENT final scores
    last: int
    due: datetime | None
    overdue: bool


@dataclass(frozen=True, slots=True)
class MissedPoint:
    deck_id: str
    card_id: str
    position: int | None
    question: str
    point_id: str
    text: str
    missed: int
    graded: int  # attempts of the card that graded this point

    @property
    def rate(self) -> float:
        return self.missed / self.graded if self.graded else 0.0


@dataclass(frozen=True, slots=True)
class LLMUsage:
    gradings: int  # attempts graded with the LLM rubric's help (its usage recorded)
    requests: int  # of those, sent to the endpoint (the others came from the cache)
    prompt_tokens: int
    completion_tokens: int
    latencies_ms: tuple[int, ...]  # of the requests sent, sorted
    models: tuple[str, ...]

    @property
    def cache_hits(self) -> int:
        return self.gradings - self.requests

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def tokens_per_request(self) -> float:
        return self.tokens / self.requests if self.requests else 0.0

    def latency(self, q: float) -> int | None:
        """The ``q`` quantile of the request latencies in ms (nearest rank), None if none."""
        if not self.latencies_ms:
            return None
        rank = max(1, math.ceil(q * len(self.latencies_ms)))
        return self.latencies_ms[rank - 1]

    @property
    def latency_mean(self) -> int | None:
        if not self.latencies_ms:
            return None
        return round(sum(self.latencies_ms) / len(self.latencies_ms))


@dataclass(frozen=True, slots=True)
class DeckLine:
    """One deck's row in the overall page's table."""

    deck_id: str
    title: str
    cards: int
    attempts: int
    scored: int
    mastered: int


@dataclass(frozen=True, slots=True)
class Stats:
    deck_id: str | None  # None: every deck
    title: str
    deck: Deck | None
    days: int
    today: date
    attempts: int
    scored: int
    cards: int  # cards in the mastery denominator
    reviews_per_day: list[tuple[date, int]]
    mastery: list[tuple[date, int]]  # day, mastered cards at its end
    score_counts: list[int]  # final scores 1..5
    methods: dict[str, int]  # attempts by grading method
    weakest: list[CardStat]
    missed: list[MissedPoint]
    agreement: Report
    llm: LLMUsage
    decks: list[DeckLine] = field(default_factory=list)

    @property
    def mastered_now(self) -> int:
        return self.mastery[-1][1] if self.mastery else 0

    @property
    def reviews_in_window(self) -> int:
        return sum(n for _, n in self.reviews_per_day)

    @property
    def empty(self) -> bool:
        return self.attempts == 0


def _local(dt: datetime, tz: tzinfo | None) -> datetime:
    return dt.astimezone(tz) if tz is not None else dt.astimezone()


def _end_of_day(day: date, tz: tzinfo | None) -> datetime:
    """Midnight after ``day`` in ``tz`` (the server's zone when None), as an aware datetime."""
    midnight = datetime.combine(day + timedelta(days=1), time(0))
    return midnight.replace(tzinfo=tz) if tz is not None else midnight.astimezone()


def compute(
    store: Store,
    catalog: Catalog,
    person: int,
    deck_id: str | None = None,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> Stats:
    """The person's figures for ``deck_id`` (every deck when None) over the last ``days``
    days."""
    now = now or utcnow()
    today = _local(now, tz).date()
    decks = {d.id: d for d in catalog.decks()}
    deck = decks.get(deck_id) if deck_id is not None else None
    first_day = today - timedelta(days=days - 1)
    window = [first_day + timedelta(days=i) for i in range(days)]
    start = _end_of_day(first_day - timedelta(days=1), tz)

    with store.read() as session:
        totals = _totals(session, person, deck_id)
        if deck_id is not None and deck is None and not totals:
            raise NoSuchDeck(f"no deck {deck_id!r}")
        # the cards that count: the deck files', plus those of decks whose file is gone
        universe: set[tuple[str, str]] = set()
        everything = list(decks.values()) if deck_id is None else []
        for d in [deck] if deck is not None else everything:
            universe.update((d.id, c.id) for c in d.cards)
        gone = sorted({d for d, _, _, _ in totals} - set(decks))
        if gone:
            universe.update(_cards_of(session, person, gone))
        reviews_by_hour = _reviews_by_hour(session, person, deck_id, start)
        mastery = _mastery(session, person, deck_id, window, start, now, tz)
        agreement = _agreement(session, person, deck_id)
        weakest = _weakest(session, person, deck_id, decks, now)
        missed = _missed(session, person, deck_id, decks)
        llm = _llm(session, person, deck_id)
        mastered_now = _mastered_now(session, person, deck_id, now) if deck_id is None else None

    per_day: Counter[date] = Counter()
    for hour, count in reviews_by_hour:
        per_day[_local(hour, tz).date()] += count
    reviews_per_day = [(d, per_day.get(d, 0)) for d in window]

    score_counts = [0] * 5
    methods: Counter[str] = Counter()
    attempts = scored = 0
    for _deck, method, final, n in totals:
        attempts += n
        methods[method] += n
        if final is not None:
            scored += n
            score_counts[final - 1] += n
    stats = Stats(
        deck_id=deck_id,
        title=deck.title if deck is not None else (deck_id or "All decks"),
        deck=deck,
        days=days,
        today=today,
        attempts=attempts,
        scored=scored,
        cards=len(universe),
        reviews_per_day=reviews_per_day,
        mastery=mastery,
        score_counts=score_counts,
        methods=dict(methods.most_common()),
        weakest=weakest,
        missed=missed,
        agreement=agreement,
        llm=llm,
    )
    if deck_id is None and mastered_now is not None:
        stats.decks.extend(_deck_lines(decks, totals, mastered_now, universe))
    return stats


# --- queries: aggregates, a row per card (or per card and hour) at most ------------------------


def _where_deck(query: Any, column: Any, deck_id: str | None) -> Any:
    return query if deck_id is None else query.where(column == deck_id)


def _totals(
    session: Session, person: int, deck_id: str | None
) -> list[tuple[str, str, int | None, int]]:
    """Attempts by deck, grading method and final score (None: unscored)."""
    query = (
        select(Attempt.deck_id, Attempt.method, Attempt.final, func.count())
        .where(Attempt.person_id == person)
        .group_by(Attempt.deck_id, Attempt.method, Attempt.final)
    )
    rows = session.execute(_where_deck(query, Attempt.deck_id, deck_id)).all()
    return [(str(d), str(m), f, int(n)) for d, m, f, n in rows]


def _cards_of(session: Session, person: int, deck_ids: list[str]) -> set[tuple[str, str]]:
    """The cards with attempts in decks whose file is gone."""
    query = select(Attempt.deck_id, Attempt.card_id).where(
        Attempt.person_id == person, Attempt.deck_id.in_(deck_ids)
    )
    return {(str(d), str(c)) for d, c in session.execute(query.distinct())}


def _hour(session: Session, column: Any) -> Any:
    """``column`` truncated to its UTC hour, as text the dialect can group by."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, "YYYY-MM-DD HH24")
    return func.strftime("%Y-%m-%d %H", column)


def _by_hour(session: Session, column: Any, *conditions: Any) -> list[tuple[datetime, int]]:
    """Rows meeting ``conditions`` counted by the UTC hour of ``column``: at most 24 a day."""
    hour = _hour(session, column)
    query = select(hour, func.count()).where(*conditions).group_by(hour)
    return [
        (datetime.strptime(h, "%Y-%m-%d %H").replace(tzinfo=UTC), int(n))
        for h, n in session.execute(query)
    ]


def _deck_condition(column: Any, deck_id: str | None) -> Any:
    return column == deck_id if deck_id is not None else true()


def _reviews_by_hour(
    session: Session, person: int, deck_id: str | None, start: datetime
) -> list[tuple[datetime, int]]:
    """Reviews since ``start``, by UTC hour."""
    return _by_hour(
        session,
        Review.reviewed_at,
        Review.person_id == person,
        Review.reviewed_at >= start,
        _deck_condition(Review.deck_id, deck_id),
    )


def _mastery(
    session: Session,
    person: int,
    deck_id: str | None,
    window: list[date],
    start: datetime,
    now: datetime,
    tz: tzinfo | None,
) -> list[tuple[date, int]]:
    """Mastered cards at the end of each day (now, for today): the card's last final score
    is 4-5 and its next review is not yet due. Each review of 4-5 leaves its card mastered
    from when it was given until ``mastered_until``; so the count at a moment is the intervals
    begun by then less those ended by then, counted by hour in the database."""
    deck = and_(Review.person_id == person, _deck_condition(Review.deck_id, deck_id))
    mastered = and_(Review.mastered_until.is_not(None), Review.reviewed_at < Review.mastered_until)
    at_start = session.scalar(
        select(func.count()).where(
            deck, mastered, Review.reviewed_at < start, Review.mastered_until > start
        )
    )
    begun = _by_hour(session, Review.reviewed_at, deck, mastered, Review.reviewed_at >= start)
    ended = _by_hour(
        session,
        Review.mastered_until,
        deck,
        Review.mastered_until > start,
        Review.mastered_until <= now,
        mastered,
    )
    events = sorted([(h, n) for h, n in begun] + [(h, -n) for h, n in ended])
    count, i, out = int(at_start or 0), 0, []
    for day in window:
        moment = min(_end_of_day(day, tz), now)
        # an hour counts once it has begun before the moment (whole hours: day ends and now)
        while i < len(events) and (events[i][0] < moment):
            count += events[i][1]
            i += 1
        out.append((day, count))
    return out


def _agreement(session: Session, person: int, deck_id: str | None) -> Report:
    """Agreement by deck, card and method, from the sums kept per card as scores come in."""
    return grouped_report(agreement_totals(session, person, deck_id))


def _mastered_now(
    session: Session, person: int, deck_id: str | None, now: datetime
) -> Counter[tuple[str, str]]:
    """The cards mastered now, from their current states."""
    query = select(CardState.deck_id, CardState.card_id).where(
        CardState.person_id == person, CardState.last_score >= MASTERED, CardState.due > now
    )
    return Counter((str(d), str(c)) for d, c in session.execute(query))


# --- figures ----------------------------------------------------------------------------------


class _Cards:
    """Position and question of cards by id, one dict per deck, built on first use."""

    def __init__(self, decks: dict[str, Deck]) -> None:
        self.decks = decks
        self._by_id: dict[str, dict[str, Any]] = {}

    def get(self, deck_id: str, card_id: str) -> Any | None:
        deck = self.decks.get(deck_id)
        if deck is None:
            return None
        if deck_id not in self._by_id:
            self._by_id[deck_id] = {c.id: c for c in deck.cards}
        return self._by_id[deck_id].get(card_id)


def _weakest(
    session: Session,
    person: int,
    deck_id: str | None,
    decks: dict[str, Deck],
    now: datetime,
    limit: int = 5,
) -> list[CardStat]:
    """The cards with the lowest recent final scores (the mean of their last RECENT reviews,
    kept in each card's state)."""
    query = _where_deck(
        select(
            CardState.deck_id,
            CardState.card_id,
            CardState.reps,
            CardState.recent_scores,
            CardState.last_score,
            CardState.due,
        ).where(CardState.person_id == person),
        CardState.deck_id,
        deck_id,
    )
    cards = _Cards(decks)
    candidates = []
    for d, c, reps, recent, last, due_at in session.execute(query):
        if not recent or last is None:
            continue
        card = cards.get(d, c)
        mean = sum(recent) / len(recent)
        position = card.position if card is not None else 0
        candidates.append((mean, last, -reps, d, position, c, reps, due_at))
    rows = []
    for mean, last, _, d, _, c, reps, due_at in sorted(candidates)[:limit]:
        tried, question = session.execute(
            select(func.count(), func.max(Attempt.question)).where(
                Attempt.person_id == person, Attempt.deck_id == d, Attempt.card_id == c
            )
        ).one()
        card = cards.get(d, c)
        rows.append(
            CardStat(
                deck_id=d,
                card_id=c,
                position=card.position if card is not None else None,
                question=card.question if card is not None else str(question),
                attempts=int(tried),
                scored=int(reps),
                recent=float(mean),
                last=int(last),
                due=due_at,
                overdue=due_at <= now,
            )
        )
    return rows


def _missed(
    session: Session, person: int, deck_id: str | None, decks: dict[str, Deck], limit: int = 8
) -> list[MissedPoint]:
    """The reference points most often missing, across the most recent attempts. A point
    counts as missed only where the attempt's final score (its suggestion while unscored) is
    MISSED_AT_MOST or less: one the person raised to 4 or 5 says the grader was wrong. An
    attempt left unscored that a later attempt of the same card follows (the answer sent again
    after Back, say) is not counted. Ties keep deck order: deck, card position, point."""
    query = (
        select(
            Attempt.deck_id,
            Attempt.card_id,
            Attempt.question,
            Attempt.points,
            Attempt.final,
            Attempt.suggested,
        )
        .where(Attempt.person_id == person)
        .order_by(Attempt.id.desc())
    )
    if deck_id is not None:
        query = query.where(Attempt.deck_id == deck_id)
    missed: Counter[tuple[str, str, str]] = Counter()
    graded: Counter[tuple[str, str, str]] = Counter()
    text: dict[tuple[str, str, str], str] = {}
    order: dict[tuple[str, str, str], int] = {}  # the point's place in its card
    question: dict[tuple[str, str], str] = {}
    for row in session.execute(query.limit(MAX_POINT_ROWS)):
        if row.final is None and (row.deck_id, row.card_id) in question:
            continue  # newest first: a later attempt of this card is already counted
        question.setdefault((row.deck_id, row.card_id), row.question)
        low = (row.final if row.final is not None else row.suggested) <= MISSED_AT_MOST
        for i, point in enumerate(row.points or ()):
            key = (row.deck_id, row.card_id, str(point.get("id", "")))
            graded[key] += 1
            text.setdefault(key, str(point.get("text", "")))
            order.setdefault(key, i)
            if low and point.get("status") == "missing":
                missed[key] += 1
    cards = _Cards(decks)

    def deck_order(key: tuple[str, str, str]) -> tuple[str, int, str, int]:
        position = getattr(cards.get(key[0], key[1]), "position", None)
        return (key[0], position if position is not None else 10**9, key[1], order[key])

    ranked = sorted(missed, key=lambda k: (-missed[k], -missed[k] / graded[k], deck_order(k)))
    out = []
    for key in ranked[:limit]:
        deck_key, card_id, point_id = key
        out.append(
            MissedPoint(
                deck_id=deck_key,
                card_id=card_id,
                position=getattr(cards.get(deck_key, card_id), "position", None),
                question=question[(deck_key, card_id)],
                point_id=point_id,
                text=text[key],
                missed=missed[key],
                graded=graded[key],
            )
        )
    return out


def _llm(session: Session, person: int, deck_id: str | None) -> LLMUsage:
    """LLM usage, from the attempts that recorded some (the others are never read)."""
    usage_text = func.coalesce(cast(Attempt.llm_usage, Text), "null")
    query = _where_deck(
        select(Attempt.llm_usage).where(
            Attempt.person_id == person, Attempt.llm_usage.is_not(None), usage_text != "null"
        ),
        Attempt.deck_id,
        deck_id,
    )
    gradings = requests = prompt = completion = 0
    latencies: list[int] = []
    models: set[str] = set()
    for (usage,) in session.execute(query):
        if not isinstance(usage, dict) or not usage:
            continue
        gradings += 1
        if usage.get("model"):
            models.add(str(usage["model"]))
        if usage.get("cached"):
            continue
        requests += 1
        prompt += int(usage.get("prompt_tokens") or 0)
        completion += int(usage.get("completion_tokens") or 0)
        latencies.append(int(usage.get("latency_ms") or 0))
    return LLMUsage(
        gradings, requests, prompt, completion, tuple(sorted(latencies)), tuple(sorted(models))
    )


def _deck_lines(
    decks: dict[str, Deck],
    totals: list[tuple[str, str, int | None, int]],
    mastered_now: Counter[tuple[str, str]],
    universe: set[tuple[str, str]],
) -> list[DeckLine]:
    tried: Counter[str] = Counter()
    scored: Counter[str] = Counter()
    for deck_id, _method, final, n in totals:
        tried[deck_id] += n
        if final is not None:
            scored[deck_id] += n
    mastered = Counter(d for d, c in mastered_now if (d, c) in universe)
    ordered = sorted(decks.values(), key=lambda d: (d.title.lower(), d.id))
    labels = dict(labelled((d.id, d.title) for d in ordered))
    lines = [
        DeckLine(d.id, labels[d.id], len(d.cards), tried[d.id], scored[d.id], mastered[d.id])
        for d in ordered
    ]
    for gone in sorted(set(tried) - set(decks)):
        cards = sum(1 for d, _ in universe if d == gone)
        lines.append(DeckLine(gone, gone, cards, tried[gone], scored[gone], mastered[gone]))
    return lines


def deck_exists(catalog: Catalog, deck_id: str) -> bool:
    try:
        catalog.get(deck_id)
    except DeckNotFound:
        return False
    return True
