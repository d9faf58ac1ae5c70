"""Calibration from overrides, end to end through the JSON API: simulated people practise the
seed deck, and later suggestions follow how each of them scores."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from web_helpers import attempt

from grader import Card, grade, load_deck

pytestmark = pytest.mark.slow  # dozens of answers or a real server per test

Person = Callable[[int, int], int]  # (grader's own score, suggestion shown) -> final score


def one_below(grader: int, shown: int) -> int:
    """Always one level below what the grader thinks the answer deserves (never below 1)."""
    return max(1, grader - 1)


def agrees(grader: int, shown: int) -> int:
    return shown


def varied_answers(mlops_md, n: int) -> list[tuple[Card, str]]:
    """Answers of every quality to the seed's cards: a vague line, and runs of more or fewer
    of a card's reference points, starting at different points; shuffled, fixed seed."""
    deck = load_deck(mlops_md)
    answers = []
    for c, card in enumerate(deck.cards):
        texts = [p.text for p in card.points]
        answers.append((card, "I would keep an eye on it and fix problems as they come up."))
        for share in (0.15, 0.3, 0.45, 0.6, 0.8):
            k = max(1, round(len(texts) * share))
            start = (3 * c + k) % len(texts)
            picked = (texts + texts)[start : start + k]
            answers.append((card, " ".join(picked)))
    random.Random(7).shuffle(answers)
    assert len(answers) >= n
    return answers[:n]


@dataclass
class Practised:
    grader: int  # the grader's own, uncalibrated suggestion (the library, no database)
    shown: int  # the suggestion the API returned
    final: int  # the person's score


def practise(client, answers: list[tuple[Card, str]], person: Person) -> list[Practised]:
    done = []
    for card, answer in answers:
        body = attempt(client, card.id, answer)
        own = grade(card, answer).score
        final = person(own, body["score"])
        scored = client.post(f"/api/attempts/{body['attempt_id']}/score", json={"score": final})
        assert scored.status_code == 200, scored.text
        done.append(Practised(own, body["score"], final))
    return done


def mean_abs(pairs: list[tuple[int, int]]) -> float:
    return sum(abs(a - b) for a, b in pairs) / len(pairs)


def test_a_person_who_scores_one_below_gets_suggestions_one_below(web_client, mlops_md):
    answers = varied_answers(mlops_md, 40)
    first = practise(web_client, answers[:20], one_below)
    assert sum(p.final != p.shown for p in first) >= 15  # enough overrides to learn from

    later = practise(web_client, answers[20:], one_below)
    hit_rate = sum(p.shown == p.final for p in later) / len(later)
    before = mean_abs([(p.grader, p.final) for p in later])
    after = mean_abs([(p.shown, p.final) for p in later])
    print(
        f"\ncalibration: {hit_rate:.0%} of {len(later)} later suggestions equal the person's "
        f"score; mean |suggestion - score| {before:.2f} -> {after:.2f}"
    )
    assert hit_rate >= 0.95
    assert after < before
    assert all(1 <= p.shown <= 5 for p in later)


def test_a_calibrated_suggestion_follows_the_person_even_to_1_beside_a_covered_point(
    web_client, mlops_md
):
    """The grader never suggests 1 beside a covered point; a person who scores such answers 1
    has their own scale, and calibrated suggestions keep to it."""
    answers = varied_answers(mlops_md, 40)
    practise(web_client, answers[:20], one_below)
    later = practise(web_client, answers[20:], one_below)
    twos = [p for p in later if p.grader == 2]
    assert twos and all(p.shown == 1 for p in twos)


def test_a_person_who_agrees_leaves_suggestions_unchanged(web_client, mlops_md):
    answers = varied_answers(mlops_md, 40)
    practise(web_client, answers[:20], agrees)
    later = practise(web_client, answers[20:], agrees)
    assert [p.shown for p in later] == [p.grader for p in later]


def test_the_feedback_page_says_when_a_suggestion_was_adjusted(web_client, mlops_md):
    answers = varied_answers(mlops_md, 30)
    practise(web_client, answers[:20], one_below)
    adjusted = [
        (i, p)
        for i, p in enumerate(practise(web_client, answers[20:], one_below), start=21)
        if p.shown != p.grader
    ]
    assert adjusted
    attempt_id, p = adjusted[0]
    page = web_client.get(f"/attempts/{attempt_id}")
    assert page.status_code == 200
    assert page.context["calibration_note"].startswith(  # type: ignore[attr-defined]
        "Adjusted to your scoring in this deck: "
        f"the grader's {p.grader} → {p.shown} ({p.shown - p.grader:+d})"
    )
    assert "Adjusted to your scoring" in page.text


@pytest.mark.parametrize("switch", ["setting", "deck"])
def test_calibration_can_be_switched_off(web_settings, mlops_md, form_token, switch):
    from fastapi.testclient import TestClient

    from web.app import create_app

    answers = varied_answers(mlops_md, 30)
    with TestClient(create_app(web_settings)) as client:
        practise(client, answers[:20], one_below)
        if switch == "deck":
            token = form_token(client.get("/decks/mlops/stats").text)
            client.post("/decks/mlops/calibration", data={"csrf_token": token, "enabled": ""})
    settings = web_settings.model_copy(update={"calibration": switch != "setting"})
    with TestClient(create_app(settings)) as client:
        later = practise(client, answers[20:], one_below)
    assert [p.shown for p in later] == [p.grader for p in later]


def test_calibration_survives_a_restart(web_settings, mlops_md):
    from fastapi.testclient import TestClient

    from web.app import create_app

    answers = varied_answers(mlops_md, 40)
    with TestClient(create_app(web_settings)) as client:
        practise(client, answers[:20], one_below)
    with TestClient(create_app(web_settings)) as client:
        later = practise(client, answers[20:], one_below)
    assert any(p.shown < p.grader for p in later)


def test_a_lowered_minimum_of_overrides_applies_at_the_next_start(web_settings, mlops_md):
    from fastapi.testclient import TestClient

    from web.app import create_app

    answers = varied_answers(mlops_md, 40)
    strict = web_settings.model_copy(update={"calibration_min_overrides": 50})
    with TestClient(create_app(strict)) as client:
        practise(client, answers[:20], one_below)
    with TestClient(create_app(web_settings)) as client:  # the default, 15
        later = practise(client, answers[20:25], one_below)
    assert any(p.shown == p.final != p.grader for p in later)


def test_each_grading_method_has_a_map_of_its_own(web_app):
    """Overrides of fuzzy grades calibrate fuzzy suggestions only: the LLM rubric errs in
    its own ways, and learns from its own overrides."""
    from web.deck_calibration import Calibrator

    calibrator = Calibrator(web_app.state.store)
    with web_app.state.store.write() as session:
        for s in (2, 3, 4, 5) * 5:
            calibrator.record(session, 0, "mlops", "fuzzy", s, s - 1, None)
            calibrator.record(session, 0, "mlops", "llm", s, s, None)
    assert [calibrator.apply(0, "mlops", s, "fuzzy") for s in (2, 3, 4, 5)] == [1, 2, 3, 4]
    assert [calibrator.apply(0, "mlops", s, "llm") for s in (2, 3, 4, 5)] == [2, 3, 4, 5]
    assert calibrator.state(0, "mlops", "fuzzy").active
    assert not calibrator.state(0, "mlops", "llm").active
    assert calibrator.active_decks() == ["mlops"]
