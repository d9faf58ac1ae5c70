"""Calibration to one person's scoring: a monotone map from suggested to final scores.

Every override is a label. From the (suggested, final) pairs of a deck's scored attempts we
learn, for each suggested level 1-5, the score this person tends to give instead:

1. the mean final score at each level, shrunk towards "the level plus the offset this person
   shows at it and its neighbouring levels", so that a level seen once or never still gets a
   sensible value, while a level with no data near it stays unchanged;
2. pool-adjacent-violators, so that the map never decreases (a higher coverage never earns a
   lower suggestion);
3. rounded half up and clamped to 1-5.

The suggested level is itself a step function of coverage, so this is a monotone mapping from
coverage to the person's scores, learned from few examples and easy to explain ("4 -> 3: you
usually score one lower"). The map is plain data, stored as JSON beside the deck's history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

LEVELS = (1, 2, 3, 4, 5)
PRIOR_WEIGHT = 2.0  # how many pseudo-observations of the overall offset each level starts with
MIN_OVERRIDES = 15


@dataclass(frozen=True, slots=True)
class Calibration:
    """The calibrated score for each suggested score 1-5, and what it was fitted on."""

    mapping: tuple[int, int, int, int, int]
    pairs: int
    overrides: int
    offset: float  # mean of final - suggested over the pairs

    def apply(self, score: int) -> int:
        """The calibrated suggestion for an uncalibrated ``score`` (always within 1-5)."""
        return self.mapping[min(5, max(1, score)) - 1]

    @property
    def is_identity(self) -> bool:
        return self.mapping == LEVELS

    def explain(self, score: int) -> str:
        """One line for the feedback page, e.g. "adjusted to your scoring: 4 -> 3 (-1)"."""
        new = self.apply(score)
        if new == score:
            return f"matches your scoring ({self.pairs} scored answers)"
        return (
            f"adjusted to your scoring: {score} -> {new} ({new - score:+d}), "
            f"learned from {self.pairs} scored answers"
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "mapping": list(self.mapping),
                "pairs": self.pairs,
                "overrides": self.overrides,
                "offset": self.offset,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        a, b, c, d, e = (int(x) for x in data["mapping"])
        mapping = (a, b, c, d, e)
        if any(not 1 <= x <= 5 for x in mapping) or list(mapping) != sorted(mapping):
            raise ValueError(f"not a calibration map: {mapping}")
        return cls(
            mapping,
            int(data["pairs"]),
            int(data["overrides"]),
            float(data["offset"]),
        )


def fit_calibration(
    pairs: Iterable[tuple[int, int]],
    *,
    min_overrides: int = MIN_OVERRIDES,
    prior_weight: float = PRIOR_WEIGHT,
) -> Calibration | None:
    """Fit the map from (suggested, final) pairs; None until there are enough overrides.

    An override is a pair whose final score differs from the suggestion. A person who always
    agrees never reaches ``min_overrides``, so their suggestions stay as they are.
    """
    clean = [(int(s), int(f)) for s, f in pairs if 1 <= s <= 5 and 1 <= f <= 5]
    overrides = sum(1 for s, f in clean if s != f)
    if not clean or overrides < min_overrides:
        return None
    offset = sum(f - s for s, f in clean) / len(clean)

    sums = {level: 0.0 for level in LEVELS}
    counts = {level: 0 for level in LEVELS}
    for s, f in clean:
        sums[s] += f
        counts[s] += 1
    # Shrink each level's mean towards "level + the offset seen at it and its neighbours";
    # a level with no data nearby stays where it is: no evidence, no change.
    diffs = {level: sums[level] - level * counts[level] for level in LEVELS}
    blocks = []
    for level in LEVELS:
        near = [n for n in (level - 1, level, level + 1) if n in counts]
        seen = sum(counts[n] for n in near)
        local = sum(diffs[n] for n in near) / seen if seen else 0.0
        prior = min(5.0, max(1.0, level + local))
        weight = counts[level] + prior_weight
        blocks.append([(sums[level] + prior_weight * prior) / weight, weight, 1])

    # Pool adjacent violators: merge neighbours until the means never decrease.
    merged: list[list[float]] = []
    for block in blocks:
        merged.append(list(block))
        while len(merged) > 1 and merged[-2][0] > merged[-1][0]:
            mean_b, weight_b, size_b = merged.pop()
            mean_a, weight_a, size_a = merged.pop()
            weight = weight_a + weight_b
            merged.append(
                [(mean_a * weight_a + mean_b * weight_b) / weight, weight, size_a + size_b]
            )
    values: list[int] = []
    for mean, _, size in merged:
        values.extend([min(5, max(1, math.floor(mean + 0.5)))] * int(size))
    return Calibration(tuple(values), len(clean), overrides, round(offset, 4))  # type: ignore[arg-type]
