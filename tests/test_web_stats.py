"""Stats (issue 5): the overall and per-deck pages with inline SVG charts, grader agreement
(on the page and as /metrics gauges), and the per-deck calibration switch."""

from __future__ import annotations

import re
from datetime import date

import pytest
from prometheus_client.parser import text_string_to_metric_families
from web_helpers import attempt, scored

from grader import load_deck
from web import charts as charts_module
from web.agreement import Scored, report
from web.storage.models import Attempt

CARD1 = "built-churn-prediction-model-subscription-service"
CARD2 = "trained-machine-learning-model-sagemaker-want"
SVG_CHART = re.compile(r'<svg class="chart [^"]*"[^>]*>.*?</svg>', re.S)


def full_answer(mlops_md, position: int) -> str:
    """Every reference point of the card: the grader suggests 5."""
    return " ".join(p.text for p in load_deck(mlops_md).card(str(position)).points)


@pytest.fixture
def four_scored(web_client, mlops_md):
    """A small history whose agreement is worked out by hand:

    card 1, empty answer (suggested 1): final 1 (0) and final 3 (+2)
    card 2, full answer  (suggested 5): final 4 (-1) and final 2 (-3)

    overall: 1 of 4 exact (25%), mean distance 6 / 4 = 1.5, of it 2 / 4 = 0.5 up and
    4 / 4 = 1.0 down (lower: twice as much down as up); mean final - suggested -0.5;
    card 1: 1 of 2 (50%), 1.00 all up; card 2: 0 of 2 (0%), 2.00 all down.
    """
    full = full_answer(mlops_md, 2)
    pairs = [("1", "", 1), ("1", "", 3), ("2", full, 4), ("2", full, 2)]
    made = [scored(web_client, card, text, final) for card, text, final in pairs]
    assert [a["score"] for a in made] == [1, 1, 5, 5]
    return made


def charts(html: str) -> list[str]:
    return SVG_CHART.findall(html)


def agreement_rows(html: str, heading: str) -> list[list[str]]:
    """The cells of the agreement table under ``<h3>{heading}</h3>``, tags stripped."""
    table = re.search(rf"<h3>{heading}</h3>.*?<tbody>(.*?)</tbody>", html, re.S)
    assert table, f"no table {heading!r}"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)
        ]
        for r in rows
    ]


def gauges(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith(("flashgrade_agreement", "flashgrade_calibration"))
        for s in family.samples
    }


# --- empty states -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/stats", "/decks/mlops/stats"])
def test_stats_without_history_is_an_empty_state(web_client, url):
    page = web_client.get(url)
    assert page.status_code == 200
    assert page.template.name == "stats.html"
    assert page.context["s"].empty and page.context["s"].attempts == 0
    panel = re.search(r'<section class="panel empty-state">(.*?)</section>', page.text, re.S)
    assert panel, "no empty state"
    assert '<svg viewBox="0 0 120 64" class="chart-ghost"' in panel.group(1)
    assert "<h2>No history yet</h2>" in panel.group(1)
    assert "appear here once you have practised a few cards" in panel.group(1)
    assert charts(page.text) == []  # no chart drawn from nothing


def test_charts_of_no_data_are_an_svg_holding_a_message():
    for chart in (
        charts_module.bar_chart([], chart_id="r", title="Reviews", desc="none", empty="No reviews"),
        charts_module.line_chart([], chart_id="m", title="Mastery", desc="none", empty="Nothing"),
        charts_module.score_bars([0] * 5, chart_id="s", title="Scores", desc="none"),
    ):
        assert chart.startswith('<svg class="chart ') and ' empty" ' in chart
        assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
        assert re.search(r'<text class="empty-text"[^>]*>[^<]+</text></svg>$', chart)


def test_deck_stats_without_history_invite_to_practise(web_client):
    page = web_client.get("/decks/mlops/stats")
    assert "Nothing has been answered in <strong>ML Ops Flashcards</strong> so far." in page.text
    assert 'href="/decks/mlops/practice">Start practising</a>' in page.text


