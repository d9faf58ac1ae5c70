"""Alembic migrations: a database made by the release before them (schema version 1) opens
with everything in it kept, and new databases get the current schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from web.app import create_app
from web.storage.database import LLMCache, Store
from web.storage.models import SCHEMA_VERSION, Base

FIXTURES = Path(__file__).parent / "fixtures"
CARD1 = "built-churn-prediction-model-subscription-service"
POINTS = [{"id": "1.1", "section": "S", "text": "Package the model", "status": "missing",
           "evidence": None, "span": None}]  # fmt: skip
# 20 scored attempts, each scored one below the grader: enough for a calibration
PAIRS = [(s, s - 1) for s in (2, 3, 4, 5)] * 5


@pytest.fixture
def v1_database(tmp_path: Path) -> Path:
    """A SQLite file as the release before Alembic left it, made with its own DDL: 20 scored
    attempts with their reviews and one unscored, a card state, the deck's calibration
    switched off, an LLM reply."""
    from grader.calibration import fit_calibration

    path = tmp_path / "v1.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript((FIXTURES / "schema_v1.sql").read_text(encoding="utf-8"))
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        for i, (score, final) in enumerate([*PAIRS, (3, None)], start=1):
            at = f"2026-11-01 10:{i:02d}:00.000000"
            db.execute(
                "INSERT INTO attempts VALUES (?, 'mlops', ?, 'Q?', ?, ?, ?, 0.5, 'fuzzy', 'v1',"
                " '[]', NULL, ?, 12.5, ?, ?, ?)",
                (i, CARD1, f"answer {i}", score, score, final, at,
                 None if final is None else at, json.dumps(POINTS)),
            )  # fmt: skip
            if final is not None:
                db.execute(
                    "INSERT INTO reviews VALUES (?, ?, 'mlops', ?, ?, 1, ?, 12500, ?)",
                    (i, i, CARD1, final, at, "2027-01-01 00:00:00.000000"),
                )
        db.execute(
            "INSERT INTO card_states VALUES ('mlops', ?, '{}', '2027-01-01 00:00:00.000000', 20,"
            " 4, '2026-11-01 10:01:00.000000', '2026-11-01 10:20:00.000000')",
            (CARD1,),
        )
        fitted = fit_calibration(PAIRS, min_overrides=15)
        assert fitted is not None
        stored = json.dumps({"fuzzy": json.loads(fitted.to_json())})
        db.execute(
            "INSERT INTO deck_calibrations VALUES ('mlops', 0, ?, '2026-11-01 10:20:00.000000')",
            (stored,),
        )
        db.execute("INSERT INTO llm_cache VALUES ('k', 'reply', '2026-11-01 10:20:00.000000')")
    return path


@pytest.mark.sqlite
def test_a_version_1_database_opens_with_everything_kept(v1_database, web_settings):
    from grader.calibration import fit_calibration

    web_settings.database_url = f"sqlite:///{v1_database}"
    app = create_app(web_settings)
    with TestClient(app) as client:
        attempts = client.get("/api/attempts").json()
        assert [a["attempt_id"] for a in attempts] == list(range(21, 0, -1))
        assert [a["final"] for a in reversed(attempts)] == [f for _, f in PAIRS] + [None]
        deck = client.get("/api/decks/mlops").json()
        assert deck["cards"][0]["due"].startswith("2027-01-01")
        calibration = app.state.calibrator.state(0, "mlops")
        assert calibration.enabled is False
        assert calibration.calibration == fit_calibration(PAIRS, min_overrides=15)
        assert sorted(app.state.calibrator.pairs(0, "mlops")) == sorted(PAIRS)  # counted by 0002
        assert LLMCache(app.state.store).get("k") == "reply"
        new = client.post("/api/attempts", json={"deck": "mlops", "card": "1", "answer": ""})
        assert new.json()["attempt_id"] == 22
        figures = client.get("/decks/mlops/stats").context["s"]
        assert figures.agreement.overall.n == 20  # summed by 0002
        assert (figures.weakest[0].card_id, figures.weakest[0].scored) == (CARD1, 20)
        assert app.state.store.schema_version() == SCHEMA_VERSION


def test_a_new_database_gets_every_table_of_the_models(database):
    store = Store(database)
    store.create_schema()
    tables = set(inspect(store.engine).get_table_names())
    store.dispose()
    assert tables == set(Base.metadata.tables) | {"alembic_version"}


def test_opening_a_database_twice_changes_nothing_the_second_time(database):
    Store(database).create_schema()
    store = Store(database)
    store.create_schema()
    assert store.schema_version() == SCHEMA_VERSION
    store.dispose()
