"""The web app with the LLM rubric configured, against the fake OpenAI server."""

from __future__ import annotations

import re
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


@pytest.fixture
def client(fake: FakeOpenAI, tmp_path: Path, decks_dir: Path):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from web.app import create_app
    from web.settings import Settings

    settings = Settings(
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
    with TestClient(create_app(settings)) as test_client:
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


def test_the_database_cache_keeps_replies_with_a_memory_lru_in_front(tmp_path: Path) -> None:
    from web.store import LLMCache, Store

    store = Store(f"sqlite:///{tmp_path / 'cache.db'}")
    store.create_schema()
    cache = LLMCache(store, memory_items=2)
    for key in ("a", "b", "c"):
        cache.set(key, key.upper())
    assert [cache.get(k) for k in ("a", "b", "c", "d")] == ["A", "B", "C", None]
    assert LLMCache(store).get("a") == "A"  # from the table, not the memory
    store.dispose()