def test_unscored_answers_show_charts_with_their_empty_message_inline(web_client):
    attempt(web_client, "1", "")
    page = web_client.get("/decks/mlops/stats")
    assert page.status_code == 200 and not page.context["s"].empty
    reviews, mastery = charts(page.text)  # the scores chart waits for a final score
    assert 'role="img"' in reviews and ">No reviews in these days</text>" in reviews
    assert ">No scored answers yet</text>" in mastery
    assert "No card has a final score yet" in page.text
    assert "No answer has a final score yet." in page.text


# --- figures ----------------------------------------------------------------------------------


def test_stats_show_reviews_per_day_in_the_chosen_window(web_client, four_scored):
    page = web_client.get("/decks/mlops/stats?days=7")
    s = page.context["s"]
    assert [n for _, n in s.reviews_per_day] == [0] * 6 + [4]
    assert s.reviews_per_day[-1][0] == s.today
    assert s.reviews_in_window == 4
    assert '<a href="?days=7" aria-current="page">7 days</a>' in page.text
    today = s.today
    [bar] = re.findall(r'<rect class="bar"[^>]*><title>([^<]*)</title></rect>', page.text)
    assert bar == f"{today:%a %-d %b %Y}: 4 reviews"
    assert f'<time datetime="{today.isoformat()}">' in page.text


def test_mastery_counts_cards_last_scored_4_or_5(web_client, mlops_md):
    scored(web_client, "3", full_answer(mlops_md, 3), 5)
    scored(web_client, "4", full_answer(mlops_md, 4), 4)
    scored(web_client, "5", "", 3)
    page = web_client.get("/decks/mlops/stats")
    s = page.context["s"]
    assert (s.mastered_now, s.cards) == (2, 7)
    assert s.mastery[-1] == (s.today, 2)
    assert "<dt>Mastered now</dt><dd>2<small> of 7</small></dd>" in page.text
    assert "now 2 (29%)." in page.context["mastery_chart"]


def test_weakest_cards_come_first_by_their_recent_scores(web_client, four_scored):
    page = web_client.get("/decks/mlops/stats")
    weakest = page.context["s"].weakest
    assert [(c.card_id, c.recent, c.scored) for c in weakest] == [(CARD1, 2.0, 2), (CARD2, 3.0, 2)]
    table = page.text.split('id="weak-h"', 1)[1].split("</table>", 1)[0]
    assert table.index(f"/cards/{CARD1}") < table.index(f"/cards/{CARD2}")
    assert '<span class="figure">2.0</span>' in table


def test_points_missed_most_often_are_listed_with_counts(web_client, four_scored, mlops_md):
    page = web_client.get("/decks/mlops/stats")
    missed = page.context["s"].missed
    card1 = load_deck(mlops_md).card("1")
    # the two empty answers missed every point of card 1; the full answers missed none
    assert [(p.card_id, p.point_id, p.missed, p.graded) for p in missed] == [
        (CARD1, point.id, 2, 2) for point in card1.points[:8]
    ]
    assert '<span class="pid">card 1 · 1.1</span> Package model with preprocessing' in page.text
    assert '<span class="figure">2 of 2</span>' in page.text


def test_an_unscored_attempt_followed_by_another_is_not_counted_again(web_client, four_scored):
    attempt(web_client, "1", "")  # sent, then sent again after Back and scored
    scored(web_client, "1", "", 1)
    missed = web_client.get("/decks/mlops/stats").context["s"].missed
    assert {(p.missed, p.graded) for p in missed} == {(3, 3)}


def test_an_attempt_left_unscored_still_counts_its_missed_points(web_client):
    attempt(web_client, "1", "")  # through the API, never scored
    missed = web_client.get("/decks/mlops/stats").context["s"].missed
    assert missed and {(p.missed, p.graded) for p in missed} == {(1, 1)}


def test_charts_are_inline_accessible_svg_without_script(web_client, four_scored):
    for url in ("/stats", "/decks/mlops/stats"):
        page = web_client.get(url)
        found = charts(page.text)
        assert len(found) == 3, url
        for svg in found:
            ids = re.search(r'aria-labelledby="([^" ]+) ([^"]+)"', svg)
            assert ids and 'role="img"' in svg
            assert f'<title id="{ids.group(1)}">' in svg and f'<desc id="{ids.group(2)}">' in svg
            assert "style=" not in svg and "<script" not in svg
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert not re.search(r"<[^>]+\son[a-z]+=", page.text)
        assert not re.search(r'(?:src|href)="https?://(?!testserver/)', page.text)  # no CDN


