"""Coverage -> the suggested 1-5 score.

Coverage is the mean of the points' credits (0-1), less a penalty for each point that the
answer contradicts. The thresholds below were fitted on the labelled data in
``../shared/data`` (see README "Calibration"); strictness moves them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grader.result import PointResult

Strictness = Literal["lenient", "normal", "strict"]
STRICTNESS_SHIFT: dict[str, float] = {"lenient": -0.07, "normal": 0.0, "strict": 0.07}
CONTRADICTION_PENALTY = 1.0  # a denied point costs as much as a covered one earns


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The lowest coverage that earns a 2, 3, 4 and 5."""

    two: float = 0.10
    three: float = 0.35
    four: float = 0.60
    five: float = 0.82

    def __post_init__(self) -> None:
        values = (self.two, self.three, self.four, self.five)
        if not all(0.0 <= v <= 1.0 for v in values) or list(values) != sorted(values):
            raise ValueError(f"thresholds must rise within 0-1, got {values}")

    def score(self, coverage: float, *, shift: float = 0.0) -> int:
        """The 1-5 score for a coverage."""
        levels = (self.two, self.three, self.four, self.five)
        return 1 + sum(coverage >= min(1.0, max(0.0, t + shift)) for t in levels)


DEFAULT_THRESHOLDS = Thresholds()


def coverage_of(points: Sequence[PointResult]) -> float:
    """Mean credit over the points, less the contradiction penalty, within 0-1."""
    if not points:
        return 0.0
    credit = sum(p.credit for p in points)
    denied = sum(1 for p in points if p.contradicted)
    return max(0.0, min(1.0, (credit - CONTRADICTION_PENALTY * denied) / len(points)))


def score_points(
    points: Sequence[PointResult],
    *,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
) -> tuple[float, int]:
    """(coverage, score) for graded points; the score is always within 1-5."""
    if strictness not in STRICTNESS_SHIFT:
        raise ValueError(f"strictness must be lenient, normal or strict, not {strictness!r}")
    coverage = coverage_of(points)
    score = (thresholds or DEFAULT_THRESHOLDS).score(coverage, shift=STRICTNESS_SHIFT[strictness])
    return coverage, score
