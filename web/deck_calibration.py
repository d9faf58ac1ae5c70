"""Per-deck calibration of suggestions to the person's own scoring: storage and application.

Every scored attempt is a (grader's score, final score) pair; the attempt keeps the grader's
own, uncalibrated score (``Attempt.grader_score``) beside the suggestion shown
(``Attempt.suggested``), so maps always learn from uncalibrated pairs. The pairs are counted
as they are scored (``calibration_counts``: at most 25 rows per deck and method), so a refit
reads those counts, never the deck's history (and a deck with thousands of pairs is refitted
each time they grow by 1%, not on every score). Once a deck has ``min_overrides`` overrides,
``grader.calibration.fit_calibration`` gives a monotone map 1-5 -> 1-5, stored in
``deck_calibrations`` in the same transaction as the score, and applied to every later
suggestion for that deck unless switched off (globally by the setting
``FLASHGRADE_CALIBRATION``, or per deck).

Several server processes share the database, so nothing here is kept in memory: ``apply``
reads the deck's row (one primary-key lookup); parsing its JSON is cached by its text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from grader.calibration import Calibration, fit_calibration
from web.storage.database import Store, add_to
from web.storage.models import CalibrationCount, DeckCalibration, utcnow

METHODS = ("fuzzy", "semantic", "llm")
# a map fitted from this many pairs or more is refitted once they have grown by REFIT_GROWTH
REFIT_ALWAYS_BELOW = 2000
REFIT_GROWTH = 0.01

# built once: constructing a select() costs half of this per-suggestion lookup
_DECK_ROW = select(DeckCalibration.enabled, DeckCalibration.calibration).where(
    DeckCalibration.person_id == bindparam("person"),
    DeckCalibration.deck_id == bindparam("deck_id"),
)


@dataclass(frozen=True, slots=True)
class DeckState:
    """What the stats page shows about a deck's calibration for one grading method."""

    deck_id: str
    method: str  # the map learned from, and applied to, this method's grades
    enabled: bool  # the deck's own switch
    globally_enabled: bool  # FLASHGRADE_CALIBRATION
    calibration: Calibration | None  # None until there are enough overrides
    min_overrides: int
    overrides: int  # scored attempts whose final score differs from the grader's

    @property
    def active(self) -> bool:
        """True when later suggestions for the deck are being adjusted."""
        return bool(
            self.enabled
            and self.globally_enabled
            and self.calibration is not None
            and not self.calibration.is_identity
        )

    @property
    def needed(self) -> int:
        """Overrides still missing before a calibration is fitted."""
        return max(0, self.min_overrides - self.overrides)


@lru_cache(maxsize=256)
def _parse(text: str | None) -> dict[str, Calibration]:
    """A deck's stored maps by method (cached: the same text is read on every suggestion)."""
    if not text:
        return {}
    return {m: Calibration.from_json(json.dumps(c)) for m, c in json.loads(text).items()}


def _dump(maps: dict[str, Calibration]) -> str | None:
    if not maps:
        return None
    return json.dumps({m: json.loads(c.to_json()) for m, c in sorted(maps.items())})


