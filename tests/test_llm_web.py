"""The web app with the LLM rubric configured, against the fake OpenAI server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, keyword_grader, running, status

KEY = "sk-web-SECRET-7777"
ANSWER = "Deploy to a small subset of users first, a canary, and monitor errors and latency."


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running() as server:
        yield server


def _settings(fake: FakeOpenAI, tmp_path: Path, decks_dir: Path):  # type: ignore[no-untyped-def]
    from web.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        decks_dir=decks_dir,
        fsrs_fuzz=False,
        secret_key="test-secret-key-that-is-long-enough-0123456789",
        llm_model="fake-web-model",
        openai_base_url=fake.url,
        openai_api_key=KEY,
        llm_timeout=2.0,
        grade_workers=0,  # fuzzy grading in-process: no worker to start
    )


@pytest.fixture
def client(fake: FakeOpenAI, tmp_path: Path, decks_dir: Path):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from web.app import create_app

    with TestClient(create_app(_settings(fake, tmp_path, decks_dir))) as test_client:
        yield test_client


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.M)
    assert match, name
    return float(match.group(1))


def test_attempt_graded_by_the_llm_records_usage_in_metrics_and_shows_the_method(
    client,
    fake: FakeOpenAI,  # type: ignore[no-untyped-def]
) -> None:
    fake.script(keyword_grader())
    response = client.post("/api/attempts", json={"deck": "mlops", "card": 6, "answer": ANSWER})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["method"] == "llm" and fake.count == 1
    assert fake.calls[0].body["model"] == "fake-web-model"

    page = client.get(f"/attempts/{body['attempt_id']}").text
    assert "graded by the LLM rubric" in page

    metrics = client.get("/metrics").text
    assert metric(metrics, 'flashgrade_llm_tokens_total{kind="prompt"}') == 120
    assert metric(metrics, 'flashgrade_llm_tokens_total{kind="completion"}') == 40
    assert metric(metrics, "flashgrade_llm_latency_seconds_count") == 1
    assert metric(metrics, 'flashgrade_grades_total{method="llm"}') == 1

    # the same answer again: answered from the database cache, not sent
    again = client.post("/api/attempts", json={"deck": "mlops", "card": 6, "answer": ANSWER})
    assert again.json()["method"] == "llm" and fake.count == 1
    assert metric(client.get("/metrics").text, "flashgrade_llm_cache_hits_total") == 1


def test_an_answer_typed_on_the_practice_page_is_graded_by_the_llm(
    client,
    fake: FakeOpenAI,
    form_token,  # type: ignore[no-untyped-def]
) -> None:
    fake.script(keyword_grader())
    page = client.get("/decks/mlops/cards/6")
    submitted = client.post(
        "/decks/mlops/cards/6/attempts",
        data={"answer": ANSWER, "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert submitted.status_code == 303, submitted.text
    assert "graded by the LLM rubric" in client.get(submitted.headers["location"]).text
    assert fake.count == 1


@pytest.fixture
def closed(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The LLM clients closed during the test, in order."""
    import grader.llm

    clients: list[object] = []
    close = grader.llm.AsyncLLMClient.aclose

    async def recording_close(self: grader.llm.AsyncLLMClient) -> None:
        clients.append(self)
        await close(self)

    monkeypatch.setattr(grader.llm.AsyncLLMClient, "aclose", recording_close)
    return clients


def test_the_llm_client_is_closed_when_the_app_stops_and_made_anew_on_restart(
    fake: FakeOpenAI, tmp_path: Path, decks_dir: Path, closed: list[object]
) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    fake.script(keyword_grader())
    app = create_app(_settings(fake, tmp_path, decks_dir))
    practice = app.state.practice
    clients = []
    for _ in range(2):
        with TestClient(app) as test_client:
            clients.append(practice.llm)
            graded = test_client.post(
                "/api/grade", json={"deck": "mlops", "card": 6, "answer": ANSWER}
            )
            assert graded.json()["method"] == "llm"
        assert practice.llm is None
    assert closed == clients and clients[0] is not clients[1]


def test_a_start_up_that_fails_after_the_llm_client_is_made_still_closes_it(
    fake: FakeOpenAI,
    tmp_path: Path,
    decks_dir: Path,
    closed: list[object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(_settings(fake, tmp_path, decks_dir))

    def failing() -> None:
        raise OSError("the decks folder went away")

    monkeypatch.setattr("web.app.gc.freeze", failing)  # the step after the client is made
    with pytest.raises(OSError, match="went away"), TestClient(app):
        pass
    assert len(closed) == 1 and app.state.practice.llm is None


def test_llm_failure_falls_back_and_the_page_says_why_without_the_key(
    client,
    fake: FakeOpenAI,  # type: ignore[no-untyped-def]
) -> None:
    fake.script(status(401, f"bad key {KEY}"))  # not retried: the fallback comes at once
    response = client.post("/api/attempts", json={"deck": "mlops", "card": 6, "answer": ANSWER})
    body = response.json()
    assert response.status_code == 201 and body["method"] == "fuzzy"
    assert any("LLM rubric was not used" in w and "HTTP 401" in w for w in body["warnings"])
    page = client.get(f"/attempts/{body['attempt_id']}").text
    assert "graded by fuzzy keyword matching" in page
    assert "LLM rubric was not used" in page
    assert KEY not in page and KEY not in response.text
    assert metric(client.get("/metrics").text, "flashgrade_llm_fallbacks_total") == 1


def test_the_llm_cache_is_shared_through_the_database(tmp_path: Path) -> None:
    """Another server process (another store on the same file) reads what this one cached."""
    from web.storage.database import LLMCache, Store

    url = f"sqlite:///{tmp_path / 'cache.db'}"
    store, other = Store(url), Store(url)
    store.create_schema()
    cache = LLMCache(store)
    for key in ("a", "b", "c"):
        cache.set(key, key.upper())
    assert [LLMCache(other).get(k) for k in ("a", "b", "c", "d")] == ["A", "B", "C", None]
    cache.set("a", "A2")
    assert LLMCache(other).get("a") == "A2"
    store.dispose()
    other.dispose()


def test_after_repeated_failures_the_web_app_skips_the_llm_and_grades_at_once(
    fake: FakeOpenAI, tmp_path: Path, decks_dir: Path
) -> None:
    from fastapi.testclient import TestClient

    from web.app import create_app

    settings = _settings(fake, tmp_path, decks_dir)
    settings.llm_timeout = 0.3
    settings.llm_skip_after_failures = 2  # FLASHGRADE_LLM_SKIP_AFTER_FAILURES
    settings.llm_skip_seconds = 120  # FLASHGRADE_LLM_SKIP_SECONDS
    fake.script(status(503, "overloaded"))
    body = {"deck": "mlops", "card": 6, "answer": ANSWER}
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            assert client.post("/api/grade", json=body).json()["method"] == "fuzzy"
        sent = fake.count
        started = time.monotonic()
        skipped = client.post("/api/grade", json=body).json()
        assert time.monotonic() - started < 0.3 and fake.count == sent
    assert skipped["method"] == "fuzzy"
    assert any(
        "the LLM is skipped for now, after 2 failed requests in a row" in w
        and "tried again in 120 s" in w
        for w in skipped["warnings"]
    ), skipped["warnings"]
