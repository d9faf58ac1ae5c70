"""The web app grading by meaning: the API, the feedback page, and a matcher that cannot load."""

from __future__ import annotations

import logging

import pytest

from web.cli import main

GERMAN = (
    "Zuerst würde ich die Auslastung pro Knoten über die Zeit analysieren und schauen, ob die "
    "ungenutzten Knoten zu bestimmten Workloads oder Regionen gehören. Dann Workloads auf "
    "weniger Knoten konsolidieren und die freien Knoten abbauen."
)


@pytest.fixture
def semantic_client(web_settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from web.app import create_app

    web_settings.matcher = "semantic"
    with TestClient(create_app(web_settings)) as client:
        yield client


def test_the_app_loads_the_language_identifier_in_the_background(web_settings, monkeypatch):  # type: ignore[no-untyped-def]
    import time

    from fastapi.testclient import TestClient

    from grader import language
    from web.app import create_app

    monkeypatch.setattr(language, "_identifier", None)  # as in a new process
    web_settings.matcher = "semantic"
    with TestClient(create_app(web_settings)):
        deadline = time.monotonic() + 30
        while language._identifier is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert language._identifier is not None  # before any answer asked for it


def test_the_api_grades_by_meaning_and_names_another_language(semantic_client) -> None:  # type: ignore[no-untyped-def]
    body = semantic_client.post(
        "/api/grade", json={"deck": "mlops", "card": "5", "answer": GERMAN}
    ).json()
    assert body["method"] == "semantic"
    assert any("German" in w for w in body["warnings"])
    assert any(p["status"] != "missing" for p in body["points"])


def test_the_feedback_page_says_a_grade_was_by_meaning_and_which_point_is_argued_against(
    semantic_client,
) -> None:  # type: ignore[no-untyped-def]
    answer = "Canary releases are too risky here. Use feature flags and a rollback plan."
    created = semantic_client.post(
        "/api/attempts", json={"deck": "mlops", "card": "6", "answer": answer}
    ).json()
    page = semantic_client.get(f"/attempts/{created['attempt_id']}")
    assert page.status_code == 200
    assert "graded by meaning and keywords" in page.text
    assert '<span class="status">argues against</span>' in page.text


def test_auto_without_its_model_serves_fuzzy_grades_and_says_so_once(
    web_settings, tmp_path, caplog
) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from web.app import create_app

    web_settings.matcher = "auto"
    web_settings.embedding_model = str(tmp_path / "missing.bin")
    with caplog.at_level(logging.WARNING), TestClient(create_app(web_settings)) as client:
        body = client.post("/api/grade", json={"deck": "mlops", "card": "1", "answer": "retrain"})
    assert body.json()["method"] == "fuzzy"
    assert len([r for r in caplog.records if "grading with the fuzzy matcher" in r.message]) == 1


def test_serve_with_the_semantic_matcher_and_no_model_is_a_one_line_error(
    decks_dir, tmp_path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FLASHGRADE_MATCHER", "semantic")
    monkeypatch.setenv("FLASHGRADE_EMBEDDING_MODEL", str(tmp_path / "missing.bin"))
    assert main(["serve", "--decks", str(decks_dir), "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("flashgrade: error: FLASHGRADE_MATCHER=semantic:") and err.count("\n") == 1
    )
