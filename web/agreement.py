"""Grader agreement: how often the person's final score equals the suggestion, and which way
they differ, by deck, card and grading method; also as Prometheus gauges read at scrape time.

The difference is always ``final - suggested``: negative means the person is stricter than
the suggestions, positive more lenient. ``suggested`` is the score shown (calibrated where the
deck is calibrated); ``grader`` is the grader's own score, so both can be compared.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.storage.database import Store, add_to
from web.storage.models import AgreementTotal, Attempt

log = logging.getLogger(__name__)

# a mean distance below this many levels reads as agreeing
NEUTRAL = 0.25


@dataclass(frozen=True, slots=True)
class Scored:
    """One scored attempt, as agreement needs it."""

    deck_id: str
    card_id: str
    method: str
    suggested: int  # shown
    grader: int  # the grader's own, uncalibrated
    final: int
    n: int = 1  # how many scored attempts had exactly these values (from a GROUP BY)


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement over ``n`` scored attempts."""

    n: int
    exact: int  # final == suggested
    signed_sum: int  # sum of final - suggested
    abs_sum: int
    grader_exact: int  # final == the grader's own score
    grader_signed_sum: int

    @property
    def exact_rate(self) -> float:
        return self.exact / self.n if self.n else 0.0

    @property
    def mean_signed(self) -> float:
        """Mean of final - suggested: below 0, the person is stricter than the suggestions."""
        return self.signed_sum / self.n if self.n else 0.0

    @property
    def mean_abs(self) -> float:
        return self.abs_sum / self.n if self.n else 0.0

    @property
    def up_mean(self) -> float:
        """The part of ``mean_abs`` where the final score is above the suggestion: levels up,
        per scored attempt. With ``down_mean`` it says which way the person differs, where a
        mean of signed differences would let ups and downs cancel."""
        return (self.abs_sum + self.signed_sum) / 2 / self.n if self.n else 0.0

    @property
    def down_mean(self) -> float:
        """The part of ``mean_abs`` where the final score is below the suggestion."""
        return (self.abs_sum - self.signed_sum) / 2 / self.n if self.n else 0.0

    @property
    def direction(self) -> str:
        """The way the person differs: "same" (under NEUTRAL levels apart on average),
        "higher" or "lower" (at least twice as much one way as the other), else "both"."""
        if not self.n or self.mean_abs < NEUTRAL:
            return "same"
        up, down = self.abs_sum + self.signed_sum, self.abs_sum - self.signed_sum  # twice each
        if up >= 2 * down:
            return "higher"
        if down >= 2 * up:
            return "lower"
        return "both"

    @property
    def grader_exact_rate(self) -> float:
        return self.grader_exact / self.n if self.n else 0.0

    @property
    def grader_mean_signed(self) -> float:
        return self.grader_signed_sum / self.n if self.n else 0.0

    @property
    def calibrated(self) -> bool:
        """True when some suggestions here differed from the grader's own score."""
        return (self.exact, self.signed_sum) != (self.grader_exact, self.grader_signed_sum)

    @property
    def verdict(self) -> str:
        """Which way the person differs from the suggestions, in words."""
        if not self.n:
            return "no scores yet"
        return {
            "same": "you agree with the grader",
            "higher": "you score higher than the grader",
            "lower": "you score lower than the grader",
            "both": "you score both higher and lower than the grader",
        }[self.direction]


EMPTY = Agreement(0, 0, 0, 0, 0, 0)


def agreement(rows: Iterable[Scored]) -> Agreement:
    n = exact = signed = absolute = g_exact = g_signed = 0
    for r in rows:
        d = r.final - r.suggested
        n += r.n
        exact += r.n * (d == 0)
        signed += r.n * d
        absolute += r.n * abs(d)
        g_exact += r.n * (r.final == r.grader)
        g_signed += r.n * (r.final - r.grader)
    return Agreement(n, exact, signed, absolute, g_exact, g_signed)


def grouped(rows: Iterable[Scored], key: Callable[[Scored], Hashable]) -> dict[Any, Agreement]:
    """Agreement per ``key(row)``, keys in first-seen order."""
    groups: dict[Any, list[Scored]] = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r)
    return {k: agreement(v) for k, v in groups.items()}


@dataclass(frozen=True, slots=True)
class Report:
    overall: Agreement
    by_method: dict[str, Agreement]
    by_deck: dict[str, Agreement]
    by_card: dict[tuple[str, str], Agreement]


def _sum(parts: Iterable[Agreement]) -> Agreement:
    total = EMPTY
    for a in parts:
        total = Agreement(*(x + y for x, y in zip(
            (total.n, total.exact, total.signed_sum, total.abs_sum, total.grader_exact,
             total.grader_signed_sum),
            (a.n, a.exact, a.signed_sum, a.abs_sum, a.grader_exact, a.grader_signed_sum),
            strict=True,
        )))  # fmt: skip
    return total


def grouped_report(groups: Iterable[tuple[str, str, str, Agreement]]) -> Report:
    """The report from agreements already summed per (deck, card, method), e.g. by SQL."""
    groups = list(groups)
    by: dict[str, dict[Any, list[Agreement]]] = {"method": {}, "deck": {}, "card": {}}
    for deck_id, card_id, method, a in groups:
        by["method"].setdefault(method, []).append(a)
        by["deck"].setdefault(deck_id, []).append(a)
        by["card"].setdefault((deck_id, card_id), []).append(a)
    return Report(
        overall=_sum(a for *_, a in groups),
        by_method={k: _sum(v) for k, v in sorted(by["method"].items())},
        by_deck={k: _sum(v) for k, v in sorted(by["deck"].items())},
        by_card={k: _sum(v) for k, v in by["card"].items()},
    )


