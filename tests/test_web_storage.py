"""Storage and scheduling: restarts, re-scoring, the daily new limit, concurrent writers."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import fsrs
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from web.app import create_app
from web.schedule import ReviewInput, Schedule, rating_for
from web.storage.database import SchemaError, Store
from web.storage.models import SCHEMA_VERSION, Attempt, CardState, Review

CARD1 = "built-churn-prediction-model-subscription-service"


def post_attempt(client, card="1", answer="Package the model with preprocessing."):
    response = client.post("/api/attempts", json={"deck": "mlops", "card": card, "answer": answer})
    assert response.status_code == 201, response.text
    return response.json()["attempt_id"]


def score(client, attempt_id, value):
    response = client.post(f"/api/attempts/{attempt_id}/score", json={"score": value})
    assert response.status_code == 200, response.text
    return response.json()


def state_of(app, card_id=CARD1):
    with app.state.store.read() as session:
        return session.get(CardState, (0, "mlops", card_id))


@pytest.mark.parametrize(
    ("score", "rating"),
    [
        (1, fsrs.Rating.Again),
        (2, fsrs.Rating.Again),
        (3, fsrs.Rating.Hard),
        (4, fsrs.Rating.Good),
        (5, fsrs.Rating.Easy),
    ],
)
def test_scores_map_to_fsrs_ratings(score, rating):
    assert rating_for(score) == rating


def test_rating_for_refuses_scores_outside_1_to_5():
    with pytest.raises(ValueError, match="1-5"):
        rating_for(6)


def test_replay_equals_reviewing_step_by_step():
    schedule = Schedule(fuzz=False)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    reviews = [
        ReviewInput(4, t0),
        ReviewInput(3, t0 + timedelta(days=2)),
        ReviewInput(5, t0 + timedelta(days=9)),
    ]
    card = None
    for review in reviews:
        card = schedule.review(card, review).card
    assert schedule.replay(reviews).card.to_dict() == card.to_dict()


def test_replaying_the_same_reviews_with_fuzz_gives_the_same_dates():
    schedule = Schedule(fuzz=True)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    reviews = [ReviewInput(5, t0), ReviewInput(5, t0 + timedelta(days=12))]
    dues = {schedule.replay(reviews).due_after for _ in range(20)}
    assert len(dues) == 1
    unfuzzed = Schedule(fuzz=False).replay(reviews).due_after
    assert abs(dues.pop()[-1] - unfuzzed[-1]) <= timedelta(days=10)  # fuzzed, within reason


def test_rescoring_with_the_same_score_keeps_the_due_date(web_settings):
    with TestClient(create_app(web_settings.model_copy(update={"fsrs_fuzz": True}))) as client:
        body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
        attempt_id = client.post("/api/attempts", json=body).json()["attempt_id"]
        dues = {
            client.post(f"/api/attempts/{attempt_id}/score", json={"score": 5}).json()["next_due"]
            for _ in range(4)
        }
    assert len(dues) == 1


def test_data_survives_an_app_restart(web_settings):
    with TestClient(create_app(web_settings)) as client:
        attempt_id = post_attempt(client)
        score(client, attempt_id, 4)
        due = client.get("/api/decks/mlops").json()["cards"][0]["due"]
    with TestClient(create_app(web_settings)) as client:
        [row] = client.get("/api/attempts").json()
        assert row["attempt_id"] == attempt_id and row["final"] == 4
        assert client.get("/api/decks/mlops").json()["cards"][0]["due"] == due
        page = client.get(f"/attempts/{attempt_id}")
        assert page.status_code == 200 and page.context["attempt"].points


def test_schema_version_is_recorded(web_app):
    assert web_app.state.store.schema_version() == SCHEMA_VERSION


def _tables(path) -> list[str]:  # type: ignore[no-untyped-def]
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))


def test_database_from_a_newer_version_is_refused_before_anything_changes(tmp_path):
    path = tmp_path / "db.sqlite3"
    url = f"sqlite:///{path}"
    store = Store(url)
    store.create_schema()
    with store.write() as session:
        session.execute(text("UPDATE meta SET value = '999' WHERE key = 'schema_version'"))
        session.execute(text("DROP TABLE llm_cache"))
    store.dispose()
    with pytest.raises(SchemaError, match="newer"):
        Store(url).create_schema()
    assert "llm_cache" not in _tables(path)


def test_another_application_s_database_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    before = path.read_bytes()
    with pytest.raises(SchemaError, match=r"not a flashgrade database.*users"):
        Store(f"sqlite:///{path}").create_schema()
    assert path.read_bytes() == before


def test_a_schema_version_that_is_not_a_number_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    store = Store(url)
    store.create_schema()
    with store.write() as session:
        session.execute(text("UPDATE meta SET value = 'abc' WHERE key = 'schema_version'"))
    store.dispose()
    with pytest.raises(SchemaError, match="'abc' is not a number"):
        Store(url).create_schema()


def test_a_database_that_cannot_be_reached_is_unavailable_not_a_fault():
    from web.storage.database import unavailable_reason

    refused = OperationalError(None, None, Exception("connection refused"))  # while connecting
    assert unavailable_reason(refused) == "it cannot be reached"
    fault = OperationalError("SELECT x FROM attempts", {}, Exception("no such column: x"))
    assert unavailable_reason(fault) is None


def test_a_database_that_cannot_be_written_is_refused_at_start(tmp_path):
    path = tmp_path / "db.sqlite3"
    store = Store(f"sqlite:///{path}")
    store.create_schema()
    store.dispose()
    read_only = Store(f"sqlite:///file:{path}?mode=ro&uri=true")
    with pytest.raises(OperationalError, match="readonly"):
        read_only.create_schema()


@pytest.mark.sqlite
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(web_app):
    with web_app.state.store.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000


def test_rescoring_does_not_advance_the_schedule_twice(web_client, web_app):
    attempt_id = post_attempt(web_client)
    score(web_client, attempt_id, 4)
    once = state_of(web_app)
    score(web_client, attempt_id, 4)
    again = state_of(web_app)
    assert again.reps == once.reps == 1
    assert again.fsrs_card == once.fsrs_card and again.due == once.due
    with web_app.state.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Review)) == 1


def test_rescoring_recomputes_the_schedule_from_history(web_client, web_app):
    first = post_attempt(web_client)
    score(web_client, first, 4)
    second = post_attempt(web_client)
    score(web_client, second, 5)
    score(web_client, first, 1)  # change the older review
    with web_app.state.store.read() as session:
        reviews = session.scalars(select(Review).order_by(Review.reviewed_at)).all()
    expected = web_app.state.practice.schedule.replay(
        ReviewInput(r.score, r.reviewed_at, r.duration_ms) for r in reviews
    )
    assert [r.score for r in reviews] == [1, 5]
    state = state_of(web_app)
    assert state.fsrs_card == expected.to_dict() and state.reps == 2 and state.last_score == 5


def test_lower_override_brings_the_card_back_sooner(web_client, web_app):
    attempt_id = post_attempt(web_client)
    easy = score(web_client, attempt_id, 5)["next_due"]
    again = score(web_client, attempt_id, 1)["next_due"]
    assert again < easy


def test_raw_score_and_duration_are_kept_beside_the_fsrs_log(web_client, web_app):
    response = web_client.post(
        "/api/attempts", json={"deck": "mlops", "card": "1", "answer": "x", "seconds": 7.5}
    )
    score(web_client, response.json()["attempt_id"], 2)
    with web_app.state.store.read() as session:
        review = session.scalars(select(Review)).one()
    assert (review.score, review.rating, review.duration_ms) == (2, int(fsrs.Rating.Again), 7500)


def test_daily_new_card_limit(web_settings):
    web_settings.new_cards_per_day = 2
    with TestClient(create_app(web_settings)) as client:
        for card in ("1", "2"):
            assert client.get("/api/decks/mlops/next").json()["position"] == int(card)
            score(client, post_attempt(client, card), 5)
        assert client.get("/api/decks/mlops/next").status_code == 204
        assert client.get("/api/decks").json()[0]["new"] == 0
        # practising ahead is still possible
        assert (
            client.post(
                "/api/attempts", json={"deck": "mlops", "card": "3", "answer": "x"}
            ).status_code
            == 201
        )


def test_due_cards_come_before_new_ones(web_client, web_app):
    score(web_client, post_attempt(web_client, "1"), 4)
    practice = web_app.state.practice
    practice.clock = lambda: datetime.now(UTC) + timedelta(days=400)
    nxt = web_client.get("/api/decks/mlops/next").json()
    assert nxt["id"] == CARD1
    assert web_client.get("/api/decks").json()[0]["due"] == 1


def test_concurrent_attempts_are_all_stored(web_app):
    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:

            async def one(i: int) -> int:
                body = {
                    "deck": "mlops",
                    "card": str(i % 7 + 1),
                    "answer": f"answer {i} model drift",
                }
                return (await client.post("/api/attempts", json=body)).status_code

            return await asyncio.gather(*(one(i) for i in range(60)))

    statuses = asyncio.run(run())
    assert statuses == [201] * 60
    with web_app.state.store.read() as session:
        assert session.scalar(select(func.count()).select_from(Attempt)) == 60


def test_concurrent_scoring_of_one_card_keeps_a_consistent_history(web_client, web_app):
    ids = [post_attempt(web_client) for _ in range(8)]

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=web_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            calls = [
                client.post(f"/api/attempts/{i}/score", json={"score": 3 + i % 3}) for i in ids
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    assert asyncio.run(run()) == [200] * 8
    assert state_of(web_app).reps == 8


def test_llm_cache_round_trips_through_the_database(web_app):
    from web.storage.database import LLMCache

    cache = LLMCache(web_app.state.store)
    assert cache.get("k") is None
    cache.set("k", '{"points": []}')
    assert LLMCache(web_app.state.store).get("k") == '{"points": []}'


def test_grading_in_a_worker_process_gives_the_in_process_grade(web_settings):
    web_settings.grade_workers = 1
    body = {"deck": "mlops", "card": "1", "answer": "Package the model with preprocessing."}
    with TestClient(create_app(web_settings)) as client:
        pooled = client.post("/api/grade", json=body).json()
    web_settings.grade_workers = 0
    with TestClient(create_app(web_settings)) as client:
        inline = client.post("/api/grade", json=body).json()
    assert pooled == inline


def test_attempt_written_by_the_batch_writer_reads_back_typed(web_client, web_app):
    body = {"deck": "mlops", "card": "1", "answer": "", "seconds": 3}  # empty: a warning
    attempt_id = web_client.post("/api/attempts", json=body).json()["attempt_id"]
    attempt = web_app.state.practice.attempt(attempt_id)
    assert attempt.created_at.tzinfo is not None
    assert abs(attempt.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert isinstance(attempt.warnings, list) and attempt.warnings
    assert attempt.seconds == 3 and attempt.final is None and attempt.llm_usage is None
    assert [p.position for p in attempt.point_results] == list(range(len(attempt.points)))


def test_dead_grading_workers_are_replaced_then_given_up_on(web_settings, monkeypatch):
    import web.offline_grading

    web_settings.grade_workers = 1
    body = {"deck": "mlops", "card": "1", "answer": "Package the model with preprocessing."}
    with TestClient(create_app(web_settings)) as client:
        fuzzy = client.app.state.practice.offline
        spawned = []
        real_spawn = fuzzy._spawn

        async def spawn_and_count():
            worker = await real_spawn()
            spawned.append(worker)
            return worker

        monkeypatch.setattr(fuzzy, "_spawn", spawn_and_count)
        for _ in range(web.offline_grading.MAX_DEATHS + 2):
            for worker in fuzzy._pool:
                worker.process.kill()
            response = client.post("/api/grade", json=body)
            assert response.status_code == 200  # graded in-process meanwhile
        assert len(spawned) == web.offline_grading.MAX_DEATHS - 1  # then no more restarts
        assert fuzzy._pool == []
