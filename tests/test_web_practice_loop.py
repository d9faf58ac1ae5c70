"""The practice loop (issue 16) through FastAPI's TestClient: a failed card comes back in the
session (learn ahead), "I don't know", the score banner, and feedback that teaches."""

from __future__ import annotations

import re

import pytest
from web_helpers import scored

from grader import load_deck

CARD1 = "built-churn-prediction-model-subscription-service"
PARTIAL = "Package the model with its preprocessing steps and test the inference pipeline."


def practise_all(client, mlops_md, first_score: int, others: int = 5) -> None:
    """Card 1 scored ``first_score``, every other card of the seed deck ``others``."""
    for card in load_deck(mlops_md).cards:
        scored(client, card.id, "", first_score if card.position == 1 else others)


def client_with(web_settings, **settings):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from web.app import create_app

    return TestClient(create_app(web_settings.model_copy(update=settings)))


def submit_form(client, form_token, url: str, **fields: str):
    """The practice form of ``url`` sent with ``fields`` (and its hidden fields)."""
    page = client.get(url)
    action = re.search(r'<form class="answer-form" method="post" action="([^"]+)"', page.text)
    assert action, "no answer form"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert hidden["csrf_token"] == form_token(page.text)
    return client.post(action.group(1), data={**hidden, **fields}, follow_redirects=False)


# --- learning steps in the session -----------------------------------------------------------


def test_a_failed_card_comes_back_before_the_done_page(web_client, mlops_md):
    practise_all(web_client, mlops_md, first_score=1)  # card 1 is due again in a minute
    page = web_client.get("/decks/mlops/practice")
    assert page.template.name == "practice.html"
    assert page.context["card"].id == CARD1
    assert page.context["early"] is not None and not page.context["ahead"]
    assert "Card 1 of 7 · again, due in under a minute" in page.text


@pytest.mark.parametrize("score", [1, 2, 3])
def test_a_card_due_within_the_learn_ahead_limit_is_shown_now(web_client, mlops_md, score):
    practise_all(web_client, mlops_md, first_score=score)
    assert web_client.get("/decks/mlops/practice").context["card"].id == CARD1


def test_the_done_page_comes_when_nothing_is_due_within_the_limit_and_says_when(
    web_client, mlops_md
):
    practise_all(web_client, mlops_md, first_score=5)  # every card graduates: due in days
    page = web_client.get("/decks/mlops/practice")
    assert page.template.name == "done.html"
    assert page.context["next_due"] is not None
    assert "Nothing in <strong>ML Ops Flashcards</strong> is due in the next 20 minutes" in (
        page.text
    )
    assert re.search(r"The next card is due <strong>in \d+ days?</strong>", page.text)


def test_learn_ahead_follows_its_setting(web_settings, mlops_md):
    with client_with(web_settings, learn_ahead_minutes=0) as client:
        practise_all(client, mlops_md, first_score=1)
        page = client.get("/decks/mlops/practice")
    assert page.template.name == "done.html"
    assert "The next card is due <strong>in under a minute</strong>" in page.text


def test_the_learn_ahead_setting_has_a_default_of_20_minutes_in_env_example():
    from pathlib import Path

    from web.settings import Settings

    assert Settings(_env_file=None).learn_ahead_minutes == 20  # type: ignore[call-arg]
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    assert "# FLASHGRADE_LEARN_AHEAD_MINUTES=20\n" in example


def test_the_breadcrumb_and_the_heading_name_the_card_alike(web_client, mlops_md):
    scored(web_client, "7", "", 5)
    page = web_client.get("/decks/mlops/cards/7")
    assert page.context["ahead"]
    assert '<span class="crumb">Card 7 of 7</span>' in page.text
    assert '<p class="eyebrow">Card 7 of 7 · practising ahead</p>' in page.text


# --- "I don't know" ---------------------------------------------------------------------------


