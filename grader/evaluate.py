"""Labelled data -> predictions -> agreement metrics (``flashgrade eval``).

The data format is DESIGN.md's: one human-graded answer per JSONL line. Human scores are
mapped linearly onto 1-5; QWK, exact and within-1 round them half up first.
"""

from __future__ import annotations

import codecs
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.cards import Card, Point
from grader.result import GradeResult
from grader.split import split_points


class DataError(ValueError):
    """A labelled-data file that cannot be read; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Row:
    """One graded answer: the card it answers, the human score and credited points."""

    id: str
    card: Card
    answer: str
    score: float
    scale: tuple[float, float]
    covered: frozenset[str] | None = None
    partial: frozenset[str] | None = None
    kind: str | None = None  # what sort of answer it is ("paraphrase", ...), where labelled

    @property
    def human_1to5(self) -> float:
        """The human score mapped linearly onto 1-5."""
        low, high = self.scale
        return 1.0 + 4.0 * (self.score - low) / (high - low)


def read_rows(path: str | Path) -> list[Row]:
    """Parse a labelled JSONL file; cards with the same question and reference are shared."""
    path = Path(path)
    data = path.read_bytes()
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        text = data[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = bom + exc.start
        at = data.count(b"\n", 0, byte) + 1
        raise DataError(f"{path}:{at}: not UTF-8 text (byte {byte})") from None
    # JSON Lines end at "\n" alone: str.splitlines() would also cut at U+2028 inside a string
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    cards: dict[str, Card] = {}
    rows: list[Row] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(_row(json.loads(line), cards, len(rows) + 1))
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{number}: invalid JSON ({exc.msg}, column {exc.colno})"
            ) from None
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}:{number}: {_describe(exc)}") from None
    if not rows:
        raise DataError(f"{path}: no labelled rows")
    return rows


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def _row(obj: Any, cards: dict[str, Card], number: int) -> Row:
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    question = obj["question"]
    reference = obj["reference"]
    answer = obj["answer"]
    if not isinstance(question, str) or not isinstance(answer, str):
        raise ValueError("'question' and 'answer' must be strings")
    score = _number(obj["score"], "score")
    scale_raw = obj.get("scale", [1, 5])
    if not (isinstance(scale_raw, list) and len(scale_raw) == 2):
        raise ValueError("'scale' must be [min, max]")
    scale = (_number(scale_raw[0], "scale"), _number(scale_raw[1], "scale"))
    if not scale[0] < scale[1] or not scale[0] <= score <= scale[1]:
        raise ValueError(f"score {score} outside scale {list(scale)}")
    key = json.dumps([question, reference], sort_keys=True)
    card = cards.get(key)
    if card is None:
        card = Card(
            id=str(obj.get("card", f"row-{number}")),
            question=question,
            points=_points(reference),
            position=len(cards) + 1,
        )
        cards[key] = card
    covered = _ids(obj.get("covered"), "covered")
    partial = _ids(obj.get("partial"), "partial")
    return Row(
        id=str(obj.get("id", number)),
        card=card,
        answer=answer,
        score=score,
        scale=scale,
        covered=frozenset(covered) if covered is not None else None,
        partial=frozenset(partial or ()) if covered is not None else None,
        kind=str(obj["kind"]) if obj.get("kind") is not None else None,
    )


def _number(value: Any, name: str) -> float:
    """A finite number from JSON: not true/false, not a string, not 1e400."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name!r} must be a number, not {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"{name!r} must be a finite number")
    return number


