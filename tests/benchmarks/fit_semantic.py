"""Fit the semantic matcher's constants on deck-like labelled data, and show the fit.

    .venv/bin/python tests/benchmarks/fit_semantic.py ../shared/data/seed-gold-dev.jsonl \\
        ../shared/data/probe-dev.jsonl

Per point: two L2-regularised logistic models (credited at all; fully covered) over the
features of ``grader.semantic.features``, fitted on the human point labels (``covered`` and
``partial``). Per answer: the 1-5 cut points that maximise QWK over all rows. Also fitted on
one half of the decks and scored on the other, to show how far the fit carries to decks it
did not see. Prints the constants to paste into grader/semantic.py and grader/scoring.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import itertools

from grader import coverage, semantic
from grader.embedding import default_embedder
from grader.evaluate import qwk, read_rows, round_half_up
from grader.guard import blank, find_directives
from grader.scoring import Thresholds, coverage_of


def logistic_fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0) -> np.ndarray:
    """Weights (bias last) of an L2-regularised logistic regression, by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.eye(len(w)) * l2
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(50):
        p = 1 / (1 + np.exp(-xb @ w))
        gradient = xb.T @ (p - y) + penalty @ w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def collect(paths: list[str]) -> list[dict[str, object]]:
    """Each labelled row's fuzzy points and per-point features."""
    embedder = default_embedder()
    rows = []
    for path in paths:
        kinds = {}
        decks = {}
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                kinds[str(obj["id"])] = obj.get("kind", "-")
                decks[str(obj["id"])] = obj.get("deck", "mlops")
        for row in read_rows(path):
            answer = blank(row.answer, find_directives(row.answer))
            found = coverage.assess(row.card, answer, always_tell_language=True)
            similarity, spans = semantic.similarities(row.card, answer, embedder)
            language = found.language
            labels = [
                1.0 if p.id in (row.covered or ()) else 0.5 if p.id in (row.partial or ()) else 0.0
                for p in row.card.points
            ]
            rows.append(
                {
                    "row": row,
                    "kind": kinds[row.id],
                    "deck": decks[row.id],
                    "file": Path(path).name,
                    "found": found,
                    "similarity": similarity,
                    "spans": spans,
                    "other": language is not None,
                    "y": np.array(labels),
                }
            )
    return rows


def featurise(rows: list[dict[str, object]]) -> None:
    """Each row's feature matrix, from its cached similarities and fuzzy points."""
    for r in rows:
        match = semantic.read(r["similarity"], r["spans"])  # type: ignore[arg-type]
        r["x"] = np.array(
            [
                semantic.features(p.credit, m, s, lead, bool(r["other"]))
                for p, m, s, lead in zip(
                    r["found"].points,
                    match.margin,
                    match.spread,
                    match.lead,
                    strict=True,  # type: ignore[attr-defined]
                )
            ]
        )


