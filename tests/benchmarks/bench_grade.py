"""Benchmark: grading one ~150-word answer against a seed card, against a cdist floor.

Run on demand (`make bench`), not by pytest. Reports medians over many repetitions of:

- grade:  grader.grade(card, answer), fuzzy, the full path (tokens, negation, matching,
          per-point statuses and evidence, score);
- floor:  rapidfuzz.process.cdist of the card's key terms against the answer's words, the
          bare fuzzy comparison that any keyword grader has to make;

and the ratio grade / floor, measured in the same run. Also times
`flashgrade eval <labelled data>` as a whole command, start-up included, when a data file
is given (default: ../shared/data/mohler.jsonl when it exists).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rapidfuzz import fuzz, process

from grader import grade, load_deck
from grader.guard import find_directives
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
    first: Callable[[], object], second: Callable[[], object], *, repeat: int
) -> tuple[float, float]:
    """Median wall time of one call of each, timed alternately so load affects both alike."""
    for _ in range(min(50, repeat)):
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


def bench_grade(repeat: int) -> dict[str, float]:
    card = load_deck(ROOT / "decks" / "mlops.md").card("2")
    prepared = prepare(card)
    terms = list(prepared.words)
    words = [t.word for t in tokenize(ANSWER)]
    graded, floor = paired_medians(
        lambda: grade(card, ANSWER),
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
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/mohler.jsonl")
    parser.add_argument("--no-eval", action="store_true", help="skip timing `flashgrade eval`")
    args = parser.parse_args()

    r = bench_grade(args.repeat)
    print(
        f"grade one answer ({r['words']:.0f} words, {r['terms']:.0f} card terms), "
        f"median of {args.repeat}:"
    )
    print(f"  grade  {r['grade_ms']:7.3f} ms   (target <= 1 ms)")
    print(f"  floor  {r['floor_ms']:7.3f} ms   (rapidfuzz.process.cdist terms x words)")
    print(f"  ratio  {r['ratio']:7.1f} x    (target <= 5x)")
    print(f"  of which guard {r['guard_ms']:.3f} ms (text that addresses the grader)")
    if args.no_eval:
        return
    if args.data.exists():
        runs = [bench_eval(args.data) for _ in range(3)]
        print(
            f"flashgrade eval {args.data.name}: median {statistics.median(runs):.2f} s "
            f"of 3 runs, start-up included (target < 5 s)"
        )
    else:
        print(f"(no {args.data}: eval timing skipped)")


if __name__ == "__main__":
    main()
