"""Calibration to a person's overrides: a monotone, explainable map within 1-5."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from grader.calibration import Calibration, fit_calibration


def one_lower(suggested: int) -> int:
    return max(1, suggested - 1)


def test_no_calibration_until_enough_overrides() -> None:
    pairs = [(s, one_lower(s)) for s in [2, 3, 4, 5] * 3]  # 12 overrides
    assert fit_calibration(pairs, min_overrides=15) is None
    assert fit_calibration(pairs, min_overrides=12) is not None


def test_a_person_who_agrees_leaves_suggestions_unchanged() -> None:
    pairs = [(s, s) for s in [1, 2, 3, 4, 5] * 10]
    assert fit_calibration(pairs) is None
    forced = fit_calibration(pairs, min_overrides=0)
    assert forced is not None and forced.is_identity


def test_a_person_one_level_stricter_is_learned_at_every_level() -> None:
    pairs = [
        (s, one_lower(s)) for s in [1, 2, 2, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 3, 4, 2, 5, 4, 3]
    ]
    calibration = fit_calibration(pairs)
    assert calibration is not None
    assert calibration.mapping == (1, 1, 2, 3, 4)


def test_a_level_never_seen_follows_its_neighbours() -> None:
    pairs = [(s, s - 1) for s in [3, 4] * 10]
    calibration = fit_calibration(pairs)
    assert calibration is not None
    assert calibration.apply(5) == 4 and calibration.apply(2) == 1


def test_levels_far_from_any_override_stay_unchanged() -> None:
    calibration = fit_calibration([(1, 3)] * 15)
    assert calibration is not None
    assert calibration.apply(1) == 3
    assert [calibration.apply(s) for s in (4, 5)] == [4, 5]


def test_agreement_at_the_neighbours_keeps_an_unseen_level() -> None:
    pairs = [(1, 2)] * 16 + [(1, 1)] * 4 + [(4, 4)] * 2 + [(2, 2)]
    calibration = fit_calibration(pairs)
    assert calibration is not None
    assert calibration.apply(3) == 3


def test_explanation_says_how_and_from_what() -> None:
    calibration = Calibration((1, 1, 2, 3, 4), pairs=20, overrides=17, offset=-0.85)
    assert calibration.explain(4) == (
        "adjusted to your scoring: 4 -> 3 (-1), learned from 20 scored answers"
    )
    assert calibration.explain(1).startswith("matches your scoring")


def test_json_round_trip() -> None:
    calibration = Calibration((1, 2, 2, 4, 5), pairs=30, overrides=16, offset=-0.2)
    assert Calibration.from_json(calibration.to_json()) == calibration


@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=1, max_size=80))
def test_map_is_monotone_and_within_1_to_5(pairs: list[tuple[int, int]]) -> None:
    calibration = fit_calibration(pairs, min_overrides=0)
    assert calibration is not None
    assert list(calibration.mapping) == sorted(calibration.mapping)
    assert all(1 <= calibration.apply(s) <= 5 for s in range(0, 8))