class Calibrator:
    """The calibrations of every deck, in the ``deck_calibrations`` table.

    A deck has one map per grading method: the fuzzy grader and the LLM rubric differ in
    their own ways, so what a person corrects in one says little about the other.
    """

    def __init__(self, store: Store, *, enabled: bool = True, min_overrides: int = 15) -> None:
        self.store = store
        self.enabled = enabled
        self.min_overrides = min_overrides

    # --- the hot path --------------------------------------------------------------------

    def apply(self, person: int, deck_id: str, score: int, method: str = "fuzzy") -> int:
        """The suggestion to show ``person`` for the grader's ``score`` on ``deck_id`` (1-5)."""
        calibration = self.active(person, deck_id, method)
        return score if calibration is None else calibration.apply(score)

    def active(self, person: int, deck_id: str, method: str = "fuzzy") -> Calibration | None:
        """The calibration applied to the person's suggestions by ``method`` now, if any."""
        if not self.enabled:
            return None
        # one statement outside a transaction, not an ORM session: this runs for every suggestion
        row = self.store.first(_DECK_ROW, {"person": person, "deck_id": deck_id})
        if row is None or not row.enabled:
            return None
        calibration = _parse(row.calibration).get(method)
        return None if calibration is None or calibration.is_identity else calibration

    # --- recording scores ----------------------------------------------------------------

    def record(
        self,
        session: Session,
        person: int,
        deck_id: str,
        method: str,
        grader_score: int,
        final: int,
        previous: int | None,
    ) -> None:
        """Count a final score (replacing ``previous``, a re-score's earlier one) and refit the
        deck's map, inside the caller's write transaction."""
        # one refit of a person's deck at a time
        self.store.lock(session, f"calibration:{person}:{deck_id}")
        key = {
            "person_id": person,
            "deck_id": deck_id,
            "method": method,
            "grader_score": grader_score,
        }
        if previous is not None:
            add_to(session, CalibrationCount, {**key, "final": previous}, {"n": -1})
        add_to(session, CalibrationCount, {**key, "final": final}, {"n": 1})
        if self.enabled:  # switched off everywhere: load() refits when it is on again
            self._refit(session, person, deck_id, method, always=False)

    def _counts(
        self, session: Session, person: int, deck_id: str, method: str
    ) -> list[tuple[int, int, int]]:
        """(grader's score, final score, how many): at most 25 rows."""
        rows = session.execute(
            select(CalibrationCount.grader_score, CalibrationCount.final, CalibrationCount.n)
            .where(
                CalibrationCount.person_id == person,
                CalibrationCount.deck_id == deck_id,
                CalibrationCount.method == method,
            )
            .order_by(CalibrationCount.grader_score, CalibrationCount.final)
        ).all()
        return [(int(s), int(f), int(n)) for s, f, n in rows if n]

    def pairs(self, person: int, deck_id: str, method: str = "fuzzy") -> list[tuple[int, int]]:
        """The (grader's score, final score) pairs of the deck's scored attempts graded by
        ``method``."""
        with self.store.read() as session:
            counts = self._counts(session, person, deck_id, method)
        return [(s, f) for s, f, n in counts for _ in range(n)]

    def _refit(
        self, session: Session, person: int, deck_id: str, method: str, *, always: bool = True
    ) -> Calibration | None:
        """Fit and store the deck's map for ``method``. Unless ``always``, a map fitted from
        REFIT_ALWAYS_BELOW pairs or more is kept until the pairs have grown by REFIT_GROWTH:
        the fit reads every pair (pure Python), and one more pair in thousands moves no
        level's mean by a score."""
        counts = self._counts(session, person, deck_id, method)
        total = sum(n for _, _, n in counts)
        overrides = sum(n for s, f, n in counts if s != f)
        row = session.get(DeckCalibration, (person, deck_id))
        maps = dict(_parse(row.calibration if row is not None else None))
        current = maps.get(method)
        if (
            not always
            and current is not None
            and overrides >= self.min_overrides
            and current.pairs >= REFIT_ALWAYS_BELOW
            and abs(total - current.pairs) < current.pairs * REFIT_GROWTH
        ):
            return current
        calibration = None
        if overrides >= self.min_overrides:
            pairs = [(s, f) for s, f, n in counts for _ in range(n)]
            calibration = fit_calibration(pairs, min_overrides=self.min_overrides)
        if calibration is None:
            maps.pop(method, None)
        else:
            maps[method] = calibration
        text = _dump(maps)
        if row is None:
            if text is not None:
                session.add(
                    DeckCalibration(
                        person_id=person, deck_id=deck_id, enabled=True, calibration=text
                    )
                )
                session.flush()  # the next refit in this transaction finds the row
        elif row.calibration != text:
            row.calibration = text
            row.updated_at = utcnow()
        return calibration

    def refit(self, person: int, deck_id: str, method: str = "fuzzy") -> Calibration | None:
        """Fit the person's map of the deck for ``method`` again from its counts and store it
        (None: not enough overrides yet)."""
        with self.store.write() as session:
            self.store.lock(session, f"calibration:{person}:{deck_id}")
            return self._refit(session, person, deck_id, method)

    def load(self) -> None:
        """Refit every deck's maps from their counts (at start-up): keeps the stored maps in
        step with the settings (a changed minimum of overrides) and with the fitting code."""
        if not self.enabled:
            return
        with self.store.read() as session:
            keys = session.execute(
                select(
                    CalibrationCount.person_id, CalibrationCount.deck_id, CalibrationCount.method
                ).distinct()
            ).all()
        for person, deck_id, method in sorted((int(p), str(d), str(m)) for p, d, m in keys):
            self.refit(person, deck_id, method)

    # --- the switch and the stats page -----------------------------------------------------

    def set_enabled(self, person: int, deck_id: str, enabled: bool) -> None:
        """The person's own switch for the deck, for every method (stored; takes effect for
        the next suggestion, in every server process)."""
        with self.store.write() as session:
            self.store.lock(session, f"calibration:{person}:{deck_id}")
            row = session.get(DeckCalibration, (person, deck_id))
            if row is None:
                session.add(
                    DeckCalibration(
                        person_id=person, deck_id=deck_id, enabled=enabled, calibration=None
                    )
                )
            else:
                row.enabled = enabled
                row.updated_at = utcnow()

    def state(self, person: int, deck_id: str, method: str = "fuzzy") -> DeckState:
        with self.store.read() as session:
            row = session.get(DeckCalibration, (person, deck_id))
            counts = self._counts(session, person, deck_id, method)
        return DeckState(
            deck_id=deck_id,
            method=method,
            enabled=row.enabled if row is not None else True,
            globally_enabled=self.enabled,
            calibration=_parse(row.calibration if row is not None else None).get(method),
            min_overrides=self.min_overrides,
            overrides=sum(n for s, f, n in counts if s != f),
        )

    def active_decks(self) -> list[str]:
        """The decks with a calibration applied to some method's suggestions (for someone)."""
        if not self.enabled:
            return []
        with self.store.read() as session:
            rows = session.execute(
                select(DeckCalibration.deck_id, DeckCalibration.calibration).where(
                    DeckCalibration.enabled.is_(True), DeckCalibration.calibration.is_not(None)
                )
            ).all()
        return sorted(
            {d for d, text in rows if any(not c.is_identity for c in _parse(text).values())}
        )


def note(attempt: Any, calibrator: Calibrator | None) -> str | None:
    """The feedback page's line when an attempt's suggestion was calibrated, e.g.
    ``"Adjusted to your scoring in this deck: the grader's 4 → 3 (-1)"``. (No count of the
    answers it was learned from: the map in force then is not the one in force now.)"""
    grader, shown = int(attempt.grader_score), int(attempt.suggested)
    if grader == shown:
        return None
    change = f"the grader's {grader} → {shown} ({shown - grader:+d})"
    return f"Adjusted to your scoring in this deck: {change}"