def credits(rows: list[dict[str, object]], a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    out = []
    for r in rows:
        xb = np.hstack([r["x"], np.ones((len(r["x"]), 1))])  # type: ignore[call-overload]
        c = 0.5 / (1 + np.exp(-xb @ a)) + 0.5 / (1 + np.exp(-xb @ b))
        c = np.where(c < semantic.PARTIAL_AT, 0.0, c)  # as grader.semantic.assess does
        if len(c) < semantic.MIN_POINTS:
            c = np.array([p.credit for p in r["found"].points])  # type: ignore[attr-defined]
        out.append(c)
    return out


def coverages(rows: list[dict[str, object]], cs: list[np.ndarray]) -> np.ndarray:
    values = []
    for r, c in zip(rows, cs, strict=True):
        found = r["found"]
        points = [
            p if p.contradicted else replace(p, credit=float(ci))
            for p, ci in zip(found.points, c, strict=True)  # type: ignore[attr-defined]
        ]
        values.append(coverage_of(points, breadth=found.breadth, similarity=found.similarity))  # type: ignore[attr-defined]
    return np.array(values)


MIN_GAP = 0.10  # every score keeps a band of coverage this wide: no cut fitted to a few rows


def fit_cuts(cov: np.ndarray, human: list[int]) -> list[float]:
    """Cut points for 2, 3, 4 and 5 maximising QWK, by coordinate ascent on a grid."""
    cuts = [0.15, 0.35, 0.5, 0.65]
    best = -1.0
    grid = np.round(np.arange(0.02, 0.98, 0.01), 2)
    for _ in range(3):
        for i in range(4):
            for v in grid:
                trial = list(cuts)
                trial[i] = float(v)
                if any(b - a < MIN_GAP for a, b in itertools.pairwise(trial)):
                    continue  # every score stays reachable
                scores = 1 + (cov[:, None] >= np.array(trial)).sum(axis=1)
                q = qwk(list(scores), human)
                if q > best + 1e-9:
                    best, cuts = q, trial
    return cuts


def fit(rows: list[dict[str, object]]) -> tuple[np.ndarray, np.ndarray, list[float]]:
    x = np.vstack([r["x"] for r in rows])  # type: ignore[misc]
    y = np.concatenate([r["y"] for r in rows])  # type: ignore[misc]
    a = logistic_fit(x, (y > 0).astype(float))
    b = logistic_fit(x, (y >= 1).astype(float))
    cuts = fit_cuts(coverages(rows, credits(rows, a, b)), human(rows))
    return a, b, cuts


def human(rows: list[dict[str, object]]) -> list[int]:
    return [round_half_up(r["row"].human_1to5) for r in rows]  # type: ignore[attr-defined]


def report(
    name: str, rows: list[dict[str, object]], a: np.ndarray, b: np.ndarray, cuts: list[float]
) -> None:
    cov = coverages(rows, credits(rows, a, b))
    scores = 1 + (cov[:, None] >= np.array(cuts)).sum(axis=1)
    truth = np.array([r["row"].human_1to5 for r in rows])  # type: ignore[attr-defined]
    kinds = np.array([r["kind"] for r in rows])
    by_kind = {
        str(k): round(float((scores[kinds == k] - truth[kinds == k]).mean()), 2)
        for k in sorted(set(kinds))
    }
    print(f"{name}: n={len(rows)} qwk={qwk(list(scores), human(rows)):.3f} by kind {by_kind}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    rows = collect(args.files)
    featurise(rows)
    decks = sorted({str(r["deck"]) for r in rows})
    for held_out in decks if len(decks) > 1 else []:
        train = [r for r in rows if r["deck"] != held_out]
        test = [r for r in rows if r["deck"] == held_out]
        report(f"fitted without deck {held_out!r}, on it", test, *fit(train))
    a, b, cuts = fit(rows)
    for name in dict.fromkeys(str(r["file"]) for r in rows):
        report(name, [r for r in rows if r["file"] == name], a, b, cuts)
    fuzzy = np.array(
        [
            coverage_of(
                r["found"].points, breadth=r["found"].breadth, similarity=r["found"].similarity
            )  # type: ignore[attr-defined]
            for r in rows
        ]
    )
    fuzzy_cuts = fit_cuts(fuzzy, human(rows))
    for name in dict.fromkeys(str(r["file"]) for r in rows):
        part = [i for i, r in enumerate(rows) if r["file"] == name]
        scores = 1 + (fuzzy[part, None] >= np.array(fuzzy_cuts)).sum(axis=1)
        print(f"fuzzy, {name}: qwk={qwk(list(scores), human([rows[i] for i in part])):.3f}")
    print("fuzzy thresholds:", Thresholds(*fuzzy_cuts))
    print("CREDITED =", tuple(round(float(v), 4) for v in a))
    print("COVERED =", tuple(round(float(v), 4) for v in b))
    print("semantic thresholds:", Thresholds(*cuts))


if __name__ == "__main__":
    main()
