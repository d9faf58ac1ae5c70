"""Progress figures for one deck or for every deck: reviews per day, mastery over time, the
weakest cards, the reference points missed most often, grader agreement and LLM usage.

Everything is computed from the database on request (reads only), in the server's local
time zone for days, like the daily new-card limit.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select

from grader import Deck
from web.agreement import Report, Scored, report
from web.catalog import Catalog, DeckNotFound, labelled
from web.models import Attempt, CardState, Review, utcnow
from web.store import Store

WINDOWS = (7, 30, 90, 365)  # the day ranges the pages offer
DEFAULT_DAYS = 30
MASTERED = 4  # a last final score of at least this, and not overdue, counts as mastered
RECENT = 3  # the weakest cards are ranked by the mean of their last RECENT final scores
MAX_ROWS = 50_000  # attempts read for the figures (the most recent ones)
MAX_POINT_ROWS = 5_000  # attempts whose points are counted for "missed most often"


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
    truncated: bool  # more than MAX_ROWS attempts: the figures use the most recent ones
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
    deck_id: str | None = None,
    *,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
    tz: tzinfo | None = None,
) -> Stats:
    """The figures for ``deck_id`` (every deck when None) over the last ``days`` days."""
    now = now or utcnow()
    today = _local(now, tz).date()
    decks = {d.id: d for d in catalog.decks()}
    deck = decks.get(deck_id) if deck_id is not None else None

    attempts = _attempt_rows(store, deck_id)
    truncated = len(attempts) > MAX_ROWS
    attempts = attempts[:MAX_ROWS]
    if deck_id is not None and deck is None and not attempts:
        raise NoSuchDeck(f"no deck {deck_id!r}")
    reviews = _review_rows(store, deck_id)
    states = _state_rows(store, deck_id)

    # the cards that count: those of the deck files, plus history of decks whose file is gone
    universe: set[tuple[str, str]] = set()
    scope = [deck] if deck is not None else ([] if deck_id is not None else list(decks.values()))
    for d in scope:
        universe.update((d.id, c.id) for c in d.cards)
    for a in attempts:
        if a.deck_id not in decks:
            universe.add((a.deck_id, a.card_id))

    first_day = today - timedelta(days=days - 1)
    window = [first_day + timedelta(days=i) for i in range(days)]
    per_day = Counter(_local(r.reviewed_at, tz).date() for r in reviews)
    reviews_per_day = [(d, per_day.get(d, 0)) for d in window]
    mastery = _mastery(reviews, universe, window, now, tz)

    scored_rows = [a for a in attempts if a.final is not None]
    score_counts = [0] * 5
    for a in scored_rows:
        score_counts[a.final - 1] += 1
    agreement = report(
        Scored(a.deck_id, a.card_id, a.method, a.suggested, a.grader_score, a.final)
        for a in scored_rows
    )
    stats = Stats(
        deck_id=deck_id,
        title=deck.title if deck is not None else (deck_id or "All decks"),
        deck=deck,
        days=days,
        today=today,
        attempts=len(attempts),
        scored=len(scored_rows),
        truncated=truncated,
        cards=len(universe),
        reviews_per_day=reviews_per_day,
        mastery=mastery,
        score_counts=score_counts,
        methods=dict(Counter(a.method for a in attempts).most_common()),
        weakest=_weakest(attempts, states, decks, now),
        missed=_missed(store, deck_id, decks),
        agreement=agreement,
        llm=_llm(attempts),
    )
    if deck_id is None:
        stats.decks.extend(_deck_lines(decks, attempts, reviews, now))
    return stats


# --- queries ----------------------------------------------------------------------------------


def _attempt_rows(store: Store, deck_id: str | None) -> list[Any]:
    query = select(
        Attempt.id,
        Attempt.deck_id,
        Attempt.card_id,
        Attempt.question,
        Attempt.suggested,
        Attempt.grader_score,
        Attempt.final,
        Attempt.method,
        Attempt.llm_usage,
        Attempt.created_at,
    ).order_by(Attempt.id.desc())
    if deck_id is not None:
        query = query.where(Attempt.deck_id == deck_id)
    with store.read() as session:
        return list(session.execute(query.limit(MAX_ROWS + 1)).all())


def _review_rows(store: Store, deck_id: str | None) -> list[Any]:
    query = select(
        Review.deck_id, Review.card_id, Review.score, Review.reviewed_at, Review.due_after
    ).order_by(Review.reviewed_at, Review.id)
    if deck_id is not None:
        query = query.where(Review.deck_id == deck_id)
    with store.read() as session:
        return list(session.execute(query).all())


def _state_rows(store: Store, deck_id: str | None) -> dict[tuple[str, str], Any]:
    query = select(CardState.deck_id, CardState.card_id, CardState.due)
    if deck_id is not None:
        query = query.where(CardState.deck_id == deck_id)
    with store.read() as session:
        return {(r.deck_id, r.card_id): r for r in session.execute(query)}


# --- figures ----------------------------------------------------------------------------------


def _mastery(
    reviews: list[Any],
    universe: set[tuple[str, str]],
    window: list[date],
    now: datetime,
    tz: tzinfo | None,
) -> list[tuple[date, int]]:
    """Mastered cards at the end of each day (now, for today): the card's last final score
    is 4-5 and its next review is not yet due."""
    last: dict[tuple[str, str], Any] = {}
    out: list[tuple[date, int]] = []
    i = 0
    for day in window:
        moment = min(_end_of_day(day, tz), now)
        while i < len(reviews) and reviews[i].reviewed_at <= moment:
            r = reviews[i]
            last[(r.deck_id, r.card_id)] = r
            i += 1
        mastered = sum(
            1
            for key, r in last.items()
            if key in universe and r.score >= MASTERED and r.due_after > moment
        )
        out.append((day, mastered))
    return out


def _position(decks: dict[str, Deck], deck_id: str, card_id: str) -> int | None:
    deck = decks.get(deck_id)
    if deck is None:
        return None
    for card in deck.cards:
        if card.id == card_id:
            return card.position
    return None


def _weakest(
    attempts: list[Any],
    states: dict[tuple[str, str], Any],
    decks: dict[str, Deck],
    now: datetime,
    limit: int = 5,
) -> list[CardStat]:
    """The cards with the lowest recent final scores (attempts come newest first)."""
    tried: Counter[tuple[str, str]] = Counter()
    finals: dict[tuple[str, str], list[int]] = defaultdict(list)
    question: dict[tuple[str, str], str] = {}
    for a in attempts:
        key = (a.deck_id, a.card_id)
        tried[key] += 1
        question.setdefault(key, a.question)
        if a.final is not None:
            finals[key].append(a.final)
    rows = []
    for key, scores in finals.items():
        recent = scores[:RECENT]
        state = states.get(key)
        due = state.due if state is not None else None
        deck = decks.get(key[0])
        text = question[key]
        if deck is not None:
            for card in deck.cards:
                if card.id == key[1]:
                    text = card.question
        rows.append(
            CardStat(
                deck_id=key[0],
                card_id=key[1],
                position=_position(decks, *key),
                question=text,
                attempts=tried[key],
                scored=len(scores),
                recent=sum(recent) / len(recent),
                last=scores[0],
                due=due,
                overdue=due is not None and due <= now,
            )
        )
    rows.sort(key=lambda c: (c.recent, c.last, -c.scored, c.deck_id, c.position or 0))
    return rows[:limit]


def _missed(
    store: Store, deck_id: str | None, decks: dict[str, Deck], limit: int = 8
) -> list[MissedPoint]:
    """The reference points most often missing, across the most recent attempts. An attempt
    left unscored that a later attempt of the same card follows (the answer sent again after
    Back, say) is not counted."""
    query = select(
        Attempt.deck_id, Attempt.card_id, Attempt.question, Attempt.points, Attempt.final
    ).order_by(Attempt.id.desc())
    if deck_id is not None:
        query = query.where(Attempt.deck_id == deck_id)
    missed: Counter[tuple[str, str, str]] = Counter()
    graded: Counter[tuple[str, str, str]] = Counter()
    text: dict[tuple[str, str, str], str] = {}
    question: dict[tuple[str, str], str] = {}
    with store.read() as session:
        for row in session.execute(query.limit(MAX_POINT_ROWS)):
            if row.final is None and (row.deck_id, row.card_id) in question:
                continue  # newest first: a later attempt of this card is already counted
            question.setdefault((row.deck_id, row.card_id), row.question)
            for point in row.points or ():
                key = (row.deck_id, row.card_id, str(point.get("id", "")))
                graded[key] += 1
                text.setdefault(key, str(point.get("text", "")))
                if point.get("status") == "missing":
                    missed[key] += 1
    ranked = sorted(missed, key=lambda k: (-missed[k], -missed[k] / graded[k], k))
    out = []
    for key in ranked[:limit]:
        deck_key, card_id, point_id = key
        out.append(
            MissedPoint(
                deck_id=deck_key,
                card_id=card_id,
                position=_position(decks, deck_key, card_id),
                question=question[(deck_key, card_id)],
                point_id=point_id,
                text=text[key],
                missed=missed[key],
                graded=graded[key],
            )
        )
    return out


def _llm(attempts: list[Any]) -> LLMUsage:
    gradings = requests = prompt = completion = 0
    latencies: list[int] = []
    models: set[str] = set()
    for a in attempts:
        usage = a.llm_usage
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
    decks: dict[str, Deck], attempts: list[Any], reviews: list[Any], now: datetime
) -> list[DeckLine]:
    tried = Counter(a.deck_id for a in attempts)
    scored = Counter(a.deck_id for a in attempts if a.final is not None)
    last: dict[tuple[str, str], Any] = {}
    for r in reviews:
        last[(r.deck_id, r.card_id)] = r
    mastered: Counter[str] = Counter()
    for (deck_id, card_id), r in last.items():
        deck = decks.get(deck_id)
        current = deck is None or any(c.id == card_id for c in deck.cards)
        if current and r.score >= MASTERED and r.due_after > now:
            mastered[deck_id] += 1
    ordered = sorted(decks.values(), key=lambda d: (d.title.lower(), d.id))
    labels = dict(labelled((d.id, d.title) for d in ordered))
    lines = [
        DeckLine(d.id, labels[d.id], len(d.cards), tried[d.id], scored[d.id], mastered[d.id])
        for d in ordered
    ]
    for gone in sorted(set(tried) - set(decks)):
        cards = len({a.card_id for a in attempts if a.deck_id == gone})
        lines.append(DeckLine(gone, gone, cards, tried[gone], scored[gone], mastered[gone]))
    return lines


def deck_exists(catalog: Catalog, deck_id: str) -> bool:
    try:
        catalog.get(deck_id)
    except DeckNotFound:
        return False
    return True
