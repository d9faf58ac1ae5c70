"""The HTML pages through FastAPI's TestClient: the practice flow, escaping, errors."""

from __future__ import annotations

import os
import re
import shutil
import time
from datetime import UTC, datetime

import pytest

from web.storage.models import Attempt, CardState

PARTIAL = "Package the model with its preprocessing steps and test the inference pipeline."
CARD1 = "built-churn-prediction-model-subscription-service"


def answer_card(client, form_token, answer: str, *, url: str = "/decks/mlops/practice", **extra):
    page = client.get(url)
    action = re.search(r'<form class="answer-form" method="post" action="([^"]+)"', page.text)
    assert action, "no answer form"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert hidden["csrf_token"] == form_token(page.text)
    data = {**hidden, "answer": answer, **extra}
    return client.post(action.group(1), data=data, follow_redirects=False)


def test_home_lists_decks_with_counts(web_client):
    page = web_client.get("/")
    assert page.status_code == 200
    assert page.template.name == "home.html"
    [counts] = page.context["decks"]
    assert (counts.deck.id, counts.due, counts.new) == ("mlops", 0, 7)
    assert "ML Ops Flashcards" in page.text
    assert "<title>Decks · flashgrade</title>" in page.text


def test_decks_of_the_same_title_are_told_apart_by_their_ids(web_client, web_app, decks_dir):
    shutil.copy(decks_dir / "mlops.md", decks_dir / "mlops-copy.md")
    web_app.state.catalog.refresh(force=True)
    web_client.post("/api/attempts", json={"deck": "mlops", "card": "1", "answer": "x"})
    home = web_client.get("/")
    assert home.context["labels"] == {
        "mlops": "ML Ops Flashcards (mlops)",
        "mlops-copy": "ML Ops Flashcards (mlops-copy)",
    }
    assert ">ML Ops Flashcards (mlops-copy)</a></h2>" in home.text
    history = web_client.get("/history")
    assert list(history.context["decks"].values()) == list(home.context["labels"].values())
    lines = web_client.get("/stats").context["s"].decks
    assert [d.title for d in lines] == list(home.context["labels"].values())


def test_a_deck_file_that_cannot_be_read_is_named_on_home_not_called_missing(
    web_settings, decks_dir
):
    from fastapi.testclient import TestClient

    from web.app import create_app

    (decks_dir / "mlops.md").write_bytes(b"# Deck\n\xff not utf-8")
    with TestClient(create_app(web_settings)) as client:
        page = client.get("/")
    [error] = page.context["errors"]
    assert "mlops.md" in error and error in page.text.replace("&#39;", "'")
    assert "No decks yet" not in page.text and 'role="alert"' in page.text


