"""History (issue 5): GET /api/attempts and its CSV export, and the history page with its
filters by deck, card and "overridden only", a page at a time."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

import pytest
from web_helpers import attempt, scored

from web.storage.models import Attempt

CARD1 = "built-churn-prediction-model-subscription-service"
CARD2 = "trained-machine-learning-model-sagemaker-want"
HEADER = ["attempt_id", "deck", "card", "answer", "suggested", "final", "created_at"]
TRICKY = 'one, two; a "quoted" word\nand a second line — café ✓'


def csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")  # strict: the export is UTF-8
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in reader]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return [row["attempt_id"] for row in response.json()]


# --- the CSV export ---------------------------------------------------------------------------


def test_csv_round_trips_an_answer_with_comma_quote_newline_and_non_ascii(web_client):
    a = scored(web_client, "1", TRICKY, 4)
    [row] = csv_rows(web_client.get("/api/attempts.csv"))
    assert row["answer"] == TRICKY
    assert row["attempt_id"] == str(a["attempt_id"])
    assert (row["deck"], row["card"]) == ("mlops", CARD1)
    assert (row["suggested"], row["final"]) == (str(a["score"]), "4")
    created = datetime.fromisoformat(row["created_at"])
    assert created.tzinfo is not None
    assert created == datetime.fromisoformat(
        web_client.get("/api/attempts").json()[0]["created_at"]
    )


def test_csv_is_offered_as_a_download(web_client):
    response = web_client.get("/api/attempts.csv")
    assert response.headers["content-disposition"] == (
        'attachment; filename="flashgrade-attempts.csv"'
    )


def test_csv_without_attempts_is_only_the_header(web_client):
    assert csv_rows(web_client.get("/api/attempts.csv")) == []


def test_csv_unscored_attempt_has_an_empty_final(web_client):
    attempt(web_client)
    [row] = csv_rows(web_client.get("/api/attempts.csv"))
    assert (row["suggested"], row["final"]) == ("1", "")


def test_csv_rows_are_those_of_the_json_api_newest_first(web_client):
    for card in ("1", "2", "3"):
        attempt(web_client, card, f"answer to {card}")
    rows = csv_rows(web_client.get("/api/attempts.csv"))
    api = web_client.get("/api/attempts").json()
    assert [r["attempt_id"] for r in rows] == ["3", "2", "1"]
    assert [r["answer"] for r in rows] == [r["answer"] for r in api]


def test_csv_filters_by_deck_and_card_id_or_position(web_client):
    for card in ("1", "2", "1"):
        attempt(web_client, card)
    assert [r["attempt_id"] for r in csv_rows(web_client.get("/api/attempts.csv?deck=mlops"))] == [
        "3",
        "2",
        "1",
    ]
    by_position = csv_rows(web_client.get("/api/attempts.csv?deck=mlops&card=2"))
    by_id = csv_rows(web_client.get(f"/api/attempts.csv?deck=mlops&card={CARD2}"))
    assert by_position == by_id
    assert [(r["attempt_id"], r["card"]) for r in by_id] == [("2", CARD2)]


def test_csv_streams_a_long_history_completely(web_client, web_app):
    attempt(web_client, answer=TRICKY)
    with web_app.state.store.read() as session:
        first = session.get(Attempt, 1)
        row = {c.name: getattr(first, c.name) for c in Attempt.__table__.columns if c.name != "id"}
    with web_app.state.store.write() as session:
        # several chunks of the streamed response
        session.add_all([Attempt(**row) for _ in range(449)])
    rows = csv_rows(web_client.get("/api/attempts.csv"))
    assert [r["attempt_id"] for r in rows] == [str(n) for n in range(450, 0, -1)]
    assert all(r["answer"] == TRICKY for r in rows)


def test_csv_of_an_unknown_deck_is_a_json_404(web_client):
    response = web_client.get("/api/attempts.csv?deck=nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "no deck 'nope'"}


# --- GET /api/attempts ------------------------------------------------------------------------


def test_attempts_page_through_with_limit_and_offset_newest_first(web_client):
    for _ in range(5):
        attempt(web_client)
    assert ids(web_client.get("/api/attempts")) == [5, 4, 3, 2, 1]
    assert ids(web_client.get("/api/attempts?limit=2")) == [5, 4]
    assert ids(web_client.get("/api/attempts?limit=2&offset=2")) == [3, 2]
    assert ids(web_client.get("/api/attempts?limit=2&offset=4")) == [1]
    assert ids(web_client.get("/api/attempts?offset=5")) == []


def test_attempt_rows_have_the_documented_fields(web_client):
    a = scored(web_client, "2", "an answer", 3)
    [row] = web_client.get("/api/attempts").json()
    assert set(row) == set(HEADER)
    assert row["attempt_id"] == a["attempt_id"] and row["card"] == CARD2
    assert (row["suggested"], row["final"]) == (a["score"], 3)


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("limit=0", "limit: Input should be greater than or equal to 1"),
        ("limit=10001", "limit: Input should be less than or equal to 10000"),
        ("limit=ten", "limit: Input should be a valid integer"),
        ("offset=-1", "offset: Input should be greater than or equal to 0"),
    ],
)
def test_bad_paging_is_422_saying_what_is_wrong(web_client, query, detail):
    response = web_client.get(f"/api/attempts?{query}")
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_largest_limit_is_accepted(web_client):
    attempt(web_client)
    assert ids(web_client.get("/api/attempts?limit=10000")) == [1]


def test_unknown_deck_filter_is_404_like_every_unknown_deck(web_client):
    # DESIGN.md: `deck` takes ids and bad input gets a 4xx with a detail
    response = web_client.get("/api/attempts?deck=nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "no deck 'nope'"}


def test_unknown_card_of_a_known_deck_filters_to_nothing(web_client):
    attempt(web_client)
    assert ids(web_client.get("/api/attempts?deck=mlops&card=no-such-card")) == []


def test_history_of_a_deck_whose_file_is_gone_stays_listable(web_client, web_app, decks_dir):
    attempt(web_client)
    (decks_dir / "mlops.md").unlink()
    web_app.state.catalog.refresh(force=True)
    assert web_client.get("/api/decks").json() == []
    assert ids(web_client.get("/api/attempts?deck=mlops")) == [1]
    assert [r["card"] for r in csv_rows(web_client.get("/api/attempts.csv?deck=mlops"))] == [CARD1]
    page = web_client.get("/history?deck=mlops")
    assert page.status_code == 200 and page.context["result"].total == 1
    assert "mlops (file gone)" in page.text


# --- the history page -------------------------------------------------------------------------


def history_rows(page) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", page.text, re.S)
    assert body, "no table on the page"
    return re.findall(r"<tr[^>]*>.*?</tr>", body.group(1), re.S)


def test_history_lists_attempts_with_answer_scores_method_and_date(web_client):
    agreed = scored(web_client, "1", "", 1)
    overridden = scored(web_client, "2", "Use a SageMaker endpoint & autoscaling", 4)
    page = web_client.get("/history")
    assert page.status_code == 200
    assert page.template.name == "history.html"
    result = page.context["result"]
    assert [a.id for a in result.rows] == [overridden["attempt_id"], agreed["attempt_id"]]
    assert [(a.suggested, a.final, a.method) for a in result.rows] == [
        (overridden["score"], 4, "fuzzy"),
        (1, 1, "fuzzy"),
    ]
    newest, oldest = history_rows(page)
    assert 'class="overridden"' in newest
    assert "Use a SageMaker endpoint &amp; autoscaling" in newest
    assert f'<span class="score s{overridden["score"]}">{overridden["score"]}</span>' in newest
    assert '<span class="score s4">4</span>' in newest
    assert f'<span class="delta up">+{4 - overridden["score"]}</span>' in newest
    assert '<td class="method">fuzzy</td>' in newest
    assert "<time datetime=" in newest
    assert 'class="overridden"' not in oldest and '<span class="muted">(empty)</span>' in oldest
    assert "2 attempts · showing 1–2, newest first" in page.text


def test_history_shows_an_unscored_attempt_without_a_final_score(web_client):
    attempt(web_client)
    [row] = history_rows(web_client.get("/history"))
    assert '<span class="muted" title="not scored yet">–</span>' in row


def test_history_escapes_answers(web_client):
    attempt(web_client, answer="<script>alert(1)</script>")
    page = web_client.get("/history")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_history_is_empty_before_any_answer(web_client):
    page = web_client.get("/history")
    assert page.status_code == 200
    assert page.context["result"].total == 0
    assert "No attempts yet" in page.text


def test_history_filters_by_deck_and_card_position_or_id(web_client):
    for card in ("1", "2", "1"):
        attempt(web_client, card)
    page = web_client.get("/history?deck=mlops&card=2")
    assert [a.card_id for a in page.context["result"].rows] == [CARD2]
    assert page.context["selected_card"] == CARD2
    assert page.context["deck"].id == "mlops"
    assert f'<option value="{CARD2}" selected>2. ' in page.text
    assert page.context["csv_url"] == "/api/attempts.csv?deck=mlops&card=2"
    by_id = web_client.get(f"/history?deck=mlops&card={CARD1}")
    assert [a.id for a in by_id.context["result"].rows] == [3, 1]


def test_history_overridden_only_hides_agreed_and_unscored_attempts(web_client):
    scored(web_client, "1", "", 1)  # agreed
    lenient = scored(web_client, "1", "", 3)  # 1 -> 3
    attempt(web_client, "2")  # not scored
    page = web_client.get("/history?overridden=1")
    assert [a.id for a in page.context["result"].rows] == [lenient["attempt_id"]]
    assert page.context["filters"].overridden is True
    assert "1 attempt whose final score differs from the suggestion" in page.text
    assert '<input type="checkbox" name="overridden" value="1" checked>' in page.text


def test_history_filters_that_match_nothing_say_so(web_client):
    scored(web_client, "1", "", 1)
    page = web_client.get("/history?deck=mlops&overridden=1")
    assert page.status_code == 200 and page.context["result"].total == 0
    assert "No attempts match these filters" in page.text


def test_history_pages_25_attempts_at_a_time_with_links_keeping_the_filters(web_client):
    for _ in range(27):
        attempt(web_client)
    first = web_client.get("/history?deck=mlops")
    result = first.context["result"]
    assert (result.total, result.pages, len(result.rows)) == (27, 2, 25)
    assert result.rows[0].id == 27
    assert '<a class="button small" href="/history?deck=mlops&amp;page=2" rel="next">' in first.text
    assert 'rel="prev"' not in first.text
    assert "Page 1 of 2" in first.text

    second = web_client.get("/history?deck=mlops&page=2")
    assert [a.id for a in second.context["result"].rows] == [2, 1]
    assert (
        '<a class="button small" href="/history?deck=mlops&amp;page=1" rel="prev">' in second.text
    )
    assert 'rel="next"' not in second.text
    assert "showing 26–27" in second.text


def test_history_page_past_the_end_shows_the_last_page(web_client):
    attempt(web_client)
    page = web_client.get("/history?page=99")
    assert page.status_code == 200
    assert page.context["result"].page == 1 and len(page.context["result"].rows) == 1


@pytest.mark.parametrize("query", ["page=0", "page=abc", "overridden=maybe", "deck=" + "x" * 201])
def test_history_bad_query_is_a_422_page(web_client, query):
    page = web_client.get(f"/history?{query}")
    assert page.status_code == 422
    assert page.template.name == "error.html"


def test_history_of_an_unknown_deck_is_a_404_page(web_client):
    page = web_client.get("/history?deck=nope")
    assert page.status_code == 404
    assert page.template.name == "error.html"
    assert "no deck &#39;nope&#39;" in page.text


def test_overridden_only_filters_the_api_and_the_csv_export(web_client):
    scored(web_client, "1", "", 1)  # agreed
    overridden = scored(web_client, "2", "", 3)
    attempt(web_client, "3", "")  # not scored
    rows = web_client.get("/api/attempts?overridden=true").json()
    assert [r["attempt_id"] for r in rows] == [overridden["attempt_id"]]
    assert [
        r["attempt_id"] for r in csv_rows(web_client.get("/api/attempts.csv?overridden=1"))
    ] == [str(overridden["attempt_id"])]
    page = web_client.get("/history?deck=mlops&overridden=1")
    assert 'href="/api/attempts.csv?deck=mlops&amp;overridden=1"' in page.text


def test_the_card_hint_is_there_for_the_script_and_hidden_once_a_deck_is_chosen(web_client):
    attempt(web_client, "1", "Retrain the model.")
    page = web_client.get("/history").text
    assert '<select id="f-card" name="card" disabled aria-describedby="card-hint">' in page
    assert '<span id="card-hint" class="hint">Choose a deck' in page
    chosen = web_client.get("/history?deck=mlops").text
    assert '<span id="card-hint" class="hint" hidden>' in chosen
