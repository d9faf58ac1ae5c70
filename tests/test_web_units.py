"""Small parts of the web app: highlighting, the deck catalog, settings, secrets, errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web.app import create_app
from web.catalog import Catalog, DeckNotFound
from web.errors import validation_detail
from web.highlight import Segment, segments
from web.security import Csrf, load_or_create_secret
from web.settings import BUNDLED_DECKS, Settings
from web.templating import when

# --- highlighting -----------------------------------------------------------------------------


def test_segments_split_the_answer_by_spans():
    parts = segments("abc def ghi", [("1.1", "covered", 4, 7)])
    assert parts == [Segment("abc "), Segment("def", "covered", ("1.1",)), Segment(" ghi")]


def test_overlapping_spans_merge_with_the_strongest_status():
    parts = segments("abcdefgh", [("1.1", "partial", 0, 4), ("1.2", "covered", 2, 6)])
    assert parts == [Segment("abcdef", "covered", ("1.1", "1.2")), Segment("gh")]


@pytest.mark.parametrize("span", [(5, 3), (-1, 2), (0, 99), (None, None), (2, 2)])
def test_invalid_spans_are_ignored(span):
    assert segments("abcdef", [("1.1", "covered", *span)]) == [Segment("abcdef")]


def test_missing_points_are_never_highlighted():
    assert segments("abcdef", [("1.1", "missing", 0, 3)]) == [Segment("abcdef")]


@given(
    st.text(max_size=60),
    st.lists(
        st.tuples(
            st.sampled_from(["covered", "partial", "missing"]),
            st.integers(-2, 70),
            st.integers(-2, 70),
        ),
        max_size=6,
    ),
)
def test_segments_always_reassemble_the_answer(answer, spans):
    parts = segments(answer, [(str(i), s, a, b) for i, (s, a, b) in enumerate(spans)])
    assert "".join(p.text for p in parts) == answer


# --- the deck catalog ------------------------------------------------------------------------


def test_catalog_loads_decks_by_id(decks_dir):
    catalog = Catalog(decks_dir)
    assert [d.id for d in catalog.decks()] == ["mlops"]
    with pytest.raises(DeckNotFound):
        catalog.get("nope")


def test_catalog_reloads_a_deck_when_its_file_changes(decks_dir):
    catalog = Catalog(decks_dir, interval=0)
    path = decks_dir / "mlops.md"
    assert catalog.get("mlops").title == "ML Ops Flashcards"
    path.write_text(
        path.read_text(encoding="utf-8").replace("# ML Ops Flashcards", "# Renamed", 1),
        encoding="utf-8",
    )
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert catalog.get("mlops").title == "Renamed"


def test_catalog_does_not_reread_unchanged_files(decks_dir):
    calls = []

    def loader(path: Path):
        from grader import load_deck

        calls.append(path)
        return load_deck(path)

    catalog = Catalog(decks_dir, interval=0, loader=loader)
    catalog.decks()
    catalog.decks()
    assert len(calls) == 1


def test_catalog_keeps_the_last_good_deck_when_a_file_breaks(decks_dir):
    catalog = Catalog(decks_dir, interval=0)
    catalog.get("mlops")
    path = decks_dir / "mlops.md"
    path.write_bytes(b"\xff\xfe not utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert catalog.get("mlops").title == "ML Ops Flashcards"
    [error] = catalog.errors()
    assert "mlops.md" in error and "not UTF-8" in error
    assert catalog.error_of("mlops") == error and catalog.error_of("other") is None


def test_a_reader_s_warning_names_its_file_once(decks_dir):
    (decks_dir / "tiny.md").write_text(
        "# Tiny\n\n## one\n\nWhat is two plus two?\n\n- Four.\n\n## two\n\nAnd three?\n",
        encoding="utf-8",
    )
    problems = Catalog(decks_dir, interval=0).problems()
    assert problems and all(p.startswith("tiny.md:") and str(decks_dir) not in p for p in problems)


def test_catalog_adds_new_files(decks_dir):
    catalog = Catalog(decks_dir, interval=0)
    (decks_dir / "tiny.md").write_text(
        "# Tiny\n\n## one\n\nWhat is two plus two?\n\n- Four.\n", encoding="utf-8"
    )
    assert {d.id for d in catalog.decks()} == {"mlops", "tiny"}


# --- settings and secrets --------------------------------------------------------------------


def test_settings_default_database_lives_in_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("FLASHGRADE_DATA_DIR", str(tmp_path / "d"))
    s = Settings(_env_file=None)
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'flashgrade.sqlite3'}"
    assert (s.host, s.port, s.max_answer_chars, s.new_cards_per_day) == (
        "127.0.0.1",
        8000,
        20_000,
        20,
    )


def test_settings_read_the_environment_and_openai_names(monkeypatch):
    monkeypatch.setenv("FLASHGRADE_PORT", "9123")
    monkeypatch.setenv("FLASHGRADE_MAX_ANSWER_CHARS", "50")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("FLASHGRADE_LLM_MODEL", "some-model")
    s = Settings(_env_file=None)
    assert (s.port, s.max_answer_chars, s.llm_model) == (9123, 50, "some-model")
    assert s.openai_api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(s)


def test_settings_read_a_dotenv_file(tmp_path):
    env = tmp_path / ".env"
    env.write_text("FLASHGRADE_NEW_CARDS_PER_DAY=3\n", encoding="utf-8")
    assert Settings(_env_file=env).new_cards_per_day == 3


def test_decks_dir_defaults_to_local_decks_else_bundled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Settings(_env_file=None).decks_dir == BUNDLED_DECKS
    (tmp_path / "decks").mkdir()
    assert Settings(_env_file=None).decks_dir == tmp_path / "decks"


def test_env_example_lists_every_setting():
    text = (Path(__file__).resolve().parent.parent / ".env.example").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        env = (
            "OPENAI_" + name.removeprefix("openai_").upper()
            if name.startswith("openai_")
            else f"FLASHGRADE_{name.upper()}"
        )
        assert env in text, env


def test_secret_is_generated_once_and_kept(tmp_path):
    path = tmp_path / "secret_key"
    first = load_or_create_secret(path)
    assert len(first) >= 32 and load_or_create_secret(path) == first
    assert path.stat().st_mode & 0o077 == 0


def test_app_without_secret_setting_persists_one_in_the_data_dir(web_settings):
    web_settings.secret_key = None
    create_app(web_settings)
    assert (web_settings.data_dir / "secret_key").exists()


def test_csrf_token_verifies_only_for_its_nonce():
    csrf = Csrf(b"k" * 40)
    token = csrf.token_for("nonce")
    assert csrf.is_valid("nonce", token)
    assert not csrf.is_valid("other", token)
    assert not csrf.is_valid(None, token)


# --- errors ----------------------------------------------------------------------------------


def test_validation_detail_is_one_line():
    errors = [
        {"type": "missing", "loc": ("body", "answer"), "msg": "Field required"},
        {
            "type": "int_parsing",
            "loc": ("query", "limit"),
            "msg": "Input should be a valid integer",
        },
    ]
    assert (
        validation_detail(errors)
        == "answer: Field required; limit: Input should be a valid integer"
    )


def test_when_says_relative_times():
    from datetime import UTC, datetime, timedelta

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert when(now + timedelta(minutes=10), now) == "in 10 min"
    assert when(now + timedelta(days=3), now) == "in 3 days"
    assert when(now - timedelta(hours=2), now) == "2 h ago"
    assert when(None) == "new"


def test_times_taken_read_as_people_say_them():
    from web.templating import duration

    assert [duration(s) for s in (0.4, 45, 60, 263, 3600, 3900.2)] == [
        "0 s",
        "45 s",
        "1 min",
        "4 min 23 s",
        "1 h",
        "1 h 5 min",
    ]


def test_local_times_name_their_zone():
    from datetime import UTC, datetime

    from web.templating import local_time

    shown = local_time(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    zone = datetime(2026, 5, 1, 12, 0, tzinfo=UTC).astimezone().strftime("%Z")
    assert zone and shown.endswith(f" {zone}") and shown.startswith("2026-05-01 ")


def test_a_review_that_is_due_is_due_now_not_minutes_ago():
    from datetime import UTC, datetime, timedelta

    from web.templating import due_in

    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert due_in(now - timedelta(minutes=3), now) == "now"
    assert due_in(now, now) == "now"
    assert due_in(now + timedelta(days=2), now) == "in 2 days"


def test_unexpected_error_gets_a_clean_500(web_app):
    from web.deps import get_practice

    async def broken():
        raise RuntimeError("boom")

    web_app.dependency_overrides[get_practice] = broken
    with TestClient(web_app, raise_server_exceptions=False) as client:
        api = client.get("/api/decks")
        page = client.get("/")
    assert api.status_code == 500 and api.json() == {"detail": "internal error; it has been logged"}
    assert page.status_code == 500 and "boom" not in page.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "deck": st.sampled_from(["mlops", "nope", ""]) | json_values,
        "card": st.sampled_from(["1", "7", "0", "99", 3]) | json_values,
        "answer": st.text(max_size=200) | json_values,
        "seconds": json_values,
        "score": json_values,
    },
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=bodies | json_values,
    url=st.sampled_from(["/api/grade", "/api/attempts", "/api/attempts/1/score"]),
)
def test_no_json_body_ever_gets_a_500(web_client, body, url):
    response = web_client.post(
        url, content=json.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert isinstance(response.json()["detail"], str)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20))
def test_no_path_ever_gets_a_500(web_client, path):
    from urllib.parse import quote

    for prefix in ("/decks/", "/api/decks/", "/attempts/", "/api/attempts?deck="):
        assert web_client.get(prefix + quote(path, safe="")).status_code < 500


def test_catalog_skips_readme_files(decks_dir):
    (decks_dir / "README.md").write_text("Notes about these decks.\n", encoding="utf-8")
    catalog = Catalog(decks_dir)
    assert [d.id for d in catalog.decks()] == ["mlops"] and catalog.problems() == []


# --- what is due -----------------------------------------------------------------------------


def _session_with_states(*states):
    """A session on a fresh in-memory database holding card states of deck "d"."""
    from web.storage.database import Store

    store = Store("sqlite://")
    store.create_schema()
    with store.write() as session:
        session.add_all(states)
    return store.read()


def _state(card_id: str, due, introduced, deck_id: str = "d"):
    from web.storage.models import CardState

    return CardState(
        person_id=0,
        deck_id=deck_id,
        card_id=card_id,
        due=due,
        introduced_at=introduced,
        reps=1,
        fsrs_card={},
        last_reviewed_at=introduced,
    )


def test_cards_first_reviewed_before_today_do_not_count_against_the_new_limit():
    from datetime import datetime, timedelta

    from web.storage import due

    now = datetime.now().astimezone()
    later = now + timedelta(days=3)
    with _session_with_states(
        _state("a", later, due.start_of_day(now) - timedelta(minutes=1)),
        _state("b", later, due.start_of_day(now) + timedelta(minutes=1)),
    ) as session:
        assert due.new_left(session, 0, "d", now, per_day=2) == 1


def test_most_overdue_card_comes_first(mlops_md):
    from datetime import datetime, timedelta

    from grader import load_deck
    from web.storage import due

    deck = load_deck(mlops_md)
    now = datetime.now().astimezone()
    first, second, third = (c.id for c in deck.cards[:3])
    long_ago = now - timedelta(days=9)
    with _session_with_states(
        _state(first, now - timedelta(hours=1), long_ago, deck.id),
        _state(third, now - timedelta(days=2), long_ago, deck.id),
        _state(second, now + timedelta(days=1), long_ago, deck.id),
    ) as session:
        assert due.next_card(session, 0, deck, now, per_day=0).id == third
        assert due.counts(session, 0, deck, now, per_day=0).due == 2


def test_a_calibrated_suggestion_follows_the_person_even_beside_a_covered_point(
    web_client, web_app, mlops_md
):
    """The grader's own score is never 1 beside a covered point; a calibrated suggestion is the
    person's scale, and one who scores such answers 1 gets 1 (issue 16)."""
    from grader import grade, load_deck
    from grader.calibration import Calibration

    deck = load_deck(mlops_md)
    card = deck.card("6")
    result = grade(card, "Use a canary release.")
    assert result.score == 2 and any(p.status == "covered" for p in result.points)
    calibrator = web_app.state.calibrator
    # a person who always scores one below: their map takes a 2 down to 1
    always_lower = Calibration((1, 1, 2, 3, 4), 20, 20, -1.0)
    calibrator.active = lambda person, deck_id, method="fuzzy": always_lower
    practice = web_app.state.practice
    assert practice.suggest(deck, card, result) == 1
    vague = grade(card, "Keep an eye on it.")
    assert practice.suggest(deck, card, vague) == 1