def test_overall_stats_cover_every_deck(web_client, four_scored):
    page = web_client.get("/stats")
    s = page.context["s"]
    assert (s.title, s.attempts, s.scored, s.cards) == ("All decks", 4, 4, 7)
    [line] = s.decks
    assert (line.deck_id, line.attempts, line.scored, line.mastered) == ("mlops", 4, 4, 0)
    assert "<h1>Stats · all decks</h1>" in page.text


@pytest.mark.parametrize("query", ["days=0", "days=366", "days=week"])
def test_bad_window_is_a_422_page(web_client, query):
    for url in ("/stats", "/decks/mlops/stats"):
        page = web_client.get(f"{url}?{query}")
        assert page.status_code == 422, url
        assert page.template.name == "error.html"


def test_stats_of_an_unknown_deck_is_a_404_page(web_client):
    page = web_client.get("/decks/nope/stats")
    assert page.status_code == 404
    assert page.template.name == "error.html"
    assert "no deck &#39;nope&#39;" in page.text


def test_stats_of_a_deck_whose_file_is_gone_still_show_its_history(
    web_client, web_app, decks_dir, four_scored
):
    (decks_dir / "mlops.md").unlink()
    web_app.state.catalog.refresh(force=True)
    page = web_client.get("/decks/mlops/stats")
    assert page.status_code == 200
    assert (page.context["s"].title, page.context["s"].scored) == ("mlops", 4)
    assert web_client.get("/stats").status_code == 200


# --- grader agreement -------------------------------------------------------------------------


def test_agreement_figures_worked_out_by_hand():
    rows = [
        Scored("mlops", "a", "fuzzy", suggested=1, grader=1, final=1),
        Scored("mlops", "a", "fuzzy", suggested=1, grader=1, final=3),
        Scored("mlops", "b", "fuzzy", suggested=5, grader=5, final=4),
        Scored("other", "c", "llm", suggested=4, grader=3, final=2),
    ]
    r = report(rows)
    assert (r.overall.n, r.overall.exact, r.overall.signed_sum) == (4, 1, -1)
    assert r.overall.exact_rate == 0.25 and r.overall.mean_signed == -0.25
    assert r.overall.mean_abs == 5 / 4
    assert r.overall.grader_exact_rate == 0.25 and r.overall.grader_mean_signed == 0.0
    assert (r.overall.up_mean, r.overall.down_mean) == (0.5, 0.75)
    assert r.overall.verdict == "you score both higher and lower than the grader"
    assert {k: (a.n, a.exact_rate, a.mean_signed) for k, a in r.by_deck.items()} == {
        "mlops": (3, 1 / 3, 1 / 3),
        "other": (1, 0.0, -2.0),
    }
    assert {k: (a.n, a.exact_rate, a.mean_signed) for k, a in r.by_card.items()} == {
        ("mlops", "a"): (2, 0.5, 1.0),
        ("mlops", "b"): (1, 0.0, -1.0),
        ("other", "c"): (1, 0.0, -2.0),
    }
    assert list(r.by_method) == ["fuzzy", "llm"]
    assert (r.by_method["fuzzy"].mean_signed, r.by_method["llm"].mean_signed) == (1 / 3, -2.0)
    assert r.by_deck["mlops"].verdict == "you score higher than the grader"
    assert r.by_deck["other"].verdict == "you score lower than the grader"
    assert r.by_method["llm"].calibrated and not r.by_method["fuzzy"].calibrated


def test_deck_stats_show_agreement_overall_by_method_and_by_card(web_client, four_scored):
    page = web_client.get("/decks/mlops/stats")
    ag = page.context["s"].agreement
    assert (ag.overall.n, ag.overall.exact_rate, ag.overall.mean_signed) == (4, 0.25, -0.5)
    assert ag.overall.mean_abs == 1.5
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "You agree with the grader on 25% of answers (1 of 4 scored)." in text
    assert (
        "Your score is on average 1.50 levels from the suggestion: 0.50 up and 1.00 down. "
        "You score lower than the grader." in text
    )
    assert agreement_rows(page.text, "By grading method") == [
        ["fuzzy matching", "4", "25%", "1.50 (+0.50 / −1.00)", "lower"]
    ]
    by_card = agreement_rows(page.text, "By card")
    assert [row[0][:3] for row in by_card] == ["1. ", "2. "]
    assert [row[1:] for row in by_card] == [
        ["2", "50%", "1.00 (+1.00 / 0)", "higher"],
        ["2", "0%", "2.00 (0 / −2.00)", "lower"],
    ]