def report(rows: Iterable[Scored]) -> Report:
    rows = list(rows)
    return Report(
        overall=agreement(rows),
        by_method=dict(sorted(grouped(rows, lambda r: r.method).items())),
        by_deck=dict(sorted(grouped(rows, lambda r: r.deck_id).items())),
        by_card=grouped(rows, lambda r: (r.deck_id, r.card_id)),
    )


def record(session: Session, attempt: Attempt, final: int, previous: int | None) -> None:
    """Add a final score to its card's agreement sums (replacing ``previous``, a re-score's
    earlier one), inside the caller's write transaction."""
    key = {
        "person_id": attempt.person_id,
        "deck_id": attempt.deck_id,
        "card_id": attempt.card_id,
        "method": attempt.method,
    }

    def amounts(score: int, sign: int) -> dict[str, int]:
        d = score - attempt.suggested
        return {
            "n": sign,
            "exact": sign * (d == 0),
            "signed_sum": sign * d,
            "abs_sum": sign * abs(d),
            "grader_exact": sign * (score == attempt.grader_score),
            "grader_signed_sum": sign * (score - attempt.grader_score),
        }

    if previous is not None:
        add_to(session, AgreementTotal, key, amounts(previous, -1))
    add_to(session, AgreementTotal, key, amounts(final, 1))


def totals(
    session: Session, person: int, deck_id: str | None = None
) -> list[tuple[str, str, str, Agreement]]:
    """A person's agreement sums per (deck, card, method), of one deck or every deck."""
    query = select(AgreementTotal).where(AgreementTotal.person_id == person, AgreementTotal.n > 0)
    if deck_id is not None:
        query = query.where(AgreementTotal.deck_id == deck_id)
    query = query.order_by(AgreementTotal.deck_id, AgreementTotal.card_id, AgreementTotal.method)
    return [
        (t.deck_id, t.card_id, t.method,
         Agreement(t.n, t.exact, t.signed_sum, t.abs_sum, t.grader_exact, t.grader_signed_sum))
        for t in session.scalars(query)
    ]  # fmt: skip


# --- /metrics ---------------------------------------------------------------------------------


class AgreementCollector:
    """Prometheus gauges computed from the database at scrape time, by deck and method:
    scored attempts, exact agreement, mean signed and absolute difference; and which decks
    are calibrated. (Not by card: cards are too many labels for a time series database.)"""

    def __init__(self, store: Store, calibrated: Callable[[], Iterable[str]] | None = None):
        self.store = store
        self.calibrated = calibrated

    def describe(self) -> list[Any]:
        return list(self._families())  # names only: no query when registering

    def _families(self) -> Iterator[GaugeMetricFamily]:
        labels = ["deck", "method"]
        yield GaugeMetricFamily(
            "flashgrade_agreement_scored_attempts",
            "Scored attempts, by deck and grading method.",
            labels=labels,
        )
        yield GaugeMetricFamily(
            "flashgrade_agreement_exact_ratio",
            "Share of scored attempts whose final score equals the suggestion.",
            labels=labels,
        )
        yield GaugeMetricFamily(
            "flashgrade_agreement_mean_signed_difference",
            "Mean of final minus suggested score (below 0: the person is stricter).",
            labels=labels,
        )
        yield GaugeMetricFamily(
            "flashgrade_agreement_mean_absolute_difference",
            "Mean absolute difference between final and suggested score.",
            labels=labels,
        )
        yield GaugeMetricFamily(
            "flashgrade_agreement_grader_exact_ratio",
            "Share of scored attempts whose final score equals the grader's own "
            "(uncalibrated) score.",
            labels=labels,
        )
        yield GaugeMetricFamily(
            "flashgrade_calibration_active",
            "1 for each deck whose suggestions are calibrated to the person's overrides.",
            labels=["deck"],
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = list(self._families())
        n, exact, signed, absolute, grader_exact, active = families
        t = AgreementTotal
        query = (
            select(
                t.deck_id,
                t.method,
                func.sum(t.n),
                func.sum(t.exact),
                func.sum(t.signed_sum),
                func.sum(t.abs_sum),
                func.sum(t.grader_exact),
            )
            .group_by(t.deck_id, t.method)
            .having(func.sum(t.n) > 0)
            .order_by(t.deck_id, t.method)
        )
        try:
            with self.store.read() as session:
                rows = session.execute(query).all()
            decks = sorted(self.calibrated()) if self.calibrated is not None else []
        except Exception as exc:  # a scrape must not fail because the database is busy
            log.warning("agreement metrics unavailable: %s", exc)
            return
        for deck_id, method, count, same, total, total_abs, grader_same in rows:
            labels = [deck_id, method]
            n.add_metric(labels, count)
            exact.add_metric(labels, same / count)
            signed.add_metric(labels, total / count)
            absolute.add_metric(labels, total_abs / count)
            grader_exact.add_metric(labels, grader_same / count)
        for deck_id in decks:
            active.add_metric([deck_id], 1)
        yield from families
