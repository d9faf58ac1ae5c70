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

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, func, select
from sqlalchemy.orm import Mapped, mapped_column

from grader.calibration import Calibration, fit_calibration
from web.store import Attempt, Base, Store, utcnow

log = logging.getLogger(__name__)


class DeckCalibration(Base):
    """A deck's calibration map (JSON, null until enough overrides) and its on/off switch."""

    __tablename__ = "deck_calibrations"

    deck_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    calibration: Mapped[str | None] = mapped_column(Text)  # Calibration.to_json()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True, slots=True)
class DeckState:
    """What the stats page shows about a deck's calibration."""

    deck_id: str
    enabled: bool  # the deck's own switch
    globally_enabled: bool  # FLASHGRADE_CALIBRATION
    calibration: Calibration | None  # None until the deck has enough overrides
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
    """The calibrations of every deck, kept in memory and in the ``deck_calibrations`` table."""

    def __init__(self, store: Store, *, enabled: bool = True, min_overrides: int = 15) -> None:
        self.store = store
        self.enabled = enabled
        self.min_overrides = min_overrides
        self._lock = threading.Lock()  # refits and switches, one at a time
        self._switch: dict[str, bool] = {}
        self._fits: dict[str, Calibration] = {}
        self._active: dict[str, Calibration] = {}  # what apply() uses
        self._loaded = False

    # --- the hot path --------------------------------------------------------------------

    def apply(self, deck_id: str, score: int) -> int:
        """The suggestion to show for the grader's ``score`` on ``deck_id`` (always 1-5)."""
        if not self._loaded:
            self.load()
        calibration = self._active.get(deck_id)
        return score if calibration is None else calibration.apply(score)

    def active(self, deck_id: str) -> Calibration | None:
        """The calibration applied to the deck's suggestions now, if any."""
        if not self._loaded:
            self.load()
        return self._active.get(deck_id)

    # --- storage -------------------------------------------------------------------------

    def load(self) -> None:
        """Read every deck's switch and refit its map from its scored attempts (once; later
        changes go through this object). Refitting at start-up keeps the stored maps in step
        with the settings (a changed minimum of overrides) and with the fitting code."""
        with self._lock:
            if self._loaded:
                return
            with self.store.read() as session:
                rows = {r.deck_id: r for r in session.execute(select(DeckCalibration)).scalars()}
                scored = session.scalars(
                    select(Attempt.deck_id).where(Attempt.final.is_not(None)).distinct()
                )
                deck_ids = set(rows).union(scored)
            for deck_id in sorted(deck_ids):
                row = rows.get(deck_id)
                self._switch[deck_id] = row.enabled if row is not None else True
                fitted = fit_calibration(self.pairs(deck_id), min_overrides=self.min_overrides)
                text = fitted.to_json() if fitted is not None else None
                if (row.calibration if row is not None else None) != text:
                    self._store_row(deck_id, calibration=text)
                if fitted is not None:
                    self._fits[deck_id] = fitted
                self._publish(deck_id)
            self._loaded = True

    def _publish(self, deck_id: str) -> None:
        calibration = self._fits.get(deck_id)
        if (
            self.enabled
            and self._switch.get(deck_id, True)
            and calibration is not None
            and not calibration.is_identity
        ):
            self._active[deck_id] = calibration
        else:
            self._active.pop(deck_id, None)

    def pairs(self, deck_id: str) -> list[tuple[int, int]]:
        """The deck's (grader's score, final score) pairs, from every scored attempt."""
        query = (
            select(Attempt.grader_score, Attempt.final, func.count())
            .where(Attempt.deck_id == deck_id, Attempt.final.is_not(None))
            .group_by(Attempt.grader_score, Attempt.final)
        )
        with self.store.read() as session:
            counts = session.execute(query).all()
        return [(int(s), int(f)) for s, f, n in counts for _ in range(int(n))]

    def refit(self, deck_id: str) -> Calibration | None:
        """Fit the deck's map again from its scored attempts and store it (None: not enough
        overrides yet). Called after every score; costs one grouped query and one upsert."""
        if not self._loaded:
            self.load()
        with self._lock:
            calibration = fit_calibration(self.pairs(deck_id), min_overrides=self.min_overrides)
            text = calibration.to_json() if calibration is not None else None
            previous = self._fits.get(deck_id)
            if (previous.to_json() if previous is not None else None) != text:
                self._store_row(deck_id, calibration=text)
                if calibration is None:
                    self._fits.pop(deck_id, None)
                else:
                    self._fits[deck_id] = calibration
                self._publish(deck_id)
            return calibration

    def set_enabled(self, deck_id: str, enabled: bool) -> None:
        """The deck's own switch (stored; takes effect for the next suggestion)."""
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

    def state(self, deck_id: str) -> DeckState:
        if not self._loaded:
            self.load()
        overrides = sum(1 for s, f in self.pairs(deck_id) if s != f)
        return DeckState(
            deck_id=deck_id,
            enabled=self._switch.get(deck_id, True),
            globally_enabled=self.enabled,
            calibration=self._fits.get(deck_id),
            min_overrides=self.min_overrides,
            overrides=overrides,
        )

    def active_decks(self) -> dict[str, Calibration]:
        if not self._loaded:
            self.load()
        return dict(self._active)


def note(attempt: Any, calibrator: Calibrator | None) -> str | None:
    """The feedback page's line when an attempt's suggestion was calibrated, e.g.
    ``"Adjusted to your scoring: 4 → 3 (-1), learned from 20 scored answers"``."""
    grader, shown = int(attempt.grader_score), int(attempt.suggested)
    if grader == shown:
        return None
    text = f"Adjusted to your scoring: the grader's {grader} → {shown} ({shown - grader:+d})"
    calibration = calibrator.active(attempt.deck_id) if calibrator is not None else None
    if calibration is not None:
        text += f", learned from {calibration.pairs} scored answers in this deck"
    return text
