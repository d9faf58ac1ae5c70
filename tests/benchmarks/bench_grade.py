"""Benchmark: grading one ~150-word answer against a seed card, by each matcher.

Run on demand (`make bench`), not by pytest. Reports medians of:

- semantic: grader.grade(card, answer) with the default matcher where its model is
            installed (points embedded once per card, then each grade embeds the answer's
            clauses), against the floor of embedding the answer as one text;
- fuzzy:    grader.grade(card, answer, matcher="fuzzy"), the full path (tokens, negation,
            matching, per-point statuses and evidence, score);
- floor:    rapidfuzz.process.cdist of the card's key terms against the answer's words, the
            bare fuzzy comparison that any keyword grader has to make;

and the ratios to the floors, measured in the same run. Also times `flashgrade eval <labelled
data>` with the default matcher as a whole command, start-up included, when a data file is
given (default: ../shared/data/mohler.jsonl when it exists).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process

from grader import grade, load_deck
from grader.embedding import EmbeddingUnavailable, default_embedder
from grader.guard import find_directives
from grader.semantic import clauses
from grader.terms import prepare
from grader.text import tokenize

ROOT = Path(__file__).resolve().parents[2]

# A realistic, fairly complete answer to the seed's card 2 (~150 words).
ANSWER = (
    "I'd host the model on a real-time SageMaker inference endpoint and put API Gateway in "
    "front of it to handle routing and throttling; an Application Load Balancer is optional "
    "if there are several endpoints. 100 requests per second is not much, but I'd load test "
    "to choose the instance type, CPU for small models and GPU only for large ones where the "
    "latency target needs it. Enable endpoint autoscaling with a target-tracking policy on "
    "invocations per instance or CPU utilisation, with a minimum of two instances across "
    "availability zones. Multi-model endpoints help when serving many small models. For "
    "monitoring, CloudWatch metrics for latency, request count and error rates with alarms, "
    "CloudWatch Logs for request and response logs, and Model Monitor for data drift and "
    "prediction quality over time. Cache repeated requests where possible, secure the "
    "endpoint with IAM roles, a VPC and API keys, and set timeouts and retries so that tail "
    "latency stays low under load."
)


def paired_medians(
    first: Callable[[], object], second: Callable[[], object], *, repeat: int, warm: int = 50
) -> tuple[float, float]:
    """Median wall time of one call of each, timed alternately so load affects both alike."""
    for _ in range(min(warm, repeat)):
        first()
        second()
    a, b = [], []
    clock = time.perf_counter
    for _ in range(repeat):
        start = clock()
        first()
        middle = clock()
        second()
        end = clock()
        a.append(middle - start)
        b.append(end - middle)
    return statistics.median(a), statistics.median(b)


def bench_semantic(repeat: int) -> dict[str, float] | None:
    card = load_deck(ROOT / "decks" / "mlops.md").card("2")
    try:
        model = default_embedder()
    except EmbeddingUnavailable as exc:
        print(f"semantic matcher: skipped ({exc})")
        return None
    grade(card, ANSWER, embedder=model)  # the card's points are embedded once, then cached
    graded, floor = paired_medians(
        lambda: grade(card, ANSWER, embedder=model),
        lambda: model.encode([ANSWER]),
        repeat=repeat,
        warm=3,
    )
    return {
        "clauses": len(clauses(ANSWER)[0]),
        "grade_ms": graded * 1e3,
        "floor_ms": floor * 1e3,
        "ratio": graded / floor,
    }


def bench_grade(repeat: int) -> dict[str, float]:
    card = load_deck(ROOT / "decks" / "mlops.md").card("2")
    prepared = prepare(card)
    terms = list(prepared.words)
    words = [t.word for t in tokenize(ANSWER)]
    graded, floor = paired_medians(
        lambda: grade(card, ANSWER, matcher="fuzzy"),
        lambda: process.cdist(terms, words, scorer=fuzz.ratio, score_cutoff=80),
        repeat=repeat,
    )
    # The part of it spent looking for text that addresses the grader (grader.guard).
    guarded, _ = paired_medians(
        lambda: find_directives(ANSWER), lambda: None, repeat=max(1, repeat // 4)
    )
    return {
        "words": len(ANSWER.split()),
        "terms": len(terms),
        "grade_ms": graded * 1e3,
        "floor_ms": floor * 1e3,
        "ratio": graded / floor,
        "guard_ms": guarded * 1e3,
    }


def bench_eval(path: Path) -> float:
    """Wall time of the whole `flashgrade eval` command, interpreter start-up included."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "web.cli", "eval", str(path), "--no-llm", "--json"],
        env={k: v for k, v in os.environ.items() if k != "FLASHGRADE_MATCHER"},
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000, help="fuzzy grades to time")
    parser.add_argument("--semantic-repeat", type=int, default=40)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/mohler.jsonl")
    parser.add_argument("--no-eval", action="store_true", help="skip timing `flashgrade eval`")
    parser.add_argument("--eval-runs", type=int, default=1)
    args = parser.parse_args()

    s = bench_semantic(args.semantic_repeat)
    if s is not None:
        print(
            f"default (semantic) grade of one answer ({len(ANSWER.split())} words, "
            f"{s['clauses']:.0f} clauses), median of {args.semantic_repeat}:"
        )
        print(f"  grade  {s['grade_ms']:7.1f} ms   (target <= 250 ms)")
        print(f"  floor  {s['floor_ms']:7.1f} ms   (the model embedding the answer as one text)")
        print(f"  ratio  {s['ratio']:7.2f} x")
    r = bench_grade(args.repeat)
    print(f"fuzzy grade of the same answer ({r['terms']:.0f} card terms), median of {args.repeat}:")
    print(f"  grade  {r['grade_ms']:7.3f} ms   (target about 1 ms)")
    print(f"  floor  {r['floor_ms']:7.3f} ms   (rapidfuzz.process.cdist terms x words)")
    print(f"  ratio  {r['ratio']:7.1f} x")
    print(f"  of which guard {r['guard_ms']:.3f} ms (text that addresses the grader)")
    if args.no_eval:
        return
    if args.data.exists():
        runs = [bench_eval(args.data) for _ in range(args.eval_runs)]
        print(
            f"flashgrade eval {args.data.name}: median {statistics.median(runs):.1f} s "
            f"of {len(runs)} runs, default matcher, start-up included (target < 10 min)"
        )
    else:
        print(f"(no {args.data}: eval timing skipped)")


if __name__ == "__main__":
    main()
