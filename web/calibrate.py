"""Per-deck calibration of suggestions to the person's own scoring: storage and application.

Every scored attempt is a (grader's score, final score) pair; the attempt keeps the grader's
own, uncalibrated score (``Attempt.grader_score``) beside the suggestion shown
(``Attempt.suggested``), so refits always learn from uncalibrated pairs. Once a deck has
``min_overrides`` overrides, ``grader.calibration.fit_calibration`` gives a monotone map
1-5 -> 1-5; it is refitted after every score (one GROUP BY over the deck's scored attempts),
stored in the ``deck_calibrations`` table so that it survives restarts, and applied to every
later suggestion for that deck unless switched off (globally by the setting
``FLASHGRADE_CALIBRATION``, or per deck).

``apply`` is on the grading hot path: it is a dict lookup, never a query.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from grader.calibration import Calibration, fit_calibration
from web.store import Attempt, Base, Store, utcnow


class DeckCalibration(Base):
    """A deck's calibration map (JSON, null until enough overrides) and its on/off switch."""

    __tablename__ = "deck_calibrations"

    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    calibration: Mapped[str | None] = mapped_column(Text)  # {method: Calibration JSON}
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Key = tuple[str, str]  # (deck id, grading method: "fuzzy" or "llm")


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


class Calibrator:
    """The calibrations of every deck, kept in memory and in the ``deck_calibrations`` table.

    A deck has one map per grading method: the fuzzy grader and the LLM rubric differ in
    their own ways, so what a person corrects in one says little about the other.
    """

    def __init__(self, store: Store, *, enabled: bool = True, min_overrides: int = 15) -> None:
        self.store = store
        self.enabled = enabled
        self.min_overrides = min_overrides
        self._lock = threading.Lock()  # refits and switches, one at a time
        self._switch: dict[str, bool] = {}
        self._fits: dict[Key, Calibration] = {}
        self._active: dict[Key, Calibration] = {}  # what apply() uses
        self._loaded = False

    # --- the hot path --------------------------------------------------------------------

    def apply(self, deck_id: str, score: int, method: str = "fuzzy") -> int:
        """The suggestion to show for the grader's ``score`` on ``deck_id`` (always 1-5)."""
        if not self._loaded:
            self.load()
        calibration = self._active.get((deck_id, method))
        return score if calibration is None else calibration.apply(score)

    def active(self, deck_id: str, method: str = "fuzzy") -> Calibration | None:
        """The calibration applied to the deck's suggestions by ``method`` now, if any."""
        if not self._loaded:
            self.load()
        return self._active.get((deck_id, method))

    # --- storage -------------------------------------------------------------------------

    def load(self) -> None:
        """Read every deck's switch and refit its maps from its scored attempts (once; later
        changes go through this object). Refitting at start-up keeps the stored maps in step
        with the settings (a changed minimum of overrides) and with the fitting code."""
        with self._lock:
            if self._loaded:
                return
            with self.store.read() as session:
                rows = {r.deck_id: r for r in session.execute(select(DeckCalibration)).scalars()}
                scored = session.execute(
                    select(Attempt.deck_id, Attempt.method)
                    .where(Attempt.final.is_not(None))
                    .distinct()
                ).all()
            for deck_id, row in rows.items():
                self._switch[deck_id] = row.enabled
            for deck_id, method in sorted((str(d), str(m)) for d, m in scored):
                fitted = fit_calibration(
                    self.pairs(deck_id, method), min_overrides=self.min_overrides
                )
                if fitted is not None:
                    self._fits[(deck_id, method)] = fitted
            for deck_id in {d for d, _ in scored}.union(rows):
                text = self._stored_text(str(deck_id))
                row = rows.get(deck_id)
                if (row.calibration if row is not None else None) != text:
                    self._store_row(str(deck_id), calibration=text)
                self._publish(str(deck_id))
            self._loaded = True

    def _stored_text(self, deck_id: str) -> str | None:
        """The deck's maps as stored: JSON, by method."""
        maps = {
            m: json.loads(c.to_json()) for (d, m), c in sorted(self._fits.items()) if d == deck_id
        }
        return json.dumps(maps) if maps else None

    def _publish(self, deck_id: str) -> None:
        on = self.enabled and self._switch.get(deck_id, True)
        for key in [k for k in self._active if k[0] == deck_id]:
            del self._active[key]
        for key, calibration in self._fits.items():
            if key[0] == deck_id and on and not calibration.is_identity:
                self._active[key] = calibration

    def pairs(self, deck_id: str, method: str = "fuzzy") -> list[tuple[int, int]]:
        """The (grader's score, final score) pairs of the deck's scored attempts graded by
        ``method``."""
        query = (
            select(Attempt.grader_score, Attempt.final, func.count())
            .where(
                Attempt.deck_id == deck_id,
                Attempt.method == method,
                Attempt.final.is_not(None),
            )
            .group_by(Attempt.grader_score, Attempt.final)
        )
        with self.store.read() as session:
            counts = session.execute(query).all()
        return [(int(s), int(f)) for s, f, n in counts for _ in range(int(n))]

    def refit(self, deck_id: str, method: str = "fuzzy") -> Calibration | None:
        """Fit the deck's map for ``method`` again and store it (None: not enough overrides
        yet). Called after every score; costs one grouped query and, on change, one upsert."""
        if not self._loaded:
            self.load()
        with self._lock:
            key = (deck_id, method)
            calibration = fit_calibration(
                self.pairs(deck_id, method), min_overrides=self.min_overrides
            )
            previous = self._fits.get(key)
            if previous != calibration:
                if calibration is None:
                    self._fits.pop(key, None)
                else:
                    self._fits[key] = calibration
                self._store_row(deck_id, calibration=self._stored_text(deck_id))
                self._publish(deck_id)
            return calibration

    def set_enabled(self, deck_id: str, enabled: bool) -> None:
        """The deck's own switch, for every method (stored; takes effect for the next
        suggestion)."""
        if not self._loaded:
            self.load()
        with self._lock:
            self._store_row(deck_id, enabled=enabled)
            self._switch[deck_id] = enabled
            self._publish(deck_id)

    def _store_row(self, deck_id: str, **values: Any) -> None:
        """Insert or update the deck's row with ``values`` (calibration, enabled)."""
        with self.store.write() as session:
            row = session.get(DeckCalibration, deck_id)
            if row is None:
                row = DeckCalibration(deck_id=deck_id, enabled=True, calibration=None)
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            row.updated_at = utcnow()

    def state(self, deck_id: str, method: str = "fuzzy") -> DeckState:
        if not self._loaded:
            self.load()
        overrides = sum(1 for s, f in self.pairs(deck_id, method) if s != f)
        return DeckState(
            deck_id=deck_id,
            method=method,
            enabled=self._switch.get(deck_id, True),
            globally_enabled=self.enabled,
            calibration=self._fits.get((deck_id, method)),
            min_overrides=self.min_overrides,
            overrides=overrides,
        )

    def active_decks(self) -> list[str]:
        """The decks with a calibration applied to some method's suggestions."""
        if not self._loaded:
            self.load()
        return sorted({deck_id for deck_id, _ in self._active})


def note(attempt: Any, calibrator: Calibrator | None) -> str | None:
    """The feedback page's line when an attempt's suggestion was calibrated, e.g.
    ``"Adjusted to your scoring in this deck: the grader's 4 → 3 (-1)"``. (No count of the
    answers it was learned from: the map in force then is not the one in force now.)"""
    grader, shown = int(attempt.grader_score), int(attempt.suggested)
    if grader == shown:
        return None
    change = f"the grader's {grader} → {shown} ({shown - grader:+d})"
    return f"Adjusted to your scoring in this deck: {change}"