def test_i_dont_know_stores_an_empty_answer_suggested_1_and_shows_the_reference(
    web_client, web_app, form_token
):
    from web.storage.models import Attempt

    posted = submit_form(
        web_client, form_token, "/decks/mlops/practice", answer="half a thought", dont_know="true"
    )
    assert posted.status_code == 303
    feedback = web_client.get(posted.headers["location"])
    attempt_id = feedback.context["attempt"].id
    with web_app.state.store.read() as session:
        stored = session.get(Attempt, attempt_id)
    assert (stored.answer, stored.suggested, stored.final) == ("", 1, None)
    assert "Reference answer" in feedback.text
    assert "Adjust thresholds if model predictions show bias" in feedback.text


def test_the_practice_page_offers_i_dont_know_with_its_key(web_client):
    page = web_client.get("/decks/mlops/practice").text
    button = re.search(r'<button type="submit" name="dont_know" value="true"[^>]*>([^<]+)<', page)
    assert button and button.group(1) == "I don't know"
    hint = re.search(r'<span class="js-only keys">(.*?)</span></span>', page, re.S)
    assert hint and "<kbd>.</kbd> shows the answer" in hint.group(1)


def test_an_empty_answer_is_suggested_1_on_a_calibrated_deck(web_client, web_app):
    """A lenient person's map may lift the grader's 1; an answer left empty stays a 1."""
    from grader.calibration import Calibration

    lenient = Calibration((2, 3, 4, 5, 5), 20, 20, 1.0)
    web_app.state.calibrator.active = lambda deck_id, method="fuzzy": lenient
    body = web_client.post("/api/attempts", json={"deck": "mlops", "card": "1", "answer": ""})
    assert body.json()["score"] == 1


# --- the banner after a score -----------------------------------------------------------------


@pytest.mark.parametrize("final", [1, 3, 5])
def test_the_scored_banner_takes_the_colour_of_the_final_score(web_client, final):
    attempt = scored(web_client, "1", "", final)
    page = web_client.get(f"/decks/mlops/practice?scored={attempt['attempt_id']}")
    assert page.context["last"]["attempt"].final == final
    assert f'<p class="flash s{final}" role="status">' in page.text


# --- feedback that teaches ------------------------------------------------------------------


def test_feedback_puts_the_missed_points_and_the_reference_before_the_full_list(
    web_client, form_token
):
    posted = submit_form(web_client, form_token, "/decks/mlops/practice", answer=PARTIAL)
    page = web_client.get(posted.headers["location"]).text
    order = [page.index(f'id="{i}"') for i in ("missed-title", "ref-title", "points-title")]
    assert order == sorted(order)


def test_feedback_marks_the_missed_points_in_the_reference(web_client, form_token):
    posted = submit_form(web_client, form_token, "/decks/mlops/practice", answer=PARTIAL)
    feedback = web_client.get(posted.headers["location"])
    missing = {p.text for p in feedback.context["missing"]}
    reference = feedback.text.split('id="ref-title"', 1)[1].split("</section>", 1)[0]
    marked = re.findall(
        r'<li class="ref-missing">([^<]+) <span class="ref-mark">missed</span>', reference
    )
    assert set(marked) == missing


def test_feedback_quotes_the_answer_beside_each_covered_point(web_client, form_token):
    posted = submit_form(web_client, form_token, "/decks/mlops/practice", answer=PARTIAL)
    feedback = web_client.get(posted.headers["location"])
    listed = feedback.text.split('id="points-title"', 1)[1]
    for p in feedback.context["points"]:
        if p.status == "covered":
            assert p.evidence and p.evidence in PARTIAL
            quote = f'<span class="sr-only">Your words: </span><q class="evidence">{p.evidence}</q>'
            assert quote in listed


def test_the_score_hint_says_one_key_scores_and_enter_accepts(web_client, form_token):
    posted = submit_form(web_client, form_token, "/decks/mlops/practice", answer=PARTIAL)
    feedback = web_client.get(posted.headers["location"])
    suggested = feedback.context["attempt"].suggested
    hint = re.search(r'<span class="js-only keys">(.*?)</span>', feedback.text, re.S)
    assert hint
    text = re.sub(r"<[^>]+>", "", hint.group(1))
    assert text == f"Press 1–5 to score and go on, Enter to accept the suggestion ({suggested})."
