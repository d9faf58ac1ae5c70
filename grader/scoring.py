"""Coverage -> the suggested 1-5 score.

Coverage blends three signals, each within 0-1:

- the mean of the points' credits, less a penalty for each point that the answer denies
  (which never takes more than half of the credit);
- breadth, the share of the card's whole key-term weight that the answer matched: a
  reference often lists alternatives ("name two of ..."), so an answer that matches a good
  share of it overall is credited even where it is spread thinly over the points (only for
  references in one section: a checklist in titled sections is graded point by point);
- similarity, the rapidfuzz token-sort similarity of the whole answer to the whole reference
  (content-word stems), above a floor that unrelated texts reach: it rewards answers worded
  close to the reference beyond the key terms.

The constants and thresholds were fitted on the labelled data in ``../shared/data`` (see
README "Calibration"); strictness moves the thresholds all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from grader.result import PointResult

Strictness = Literal["lenient", "normal", "strict"]
STRICTNESS_SHIFT: dict[str, float] = {"lenient": -0.07, "normal": 0.0, "strict": 0.07}
CONTRADICTION_PENALTY = 1.0  # a denied point costs as much as a covered one earns ...
KEPT_UNDER_CONTRADICTION = 0.5  # ... but an answer keeps at least this share of its credit
BREADTH_SATURATION = 0.25  # matching this share of all key-term weight ...
BREADTH_CREDIT = 0.7  # ... earns at least this coverage
SIMILARITY_WEIGHT = 0.3
SIMILARITY_FLOOR = 0.3  # unrelated texts still share some words: only the excess counts


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The lowest coverage that earns a 2, 3, 4 and 5."""

    two: float = 0.04
    three: float = 0.20
    four: float = 0.50
    five: float = 0.68

    def __post_init__(self) -> None:
        values = (self.two, self.three, self.four, self.five)
        if not all(0.0 <= v <= 1.0 for v in values) or list(values) != sorted(values):
            raise ValueError(f"thresholds must rise within 0-1, got {values}")

    def score(self, coverage: float, *, shift: float = 0.0) -> int:
        """The 1-5 score for a coverage."""
        levels = (self.two, self.three, self.four, self.five)
        return 1 + sum(coverage >= min(1.0, max(0.0, t + shift)) for t in levels)


DEFAULT_THRESHOLDS = Thresholds()
# Each matcher's credits run on their own scale, so each has its own cut points for a checklist
# (points in titled sections, as decks are written), fitted on the deck-like labelled data
# (README "Calibration"). A prose reference (one section: the sentences of a model answer)
# is graded with breadth as well (see coverage_of) and keeps the cut points fitted on prose
# answers. The LLM's verdicts are scored on the scale of the offline grade they merge into.
THRESHOLDS: dict[str, Thresholds] = {
    "fuzzy": Thresholds(two=0.11, three=0.23, four=0.33, five=0.46),
    "semantic": Thresholds(two=0.13, three=0.29, four=0.46, five=0.56),
}
PROSE_THRESHOLDS = DEFAULT_THRESHOLDS


def thresholds_for(method: str, *, sectioned: bool) -> Thresholds:
    """The cut points of a matcher for a checklist (``sectioned``) or a prose reference."""
    return THRESHOLDS.get(method, DEFAULT_THRESHOLDS) if sectioned else PROSE_THRESHOLDS


def coverage_of(
    points: Sequence[PointResult], *, breadth: float = 0.0, similarity: float = 0.0
) -> float:
    """The answer's coverage, 0-1: point credits, breadth and similarity (see module doc)."""
    if not points:
        return 0.0
    credit = sum(p.credit for p in points)
    denied = sum(1 for p in points if p.contradicted)
    # Denying a point ("skip blue-green") is not unsaying the points the answer made.
    kept = max(KEPT_UNDER_CONTRADICTION * credit, credit - CONTRADICTION_PENALTY * denied)
    base = max(0.0, kept / len(points))
    base = max(base, BREADTH_CREDIT * min(1.0, breadth / BREADTH_SATURATION))
    above = max(0.0, similarity - SIMILARITY_FLOOR) / (1 - SIMILARITY_FLOOR)
    blended = (1 - SIMILARITY_WEIGHT) * base + SIMILARITY_WEIGHT * above
    return max(0.0, min(1.0, blended))


def score_points(
    points: Sequence[PointResult],
    *,
    strictness: Strictness = "normal",
    thresholds: Thresholds | None = None,
    breadth: float = 0.0,
    similarity: float = 0.0,
) -> tuple[float, int]:
    """(coverage, score) for graded points; the score is always within 1-5."""
    if strictness not in STRICTNESS_SHIFT:
        raise ValueError(f"strictness must be lenient, normal or strict, not {strictness!r}")
    coverage = coverage_of(points, breadth=breadth, similarity=similarity)
    score = (thresholds or DEFAULT_THRESHOLDS).score(coverage, shift=STRICTNESS_SHIFT[strictness])
    return coverage, at_least_2_if_covered(score, points)


def at_least_2_if_covered(score: int, points: Sequence[PointResult]) -> int:
    """``score``, raised to 2 where a point is covered: "1 Not at all" beside a point marked
    covered would contradict itself. (A deck calibrated to a person's overrides is their own
    scale: the web app does not apply this to its calibrated suggestions.)"""
    if score == 1 and any(p.status == "covered" for p in points):
        return 2
    return score
