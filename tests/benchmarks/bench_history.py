"""History benchmark: do scoring and stats stay flat as the history grows? Run on demand.

    .venv/bin/python tests/benchmarks/bench_history.py [--sizes 1000,10000] [--cards 500]

Builds a deck of --cards cards and a SQLite database (or --db URL, an empty PostgreSQL
database), then for each size seeds that many attempts of history (80% scored, each with
its review, spread over the last 90 days; card states and calibration counts to match) and
measures, in-process through the app (Starlette's TestClient), the medians of: GET /healthz
(the floor of this run), scoring an attempt (POST /api/attempts/{id}/score), /stats and the
deck's stats page. It prints each median and its ratio to the first size's.

Targets: from 1k to 10k attempts, scoring <= 2x and /stats <= 2.5x; at 100k (--sizes
1000,10000,100000) /stats and the deck's stats under 300 ms and a score under 30 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def write_deck(path: Path, cards: int) -> None:
    body = "\n".join(
        f"## card-{i}\n\nHow would you handle case {i}?\n\n"
        f"- Monitor drift on feature {i}\n- Retrain with fresh data {i}\n- Roll out with a canary\n"
        for i in range(1, cards + 1)
    )
    path.write_text(f"# Bench\n\n{body}", encoding="utf-8")


def seed(store, cards: int, start: int, count: int, rng: random.Random) -> None:  # type: ignore[no-untyped-def]
    """Add ``count`` attempts (ids from ``start``) with reviews, states and counts to match."""
    import fsrs
    from sqlalchemy import insert, text

    from web.storage.models import Attempt, CardState, Review

    now = datetime.now(UTC)
    attempts, reviews = [], []
    last: dict[str, tuple[datetime, int, datetime]] = {}
    for i in range(start, start + count):
        card = f"card-{rng.randint(1, cards)}"
        at = now - timedelta(days=90) + timedelta(seconds=(i * 7919) % (90 * 86400))
        score = rng.randint(1, 5)
        final = rng.randint(1, 5) if rng.random() < 0.8 else None
        points = [{"id": "1.1", "section": "", "text": "Monitor drift", "status": "missing",
                   "evidence": None, "span": None}]  # fmt: skip
        attempts.append(dict(id=i, deck_id="bench", card_id=card, question="Q?", answer=f"a {i}",
                             grader_score=score, suggested=score, coverage=0.5, method="fuzzy",
                             grader_version="bench", warnings=[], llm_usage=None, final=final,
                             seconds=20.0, created_at=at, scored_at=at if final else None,
                             points=points))  # fmt: skip
        if final is not None:
            due_after = at + timedelta(days=rng.randint(1, 30))
            reviews.append(dict(attempt_id=i, deck_id="bench", card_id=card, score=final,
                                rating=max(1, final - 1), reviewed_at=at, duration_ms=20000,
                                due_after=due_after))  # fmt: skip
            if card not in last or last[card][0] < at:
                last[card] = (at, final, due_after)
    with store.write() as session:
        for chunk in range(0, len(attempts), 5000):
            session.execute(insert(Attempt), attempts[chunk : chunk + 5000])
        for chunk in range(0, len(reviews), 5000):
            session.execute(insert(Review), reviews[chunk : chunk + 5000])
        for card, (at, final, due_after) in last.items():
            state = fsrs.Card().to_dict()
            session.merge(CardState(person_id=0, deck_id="bench", card_id=card, fsrs_card=state,
                                    due=due_after, reps=1, last_score=final, introduced_at=at,
                                    last_reviewed_at=at))  # fmt: skip
        session.flush()
        _fill_mastered_until(session)
        for table in ("calibration_counts", "agreement_totals"):
            session.execute(text(f"DELETE FROM {table}"))
        session.execute(
            text(
                "INSERT INTO agreement_totals (person_id, deck_id, card_id, method, n, exact,"
                " signed_sum, abs_sum, grader_exact, grader_signed_sum)"
                " SELECT 0, deck_id, card_id, method,"
                " COUNT(*), SUM(CASE WHEN final = suggested THEN 1 ELSE 0 END),"
                " SUM(final - suggested), SUM(ABS(final - suggested)),"
                " SUM(CASE WHEN final = grader_score THEN 1 ELSE 0 END), SUM(final - grader_score)"
                " FROM attempts WHERE final IS NOT NULL GROUP BY deck_id, card_id, method"
            )
        )
        session.execute(
            text(
                "INSERT INTO calibration_counts"
                " (person_id, deck_id, method, grader_score, final, n)"
                " SELECT 0, deck_id, method, grader_score, final, COUNT(*) FROM attempts "
                "WHERE final IS NOT NULL GROUP BY deck_id, method, grader_score, final"
            )
        )


def _fill_mastered_until(session) -> None:  # type: ignore[no-untyped-def]
    """What the app keeps up to date as reviews come in (and migration 0002 fills once)."""
    from sqlalchemy import select, update

    from web.storage.models import CardState, Review
    from web.storage.reviews import MASTERED

    rows = session.execute(
        select(Review.id, Review.deck_id, Review.card_id, Review.reviewed_at, Review.score,
               Review.due_after).order_by(Review.deck_id, Review.card_id, Review.reviewed_at)
    ).all()  # fmt: skip
    updates = []
    recent: dict[str, list[int]] = {}
    for i, (review_id, deck_id, card_id, _at, score, due_after) in enumerate(rows):
        recent.setdefault(card_id, []).append(score)
        following = rows[i + 1] if i + 1 < len(rows) else None
        until = due_after if score >= MASTERED else None
        if until is not None and following is not None and following[1:3] == (deck_id, card_id):
            until = min(until, following[3])
        updates.append({"id": review_id, "mastered_until": until})
    session.execute(update(Review), updates)
    session.execute(
        update(CardState),
        [
            {"person_id": 0, "deck_id": "bench", "card_id": c, "recent_scores": r[-3:]}
            for c, r in recent.items()
        ],
    )


def median_ms(action: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def measure(client, runs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    ids = []
    for i in range(runs):
        response = client.post(
            "/api/attempts",
            json={"deck": "bench", "card": f"card-{i + 1}", "answer": "monitor drift, retrain"},
        )
        ids.append(response.json()["attempt_id"])
    pending = iter(ids)

    def score() -> None:
        response = client.post(f"/api/attempts/{next(pending)}/score", json={"score": 3})
        assert response.status_code == 200, response.text

    def get(url: str) -> Callable[[], None]:
        def action() -> None:
            assert client.get(url).status_code == 200

        return action

    client.get("/stats")  # the first request of a size pays for caches and query plans
    return {
        "healthz": median_ms(get("/healthz"), runs * 3),
        "score": median_ms(score, runs),
        "stats": median_ms(get("/stats"), max(5, runs // 3)),
        "deck stats": median_ms(get("/decks/bench/stats"), max(5, runs // 3)),
        "deck page": median_ms(get("/decks/bench"), max(5, runs // 3)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--cards", type=int, default=500)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--db", help="an empty database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.settings import Settings

    rng = random.Random(13)
    results: list[tuple[int, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="flashgrade-history-") as tmp:
        decks = Path(tmp) / "decks"
        decks.mkdir()
        write_deck(decks / "bench.md", args.cards)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=Path(tmp) / "data",
            database_url=args.db or "",
            decks_dir=decks,
            grade_workers=0,
            allowed_hosts="testserver",  # Starlette TestClient's Host
            secret_key="bench-secret-key-long-enough-0123456789",
        )
        app = create_app(settings)
        seeded = 0
        with TestClient(app) as client:
            for size in sizes:
                seed(app.state.store, args.cards, 1_000_000 + seeded, size - seeded, rng)
                seeded = size
                results.append((size, measure(client, args.runs)))
                seeded += args.runs  # the measured attempts are history too
    first = results[0][1]
    print(f"\nmedians in ms ({args.cards}-card deck; ratio to {sizes[0]:,} attempts)\n")
    names = list(first)
    print(f"{'attempts':>10}" + "".join(f" {n:>18}" for n in names))
    for size, figures in results:
        cells = "".join(f" {figures[n]:>9.1f} ({figures[n] / first[n]:>4.2f}x)" for n in names)
        print(f"{size:>10,}{cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
