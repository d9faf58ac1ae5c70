"""Agreement metrics of `flashgrade eval`, checked against small hand-computed cases."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from grader.cards import Card, Point
from grader.evaluate import (
    DataError,
    Row,
    metrics,
    missing_metrics,
    pearson,
    qwk,
    read_rows,
    round_half_up,
    spearman,
)
from grader.result import GradeResult, PointResult

FIXTURES = Path(__file__).parent / "fixtures"


def test_pearson_of_a_perfect_and_an_inverse_line() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_pearson_by_hand() -> None:
    # x = 1,2,3,4; y = 1,3,2,4: sxy = 4, sxx = syy = 5 -> r = 0.8
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_pearson_of_a_constant_is_zero() -> None:
    assert pearson([3, 3, 3], [1, 2, 3]) == 0.0


def test_spearman_uses_mean_ranks_for_ties() -> None:
    # ranks of x: 1, 2.5, 2.5, 4; of y: 1, 2, 3, 4 -> r = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [10, 20, 30, 40]) == pytest.approx(4.5 / math.sqrt(22.5))


def test_qwk_of_identical_ratings_is_1() -> None:
    assert qwk([1, 2, 3, 4, 5], [1, 2, 3, 4, 5]) == pytest.approx(1.0)


def test_qwk_by_hand() -> None:
    # a = 1,2 vs b = 2,2: observed disagreement 1/16 equals the chance-expected 1/16 -> 0.
    assert qwk([1, 2], [2, 2]) == pytest.approx(0.0)
    # a = 1,1,5,5 vs b = 1,2,5,5 (weights (i-j)^2/16): observed 1/16; expected
    # (0.5*1 + 1*16 + 0.5*16 + 0.5*9) / 16 = 1.8125 -> 1 - 0.0625/1.8125.
    assert qwk([1, 1, 5, 5], [1, 2, 5, 5]) == pytest.approx(1 - 0.0625 / 1.8125)


def test_round_half_up_rounds_halves_up() -> None:
    assert [round_half_up(x) for x in (1.5, 2.5, 2.49, 3.0)] == [2, 3, 2, 3]


def _card() -> Card:
    return Card("c", "Q?", tuple(Point(f"1.{i}", "", f"point {i}") for i in (1, 2, 3)))


def _result(score: int, statuses: list[str]) -> GradeResult:
    points = tuple(
        PointResult(f"1.{i}", "", f"point {i}", s)  # type: ignore[arg-type]
        for i, s in enumerate(statuses, start=1)
    )
    return GradeResult(score, 0.5, points, "fuzzy", "test")


def test_missing_metrics_by_hand() -> None:
    card = _card()
    row = Row("r", card, "a", 3.0, (1.0, 5.0), covered=frozenset({"1.1"}), partial=frozenset())
    # graders credited 1.1; the grader says 1.2 and 1.3 are missing and 1.1 covered.
    exact = missing_metrics([row], [_result(3, ["covered", "missing", "missing"])])
    assert exact == {"missing_precision": 1.0, "missing_recall": 1.0, "missing_f1": 1.0}
    # the grader says only 1.1 and 1.2 are missing: tp=1 (1.2), reported=2, truth=2.
    half = missing_metrics([row], [_result(3, ["missing", "missing", "covered"])])
    assert half == pytest.approx(
        {"missing_precision": 0.5, "missing_recall": 0.5, "missing_f1": 0.5}
    )


def test_metrics_map_human_scores_onto_1_to_5() -> None:
    card = _card()
    rows = [
        Row("a", card, "x", 0.0, (0.0, 5.0)),  # -> 1
        Row("b", card, "x", 2.5, (0.0, 5.0)),  # -> 3
        Row("c", card, "x", 5.0, (0.0, 5.0)),  # -> 5
    ]
    results = [_result(s, ["missing"] * 3) for s in (1, 2, 5)]
    m = metrics(rows, results)
    assert m["n"] == 3
    assert m["exact"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["within1"] == 1.0
    assert m["rmse"] == pytest.approx(math.sqrt(1 / 3), abs=1e-4)
    assert "missing_f1" not in m


def test_read_rows_shares_one_card_per_question_and_reference() -> None:
    rows = read_rows(FIXTURES / "labelled_seed.jsonl")
    assert len(rows) == 8
    assert len({id(r.card) for r in rows}) == 2
    assert rows[0].covered is not None


def test_plain_text_reference_is_split_into_points() -> None:
    rows = read_rows(FIXTURES / "labelled_plain.jsonl")
    assert rows[0].scale == (0.0, 5.0)
    assert rows[0].card.points[0].id == "1.1"


def test_a_broken_line_names_its_number(tmp_path: Path) -> None:
    good = (FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0]
    path = tmp_path / "data.jsonl"
    path.write_text(good + "\n{not json\n")
    with pytest.raises(DataError, match=r"data.jsonl:2: invalid JSON"):
        read_rows(path)


def test_a_row_without_an_answer_names_the_field(tmp_path: Path) -> None:
    row = json.loads((FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0])
    del row["answer"]
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r":1: missing field 'answer'"):
        read_rows(path)


def test_a_score_outside_its_scale_is_refused(tmp_path: Path) -> None:
    row = json.loads((FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0])
    row["score"] = 9
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match="outside scale"):
        read_rows(path)


def _one_row(tmp_path: Path, **changes: object) -> Path:
    row = json.loads((FIXTURES / "labelled_plain.jsonl").read_text().splitlines()[0])
    row.update(changes)
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"score": 10**400}, "'score' must be a finite number"),
        ({"score": True}, "'score' must be a number"),
        ({"score": "3"}, "'score' must be a number"),
        ({"scale": [float("-inf"), 5]}, "'scale' must be a finite number"),
        ({"covered": "1.1"}, "'covered' must be a list of point ids"),
        ({"reference": [{"id": "1.1", "text": None}]}, "point '1.1': 'text' must be"),
        (
            {"reference": [{"id": "1.1", "text": "a"}, {"id": "1.1", "text": "b"}]},
            "duplicate point ids",
        ),
    ],
)
def test_a_field_of_the_wrong_kind_is_refused_naming_its_line(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(DataError, match=rf"data\.jsonl:1: {message}"):
        read_rows(_one_row(tmp_path, **changes))


def test_a_line_separator_inside_a_string_does_not_split_the_line(tmp_path: Path) -> None:
    [row] = read_rows(_one_row(tmp_path, answer="input\u2028distribution\u0085shift"))
    assert row.answer == "input\u2028distribution\u0085shift"


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = _one_row(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert len(read_rows(path)) == 1


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_bytes_that_are_not_utf8_name_their_line_and_byte(tmp_path: Path, bom: bytes) -> None:
    path = _one_row(tmp_path)
    good = bom + path.read_bytes()
    path.write_bytes(good + b'{"answer": "\xff"}\n')
    byte = len(good) + len(b'{"answer": "')
    with pytest.raises(DataError, match=rf"data\.jsonl:2: not UTF-8 text \(byte {byte}\)"):
        read_rows(path)


def test_metrics_give_the_mean_signed_difference_per_kind_of_answer() -> None:
    card = _card()
    rows = [
        Row("a", card, "x", 2.0, (1.0, 5.0), kind="paraphrase"),
        Row("b", card, "x", 4.0, (1.0, 5.0), kind="paraphrase"),
        Row("c", card, "x", 1.0, (1.0, 5.0), kind="stuffing"),
    ]
    results = [_result(s, ["missing"] * 3) for s in (1, 4, 3)]
    assert metrics(rows, results)["by_kind"] == {
        "paraphrase": {"n": 2, "mean_diff": -0.5},
        "stuffing": {"n": 1, "mean_diff": 2.0},
    }


def test_metrics_of_rows_without_kinds_have_no_by_kind() -> None:
    rows = [Row("a", _card(), "x", 2.0, (1.0, 5.0))]
    assert "by_kind" not in metrics(rows, [_result(2, ["missing"] * 3)])