def test_overall_stats_show_agreement_by_deck(web_client, four_scored):
    page = web_client.get("/stats")
    assert agreement_rows(page.text, "By deck") == [
        ["ML Ops Flashcards", "4", "25%", "1.50 (+0.50 / −1.00)", "lower", "–"]
    ]
    assert 'href="/decks/mlops/stats">ML Ops Flashcards</a>' in page.text


def test_agreement_is_split_by_grading_method(web_client, web_app, mlops_md):
    full = full_answer(mlops_md, 2)
    for card, text, final in [("1", "", 1), ("1", "", 3), ("2", full, 4)]:
        scored(web_client, card, text, final)
    last = attempt(web_client, "2", full)
    with web_app.state.store.write() as session:  # as if the LLM rubric had graded it
        session.get(Attempt, last["attempt_id"]).method = "llm"
    web_client.post(f"/api/attempts/{last['attempt_id']}/score", json={"score": 2})
    page = web_client.get("/decks/mlops/stats")
    assert agreement_rows(page.text, "By grading method") == [
        ["fuzzy matching", "3", "33%", "1.00 (+0.67 / −0.33)", "higher"],
        ["LLM rubric", "1", "0%", "3.00 (0 / −3.00)", "lower"],
    ]


def test_metrics_expose_agreement_gauges_by_deck_and_method(
    web_client, web_app, four_scored, mlops_md
):
    fuzzy = (("deck", "mlops"), ("method", "fuzzy"))
    g = gauges(web_client)
    assert g[("flashgrade_agreement_scored_attempts", fuzzy)] == 4
    assert g[("flashgrade_agreement_exact_ratio", fuzzy)] == 0.25
    assert g[("flashgrade_agreement_mean_signed_difference", fuzzy)] == -0.5
    assert g[("flashgrade_agreement_mean_absolute_difference", fuzzy)] == 1.5
    assert g[("flashgrade_agreement_grader_exact_ratio", fuzzy)] == 0.25
    assert not any(name == "flashgrade_calibration_active" for name, _ in g)

    last = attempt(web_client, "2", full_answer(mlops_md, 2))
    with web_app.state.store.write() as session:  # as if the LLM rubric had graded it
        session.get(Attempt, last["attempt_id"]).method = "llm"
    web_client.post(f"/api/attempts/{last['attempt_id']}/score", json={"score": 2})
    g = gauges(web_client)
    llm = (("deck", "mlops"), ("method", "llm"))
    assert g[("flashgrade_agreement_scored_attempts", fuzzy)] == 4
    assert g[("flashgrade_agreement_scored_attempts", llm)] == 1
    assert g[("flashgrade_agreement_exact_ratio", llm)] == 0.0
    assert g[("flashgrade_agreement_mean_signed_difference", llm)] == -3.0


def test_metrics_without_scores_declare_the_gauges_without_samples(web_client):
    attempt(web_client, "1", "")  # not scored: not in the agreement
    text = web_client.get("/metrics").text
    assert "# TYPE flashgrade_agreement_exact_ratio gauge" in text
    assert gauges(web_client) == {}


# --- the calibration switch -------------------------------------------------------------------


def calibration_form(page) -> dict[str, str]:
    form = re.search(r'<form method="post" action="([^"]+/calibration)".*?</form>', page.text, re.S)
    assert form, "no calibration form"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))


def test_calibration_switch_without_csrf_token_is_403_and_changes_nothing(web_client, web_app):
    page = web_client.post("/decks/mlops/calibration", data={"enabled": "false"})
    assert page.status_code == 403
    assert page.template.name == "error.html"
    assert web_app.state.calibrator.state(0, "mlops").enabled is True