def test_a_deck_edited_into_an_error_shows_its_last_good_cards_and_says_so(web_client, decks_dir):
    assert web_client.get("/decks/mlops").context["file_error"] is None
    path = decks_dir / "mlops.md"
    path.write_bytes(b"\xff not utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    web_client.app.state.catalog.refresh(force=True)
    page = web_client.get("/decks/mlops")
    assert page.status_code == 200 and len(page.context["rows"]) == 7
    assert "not UTF-8" in page.context["file_error"]
    assert "as it last could be read" in page.text


def test_an_answer_to_a_card_removed_while_it_was_typed_is_shown_back(
    web_client, decks_dir, form_token
):
    page = web_client.get(f"/decks/mlops/cards/{CARD1}")
    path = decks_dir / "mlops.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"## {CARD1}", "## renamed-card", 1), encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    web_client.app.state.catalog.refresh(force=True)
    answer = "Monitor <drift> and retrain."
    posted = web_client.post(
        f"/decks/mlops/cards/{CARD1}/attempts",
        data={"answer": answer, "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 404 and posted.template.name == "error.html"
    assert posted.context["kept_answer"] == answer
    assert "Monitor &lt;drift&gt; and retrain." in posted.text


def test_feedback_on_a_card_gone_from_its_deck_keeps_the_deck_s_title_and_labels(
    web_client, decks_dir, form_token
):
    posted = answer_card(web_client, form_token, PARTIAL)
    path = decks_dir / "mlops.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f"## {CARD1}", "## renamed-card", 1), encoding="utf-8")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    web_client.app.state.catalog.refresh(force=True)
    page = web_client.get(posted.headers["location"])
    assert page.context["card"] is None and page.context["deck"].id == "mlops"
    assert page.context["labels"][1] == "1 Not at all"
    assert "ML Ops Flashcards" in page.text


def test_whole_flow_answer_feedback_override_reschedules(web_client, web_app, form_token):
    practice = web_client.get("/decks/mlops/practice")
    assert practice.template.name == "practice.html"
    assert practice.context["card"].id == CARD1

    posted = answer_card(web_client, form_token, PARTIAL)
    assert posted.status_code == 303
    feedback = web_client.get(posted.headers["location"])
    assert feedback.template.name == "feedback.html"
    attempt = feedback.context["attempt"]
    missing = [p.text for p in feedback.context["missing"]]
    assert "Set monitoring for latency, errors, and system performance." in missing
    assert "You missed" in feedback.text
    assert missing[0] in feedback.text

    override = 5 if attempt.suggested != 5 else 1
    scored = web_client.post(
        f"/attempts/{attempt.id}/score",
        data={"csrf_token": form_token(feedback.text), "score": str(override)},
        follow_redirects=False,
    )
    assert scored.status_code == 303
    assert scored.headers["location"] == f"/decks/mlops/practice?scored={attempt.id}"

    with web_app.state.store.read() as session:
        stored = session.get(Attempt, attempt.id)
        state = session.get(CardState, (0, "mlops", CARD1))
    assert (stored.suggested, stored.final) == (attempt.suggested, override)
    assert state is not None and state.last_score == override
    assert state.due > datetime.now(UTC)
    deck = web_client.get("/api/decks/mlops").json()
    assert deck["cards"][0]["due"] is not None

    after = web_client.get(scored.headers["location"])
    assert after.context["last"]["attempt"].final == override
    assert after.context["card"].id != CARD1  # the next card, the scored one is not due


def test_feedback_lists_missing_points_before_covered_ones(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    statuses = [p.status for p in feedback.context["points"]]
    assert statuses == sorted(statuses, key=["missing", "partial", "covered"].index)
    assert statuses[0] == "missing" and "covered" in statuses


def test_feedback_says_which_points_the_answer_argues_against(web_client, form_token):
    answer = "Package the model. There is no need to monitor drift or track changes in features."
    feedback = web_client.get(answer_card(web_client, form_token, answer).headers["location"])
    denied = [p.point_id for p in feedback.context["points"] if p.contradicted]
    assert denied == ["2.4"]
    note = re.findall(
        r'<span class="pid">2\.4</span>[^<]*<span class="denied">([^<]+)', feedback.text
    )
    assert note == ["Your answer seems to argue against this."]  # in the missed list, and not twice
    assert feedback.text.count('class="denied"') == 2  # ... and in the list of every point


def test_feedback_shows_label_method_and_reference(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    assert feedback.context["labels"][1] == "1 Not at all"
    assert "graded by fuzzy keyword matching" in feedback.text
    assert "Reference answer" in feedback.text
    assert "Adjust thresholds if model predictions show bias" in feedback.text


def test_suggested_score_is_preselected_and_not_focused(web_client, form_token):
    """Preselected for Enter; not focused, since no key shortcut fires on a focused control."""
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    suggested = feedback.context["attempt"].suggested
    button = re.search(r'<button[^>]*value="(\d)"[^>]*aria-pressed="true"', feedback.text, re.S)
    assert button and int(button.group(1)) == suggested
    assert "autofocus" not in feedback.text


def test_script_typed_in_answer_is_escaped_on_feedback_page(web_client, form_token):
    answer = 'Package the model <script>alert("x")</script> & <img src=x onerror=alert(1)>'
    feedback = web_client.get(answer_card(web_client, form_token, answer).headers["location"])
    assert "<script>alert" not in feedback.text
    assert "<img src=x" not in feedback.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in feedback.text


def test_evidence_is_highlighted_inside_mark_elements(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    answer = re.search(r'<div class="answer"[^>]*>(.*?)</div>', feedback.text, re.S)
    assert answer
    marks = re.findall(r'<mark class="ev (covered|partial)"[^>]*>([^<]*)</mark>', answer.group(1))
    assert marks
    assert re.sub(r"<[^>]*>", "", answer.group(1)) == PARTIAL
    assert all(text and text in PARTIAL for _, text in marks)


def test_only_the_keyboard_hint_of_the_feedback_page_waits_for_the_script(web_client, form_token):
    url = answer_card(web_client, form_token, PARTIAL).headers["location"]
    attempt_id = int(url.rsplit("/", 1)[1])
    web_client.post(f"/api/attempts/{attempt_id}/score", json={"score": 4})
    page = web_client.get(url).text
    hint = re.search(r'<span class="js-only keys">(.*?)</span>', page, re.S)
    assert hint and "<kbd>1</kbd>" in hint.group(1)
    assert "Next review" in page and "Next review" not in hint.group(1)


def test_time_taken_comes_from_the_form(web_client, web_app, form_token):
    posted = answer_card(web_client, form_token, PARTIAL, seconds="42.5")
    attempt_id = int(posted.headers["location"].rsplit("/", 1)[1])
    assert web_app.state.practice.attempt(attempt_id).seconds == 42.5


def test_time_taken_without_javascript_is_measured_from_page_render(
    web_client, web_app, form_token
):
    posted = answer_card(web_client, form_token, PARTIAL)  # the page's shown_at, no seconds
    attempt_id = int(posted.headers["location"].rsplit("/", 1)[1])
    seconds = web_app.state.practice.attempt(attempt_id).seconds
    assert seconds is not None and 0 <= seconds < 60


@pytest.mark.parametrize("shown_at", ["9" * 400, "1" + "0" * 4400, "soon", "-1", "1e3"])
def test_a_bad_shown_at_is_ignored_and_the_answer_stored_without_a_time(
    web_client, web_app, form_token, shown_at
):
    posted = answer_card(web_client, form_token, PARTIAL, shown_at=shown_at)
    assert posted.status_code == 303
    attempt_id = int(posted.headers["location"].rsplit("/", 1)[1])
    assert web_app.state.practice.attempt(attempt_id).seconds is None


def test_the_answer_box_has_no_maxlength_that_would_cut_a_paste(web_client):
    page = web_client.get("/decks/mlops/cards/1")
    box = re.search(r"<textarea[^>]*>", page.text).group()
    assert "maxlength" not in box and 'data-max-chars="20000"' in box


def test_too_long_answer_gets_413_and_keeps_the_text(web_client, web_app, form_token):
    answer = "x" * (web_app.state.settings.max_answer_chars + 1)
    page = answer_card(web_client, form_token, answer)
    assert page.status_code == 413
    assert page.template.name == "practice.html"
    assert page.context["answer"] == answer
    assert "the limit is 20,000" in page.text
    assert web_client.get("/api/attempts").json() == []


def test_a_form_body_announced_too_large_gets_the_html_413_page(web_client, form_token):
    page = web_client.get("/decks/mlops/practice")
    action = re.search(r'<form class="answer-form" method="post" action="([^"]+)"', page.text)
    assert action
    body = b"answer=" + b"a" * 1_000_000
    response = web_client.post(
        action.group(1),
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.template.name == "error.html"
    assert "too large" in response.context["detail"]
    assert response.headers["connection"] == "close"  # the rest of the body is not read


def test_scoring_an_attempt_whose_deck_file_is_gone_returns_to_the_attempt(
    web_client, web_app, form_token, decks_dir
):
    posted = answer_card(web_client, form_token, PARTIAL)
    feedback_url = posted.headers["location"]
    page = web_client.get(feedback_url)
    (decks_dir / "mlops.md").unlink()
    web_app.state.catalog.refresh(force=True)
    attempt_id = int(feedback_url.rsplit("/", 1)[1])
    scored = web_client.post(
        f"/attempts/{attempt_id}/score",
        data={"score": "4", "csrf_token": form_token(page.text)},
        follow_redirects=False,
    )
    assert scored.status_code == 303 and scored.headers["location"] == feedback_url
    assert web_client.get(feedback_url).status_code == 200
    assert web_app.state.practice.attempt(attempt_id).final == 4


def _database_error(message: str, name: str | None):  # type: ignore[no-untyped-def]
    import sqlite3

    from sqlalchemy.exc import OperationalError

    orig = sqlite3.OperationalError(message)
    if name:
        orig.sqlite_errorname = name  # as SQLite's own errors carry it
    return OperationalError("INSERT ...", {}, orig)


def _failing_writes(web_app, monkeypatch, error) -> None:  # type: ignore[no-untyped-def]
    async def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    def fail_now(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise error

    # the group-commit writer (the API), and any transaction of its own (the practice form)
    monkeypatch.setattr(web_app.state.practice.writer, "add", fail)
    monkeypatch.setattr(web_app.state.store, "write", fail_now)


def test_a_database_that_cannot_be_written_just_now_is_a_503_saying_so(
    web_client, web_app, monkeypatch
):
    error = _database_error("attempt to write a readonly database", "SQLITE_READONLY")
    _failing_writes(web_app, monkeypatch, error)
    body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
    response = web_client.post("/api/attempts", json=body)
    assert response.status_code == 503
    assert "readonly database" in response.json()["detail"]


def test_a_fault_in_the_sql_is_a_500_that_names_nothing_of_the_schema(web_app, monkeypatch):
    from fastapi.testclient import TestClient

    _failing_writes(web_app, monkeypatch, _database_error("no such column: attempts.x", None))
    body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
    with TestClient(web_app, raise_server_exceptions=False) as client:
        response = client.post("/api/attempts", json=body)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error; it has been logged"}


def test_an_answer_the_busy_database_could_not_take_stays_on_the_page(
    web_client, web_app, form_token, monkeypatch
):
    _failing_writes(web_app, monkeypatch, _database_error("database is locked", "SQLITE_BUSY"))
    page = answer_card(web_client, form_token, PARTIAL)
    assert page.status_code == 503 and page.template.name == "practice.html"
    assert page.context["answer"] == PARTIAL and "Try again" in page.context["error"]


def test_a_card_position_of_thousands_of_digits_is_a_404_page(web_client):
    page = web_client.get("/decks/mlops/cards/" + "1" * 5000)
    assert page.status_code == 404 and page.template.name == "error.html"


def test_practise_ahead_on_any_card(web_client, form_token):
    page = web_client.get("/decks/mlops/cards/5")
    assert page.template.name == "practice.html"
    # a new card is not practised ahead; one scheduled for later is
    assert page.context["card"].position == 5 and not page.context["ahead"]
    assert "Practising ahead" not in page.text and "Card 5 of 7" in page.text
    posted = answer_card(web_client, form_token, "an answer", url="/decks/mlops/cards/5")
    assert posted.status_code == 303
    attempt_id = posted.headers["location"].rsplit("/", 1)[1]
    web_client.post(f"/api/attempts/{attempt_id}/score", json={"score": 5})
    again = web_client.get("/decks/mlops/cards/5")
    assert again.context["ahead"] and "Card 5 of 7 · practising ahead" in again.text


def test_deck_page_lists_cards_with_due_and_last_score(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    web_client.post(
        f"/attempts/{feedback.context['attempt'].id}/score",
        data={"csrf_token": form_token(feedback.text), "score": "4"},
    )
    page = web_client.get("/decks/mlops")
    assert page.template.name == "deck.html"
    rows = page.context["rows"]
    assert len(rows) == 7
    assert rows[0].last_score == 4 and rows[0].due is not None
    assert rows[1].due is None


def test_unknown_deck_card_and_attempt_get_404_pages(web_client):
    for url in ("/decks/nope", "/decks/mlops/cards/99", "/attempts/12345", "/no/such/page"):
        page = web_client.get(url)
        assert page.status_code == 404, url
        assert page.template.name == "error.html"
        assert "Not found" in page.text


def test_bad_score_in_form_gets_422_page(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    page = web_client.post(
        f"/attempts/{feedback.context['attempt'].id}/score",
        data={"csrf_token": form_token(feedback.text), "score": "9"},
    )
    assert page.status_code == 422
    assert page.template.name == "error.html"


def test_done_page_offers_practise_ahead_when_nothing_is_due(web_settings, form_token):
    from fastapi.testclient import TestClient

    from web.app import create_app

    web_settings.new_cards_per_day = 0
    with TestClient(create_app(web_settings)) as client:
        page = client.get("/decks/mlops/practice")
    assert page.template.name == "done.html"
    assert len(page.context["rows"]) == 7
    assert "All caught up" in page.text


def test_pages_send_security_headers(web_client):
    page = web_client.get("/")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"


def test_pages_have_no_inline_script(web_client, form_token):
    feedback = web_client.get(answer_card(web_client, form_token, PARTIAL).headers["location"])
    for html in (web_client.get("/").text, web_client.get("/decks/mlops").text, feedback.text):
        assert not re.search(r"<script(?![^>]*\bsrc=)", html)
        assert not re.search(r"<[^>]+\son[a-z]+=", html)


def test_every_page_has_a_title_and_labelled_answer_box(web_client):
    page = web_client.get("/decks/mlops/practice")
    assert re.search(r"<title>Card 1 · ML Ops Flashcards · flashgrade</title>", page.text)
    assert '<label for="answer"' in page.text and 'id="answer"' in page.text


def test_api_docs_page_loads_local_swagger(web_client):
    page = web_client.get("/docs")
    assert page.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert web_client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert web_client.get("/openapi.json").status_code == 200


def test_a_deck_page_shows_a_hundred_cards_a_page(tmp_path, web_settings, decks_dir):
    from fastapi.testclient import TestClient

    from web.app import create_app

    cards = "\n".join(f"## card-{i}\n\nQuestion {i}?\n\n- Point {i}\n" for i in range(1, 251))
    (decks_dir / "big.md").write_text(f"# Big\n\n{cards}", encoding="utf-8")
    with TestClient(create_app(web_settings)) as client:
        first = client.get("/decks/big").text
        last = client.get("/decks/big?page=3").text
        beyond = client.get("/decks/big?page=4")
    assert "Question 100?" in first and "Question 101?" not in first and "Page 1 of 3" in first
    assert "Question 201?" in last and "Question 250?" in last and "Question 200?" not in last
    assert 'href="/decks/big/cards/' in first
    assert beyond.status_code == 404