def _ids(value: Any, name: str) -> list[str] | None:
    """A list of point ids (text, or numbers as text, like the points' own ids)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        isinstance(v, str | int) and not isinstance(v, bool) for v in value
    ):
        raise ValueError(f"{name!r} must be a list of point ids")
    return [str(v) for v in value]


def _points(reference: Any) -> tuple[Point, ...]:
    if isinstance(reference, str):
        texts = split_points(reference)
        if not texts:
            raise ValueError("empty reference")
        return tuple(Point(f"1.{i}", "", t) for i, t in enumerate(texts, start=1))
    if isinstance(reference, list) and reference:
        points = []
        for p in reference:
            if not isinstance(p, dict):
                raise ValueError("each point of 'reference' must be an object")
            pid, section, text = p["id"], p.get("section", ""), p["text"]
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"point {pid!r}: 'text' must be non-empty text")
            if not isinstance(pid, str | int) or isinstance(pid, bool):
                raise ValueError(f"point 'id' must be text, not {pid!r}")
            points.append(Point(str(pid), str(section), text))
        ids = [p.id for p in points]
        if len(set(ids)) < len(ids):
            raise ValueError(f"duplicate point ids in 'reference': {ids}")
        return tuple(points)
    raise ValueError("'reference' must be text or a non-empty list of points")


def predict(
    rows: Sequence[Row],
    grade_one: Callable[[Card, str], GradeResult],
    *,
    concurrency: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> list[GradeResult]:
    """Grade every row (in a thread pool when ``concurrency`` > 1), in input order."""
    results: list[GradeResult] = []
    if concurrency <= 1:
        for row in rows:
            results.append(grade_one(row.card, row.answer))
            if progress:
                progress(len(results), len(rows))
        return results
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for result in pool.map(lambda r: grade_one(r.card, r.answer), rows):
            results.append(result)
            if progress:
                progress(len(results), len(rows))
    return results


# --- metrics ---------------------------------------------------------------------------------


def round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (2.5 -> 3), unlike Python's round()."""
    return math.floor(x + 0.5)


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Pearson's r; 0.0 when either side is constant."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return 0.0
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the ranks (ties share their mean rank)."""
    return pearson(_ranks(xs), _ranks(ys))


def qwk(a: Sequence[int], b: Sequence[int], *, low: int = 1, high: int = 5) -> float:
    """Quadratic weighted kappa between two integer ratings on low..high."""
    k = high - low + 1
    n = len(a)
    if n == 0:
        return 0.0
    observed = [[0.0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        observed[x - low][y - low] += 1
    hist_a = [sum(row) for row in observed]
    hist_b = [sum(observed[i][j] for i in range(k)) for j in range(k)]
    num = den = 0.0
    for i in range(k):
        for j in range(k):
            w = (i - j) ** 2 / (k - 1) ** 2
            num += w * observed[i][j]
            den += w * hist_a[i] * hist_b[j] / n
    return 1.0 - num / den if den else 1.0


def missing_metrics(rows: Iterable[Row], results: Iterable[GradeResult]) -> dict[str, float] | None:
    """Precision/recall/F1 of the reported missing points vs. the points no human credited."""
    tp = reported = truth = 0
    any_gold = False
    for row, result in zip(rows, results, strict=True):
        if row.covered is None:
            continue
        any_gold = True
        credited = row.covered | (row.partial or frozenset())
        gold = {p.id for p in row.card.points} - credited
        said = {p.id for p in result.points if p.status == "missing"}
        tp += len(gold & said)
        reported += len(said)
        truth += len(gold)
    if not any_gold:
        return None
    precision = tp / reported if reported else 1.0
    recall = tp / truth if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"missing_precision": precision, "missing_recall": recall, "missing_f1": f1}


def by_kind(rows: Sequence[Row], results: Sequence[GradeResult]) -> dict[str, dict[str, float]]:
    """Per kind of answer: how many, and the mean signed difference (suggested minus the
    human score on 1-5), which shows what a change helps and what it hurts."""
    groups: dict[str, list[float]] = {}
    for row, result in zip(rows, results, strict=True):
        if row.kind is not None:
            groups.setdefault(row.kind, []).append(result.score - row.human_1to5)
    return {
        kind: {"n": len(d), "mean_diff": round(sum(d) / len(d), 4)}
        for kind, d in sorted(groups.items())
    }


def metrics(rows: Sequence[Row], results: Sequence[GradeResult]) -> dict[str, Any]:
    """The metrics of ``eval --json``: n, pearson, spearman, qwk, rmse, exact, within1, ..."""
    suggested = [r.score for r in results]
    human_raw = [row.score for row in rows]
    human = [row.human_1to5 for row in rows]
    human_int = [round_half_up(h) for h in human]
    n = len(rows)
    out: dict[str, float | int] = {
        "n": n,
        "pearson": pearson(suggested, human_raw),
        "spearman": spearman(suggested, human_raw),
        "qwk": qwk(suggested, human_int),
        "rmse": math.sqrt(sum((s - h) ** 2 for s, h in zip(suggested, human, strict=True)) / n),
        "exact": sum(s == h for s, h in zip(suggested, human_int, strict=True)) / n,
        "within1": sum(abs(s - h) <= 1 for s, h in zip(suggested, human_int, strict=True)) / n,
    }
    extra = missing_metrics(rows, results)
    if extra:
        out.update(extra)
    rounded: dict[str, Any] = {
        k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()
    }
    kinds = by_kind(rows, results)
    if kinds:
        rounded["by_kind"] = kinds
    return rounded


def prediction_line(row: Row, result: GradeResult) -> dict[str, Any]:
    """One line of ``eval --out``."""
    return {
        "id": row.id,
        "score": result.score,
        "coverage": round(result.coverage, 4),
        "method": result.method,
        "points": [{"id": p.id, "status": p.status} for p in result.points],
    }


def iter_prediction_lines(rows: Sequence[Row], results: Sequence[GradeResult]) -> Iterator[str]:
    """The ``eval --out`` JSONL lines, in input order."""
    for row, result in zip(rows, results, strict=True):
        yield json.dumps(prediction_line(row, result), ensure_ascii=False)