def test_calibration_switch_is_stored_and_survives_a_restart(
    web_client, web_app, web_settings, four_scored
):
    page = web_client.get("/decks/mlops/stats")
    fields = calibration_form(page)
    assert fields["enabled"] == "false"  # on by default: the button turns it off
    switched = web_client.post("/decks/mlops/calibration", data=fields, follow_redirects=False)
    assert switched.status_code == 303
    assert switched.headers["location"] == "/decks/mlops/stats#calibration"
    assert web_app.state.calibrator.state(0, "mlops").enabled is False
    after = web_client.get("/decks/mlops/stats")
    assert "Turn calibration on for this deck" in after.text
    assert calibration_form(after)["enabled"] == "true"

    from fastapi.testclient import TestClient

    from web.app import create_app

    restarted = create_app(web_settings)  # a new app on the same database
    assert restarted.state.calibrator.state(0, "mlops").enabled is False
    with TestClient(restarted) as client:
        assert "Off for this deck." in client.get("/decks/mlops/stats").text


def test_calibration_switch_for_an_unknown_deck_is_a_404_page(web_client, web_app, form_token):
    token = form_token(web_client.get("/upload").text)
    page = web_client.post("/decks/nope/calibration", data={"csrf_token": token, "enabled": "0"})
    assert page.status_code == 404 and page.template.name == "error.html"
    assert web_app.state.calibrator.state(0, "nope").enabled is True


def test_stats_page_explains_how_far_calibration_is(web_client, four_scored):
    page = web_client.get("/decks/mlops/stats")
    state = page.context["calibration"]
    assert (state.overrides, state.needed) == (3, 12)
    assert "Once this deck has 15 overrides" in page.text and "3 so far, 12 to go." in page.text


def test_today_is_the_last_day_of_the_window(web_client):
    s = web_client.get("/stats?days=30").context["s"]
    assert len(s.reviews_per_day) == 30 and len(s.mastery) == 30
    assert s.reviews_per_day[-1][0] == s.today and isinstance(s.today, date)


# --- wording and honesty (issue 16) -----------------------------------------------------------


def test_ups_and_downs_that_cancel_are_not_called_agreement(web_client, mlops_md):
    full = full_answer(mlops_md, 2)
    for card, text, final in [("1", "", 3), ("2", full, 3), ("1", "", 1), ("2", full, 5)]:
        scored(web_client, card, text, final)  # +2, -2, 0, 0: a mean of 0, half of them exact
    page = web_client.get("/decks/mlops/stats")
    ag = page.context["s"].agreement.overall
    assert (ag.mean_signed, ag.mean_abs, ag.up_mean, ag.down_mean) == (0.0, 1.0, 0.5, 0.5)
    text = re.sub(r"<[^>]+>", "", page.text)
    assert "You agree with the grader on 50% of answers (2 of 4 scored)." in text
    assert "You score both higher and lower than the grader." in text
    assert "agree on average" not in text and "You are" not in text


def test_the_score_chart_has_a_visible_title(web_client, four_scored):
    page = web_client.get("/decks/mlops/stats")
    figure = re.search(r'<figure class="chart-figure">(.*?)</figure>', page.text, re.S)
    assert figure
    assert '<figcaption id="scores-h" class="chart-title">Final scores given</figcaption>' in (
        figure.group(1)
    )
    assert '<svg class="chart ' in figure.group(1)


def test_points_missed_equally_often_are_listed_in_deck_order(web_client, mlops_md):
    for position in (3, 1, 2):  # answered out of deck order, each left empty and scored 1
        scored(web_client, str(position), "", 1)
    missed = web_client.get("/decks/mlops/stats").context["s"].missed
    deck = load_deck(mlops_md)
    expected = [(c.id, p.id) for c in deck.cards[:3] for p in c.points][:8]
    assert [(p.card_id, p.point_id) for p in missed] == expected


def test_points_missed_count_only_answers_scored_3_or_less(web_client):
    scored(web_client, "1", "", 5)  # the person says the grader was wrong: nothing was missed
    scored(web_client, "1", "", 3)
    missed = web_client.get("/decks/mlops/stats").context["s"].missed
    assert missed and {(p.missed, p.graded) for p in missed} == {(1, 2)}
