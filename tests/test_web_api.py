"""The JSON API of DESIGN.md, its errors, metrics and OpenAPI document."""

from __future__ import annotations

import csv
import io
import json

import pytest

CARD1 = "built-churn-prediction-model-subscription-service"
ANSWER = "Package the model with preprocessing and test the inference pipeline."


def attempt(client, card="1", answer=ANSWER, **extra):
    response = client.post(
        "/api/attempts", json={"deck": "mlops", "card": card, "answer": answer, **extra}
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_healthz(web_client):
    assert web_client.get("/healthz").json() == {"status": "ok"}


def test_decks_list_counts(web_client):
    assert web_client.get("/api/decks").json() == [
        {"id": "mlops", "title": "ML Ops Flashcards", "card_count": 7, "due": 0, "new": 7}
    ]


def test_deck_detail_lists_cards_in_order_with_due(web_client):
    deck = web_client.get("/api/decks/mlops").json()
    assert deck["id"] == "mlops" and deck["title"] == "ML Ops Flashcards"
    assert [c["position"] for c in deck["cards"]] == [1, 2, 3, 4, 5, 6, 7]
    assert deck["cards"][0]["id"] == CARD1
    assert all(c["due"] is None for c in deck["cards"])


@pytest.mark.parametrize("url", ["/api/decks/nope", "/api/decks/nope/next"])
def test_unknown_deck_is_json_404(web_client, url):
    response = web_client.get(url)
    assert response.status_code == 404
    assert response.json() == {"detail": "no deck 'nope'"}


def test_a_deck_whose_file_cannot_be_read_is_a_404_that_says_why(web_client, web_app, decks_dir):
    (decks_dir / "broken.md").write_text("# Broken\n\ntext before any card\n", encoding="utf-8")
    web_app.state.catalog.refresh(force=True)
    response = web_client.get("/api/decks/broken")
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert detail.startswith("no deck 'broken' (its file cannot be read: ")
    assert "broken.md:3: text before the first card" in detail


def test_next_is_the_first_new_card(web_client):
    assert web_client.get("/api/decks/mlops/next").json()["id"] == CARD1


def test_next_skips_a_card_just_scored(web_client):
    a = attempt(web_client)
    web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": 4})
    assert web_client.get("/api/decks/mlops/next").json()["position"] == 2


def test_grade_returns_the_grade_object_and_stores_nothing(web_client):
    response = web_client.post("/api/grade", json={"deck": "mlops", "card": 1, "answer": ANSWER})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "score",
        "coverage",
        "method",
        "points",
        "missing",
        "warnings",
        "grader_version",
    }
    assert 1 <= body["score"] <= 5 and body["method"] == "fuzzy"
    assert set(body["points"][0]) == {"id", "section", "text", "status", "evidence", "contradicted"}
    assert web_client.get("/api/attempts").json() == []


def test_grade_accepts_card_id_or_position(web_client):
    by_id = web_client.post("/api/grade", json={"deck": "mlops", "card": CARD1, "answer": ANSWER})
    by_pos = web_client.post("/api/grade", json={"deck": "mlops", "card": "1", "answer": ANSWER})
    assert by_id.json() == by_pos.json()


def test_empty_answer_is_graded_one_with_a_warning(web_client):
    body = web_client.post("/api/grade", json={"deck": "mlops", "card": 1, "answer": ""}).json()
    assert body["score"] == 1 and body["warnings"]


def test_attempt_is_stored_and_returned_with_its_grade(web_client):
    a = attempt(web_client, seconds=12.5)
    assert a["attempt_id"] == 1 and 1 <= a["score"] <= 5
    [row] = web_client.get("/api/attempts").json()
    assert row["attempt_id"] == 1 and row["card"] == CARD1 and row["answer"] == ANSWER
    assert row["suggested"] == a["score"] and row["final"] is None


def test_score_sets_final_and_next_due(web_client):
    a = attempt(web_client)
    response = web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": 5})
    body = response.json()
    assert response.status_code == 200
    assert body["attempt_id"] == a["attempt_id"] and body["final"] == 5
    assert body["suggested"] == a["score"] and body["next_due"]
    assert web_client.get("/api/attempts").json()[0]["final"] == 5


def test_rescoring_replaces_the_final_score(web_client):
    a = attempt(web_client)
    web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": 5})
    web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": 2})
    assert web_client.get("/api/attempts").json()[0]["final"] == 2


def test_attempts_newest_first_with_filters_limit_offset(web_client):
    for card in ("1", "2", "1"):
        attempt(web_client, card=card)
    ids = [r["attempt_id"] for r in web_client.get("/api/attempts").json()]
    assert ids == [3, 2, 1]
    assert [r["attempt_id"] for r in web_client.get("/api/attempts?deck=mlops&card=1").json()] == [
        3,
        1,
    ]
    assert [
        r["attempt_id"] for r in web_client.get(f"/api/attempts?deck=mlops&card={CARD1}").json()
    ] == [3, 1]
    assert [r["attempt_id"] for r in web_client.get("/api/attempts?limit=1&offset=1").json()] == [2]


@pytest.mark.parametrize("query", ["limit=0", "limit=10001", "offset=-1", "limit=abc"])
def test_attempts_bad_paging_is_422(web_client, query):
    response = web_client.get(f"/api/attempts?{query}")
    assert response.status_code == 422 and response.json()["detail"]


def test_attempts_of_unknown_deck_is_404(web_client):
    assert web_client.get("/api/attempts?deck=nope").status_code == 404


def test_csv_export_has_header_and_quotes_answers(web_client):
    tricky = 'a comma, a "quote"\nand a newline'
    attempt(web_client, answer=tricky)
    response = web_client.get("/api/attempts.csv?deck=mlops")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "attempt_id",
        "deck",
        "card",
        "answer",
        "suggested",
        "final",
        "created_at",
    ]
    assert rows[0]["answer"] == tricky and rows[0]["final"] == ""


@pytest.mark.parametrize(
    "answer", ["=1+2", "+1+2", "-1+2", "@SUM(A1)", "\t=1+2", "\r=1+2", '=HYPERLINK("http://x")']
)
def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_start_with_a_quote(web_client, answer):
    attempt(web_client, answer=answer)
    [row] = csv.DictReader(io.StringIO(web_client.get("/api/attempts.csv").text))
    assert row["answer"] == "'" + answer
    assert web_client.get("/api/attempts").json()[0]["answer"] == answer  # JSON stays as is


def test_csv_cells_with_a_formula_character_inside_stay_as_they_are(web_client):
    attempt(web_client, answer="a = b + c - d @ e")
    [row] = csv.DictReader(io.StringIO(web_client.get("/api/attempts.csv").text))
    assert row["answer"] == "a = b + c - d @ e"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"deck": "nope", "card": "1", "answer": "x"}, "no deck 'nope'"),
        ({"deck": "mlops", "card": "99", "answer": "x"}, "no card '99'"),
        ({"deck": "mlops", "card": "no-such-card", "answer": "x"}, "no card 'no-such-card'"),
        ({"deck": "mlops", "card": "²", "answer": "x"}, "no card '²'"),  # isdigit, not int
        ({"deck": "mlops", "card": "1" * 5000, "answer": "x"}, "no card '111"),  # int() refuses
    ],
)
@pytest.mark.parametrize("url", ["/api/grade", "/api/attempts"])
def test_unknown_deck_or_card_is_404(web_client, url, body, detail):
    response = web_client.post(url, json=body)
    assert response.status_code == 404
    assert response.json()["detail"].startswith(detail)


def test_unknown_attempt_is_404(web_client):
    response = web_client.post("/api/attempts/999/score", json={"score": 3})
    assert response.status_code == 404 and response.json() == {"detail": "no attempt 999"}


@pytest.mark.parametrize("url", ["/api/grade", "/api/attempts", "/api/attempts/1/score"])
def test_malformed_json_is_422_with_detail(web_client, url):
    response = web_client.post(
        url, content=b'{"deck": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("malformed JSON")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"deck": "mlops", "card": ' + b"1" * 5000 + b', "answer": "x"}', "too many digits"),
        (b"[" * 100_000, "nested too deeply"),
    ],
)
def test_json_that_json_loads_refuses_is_422_saying_why(web_client, body, detail):
    response = web_client.post(
        "/api/grade", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and detail in response.json()["detail"]


@pytest.mark.parametrize("card", [True, 1.0, None])
def test_a_card_that_is_not_an_id_or_a_position_is_422(web_client, card):
    response = web_client.post("/api/attempts", json={"deck": "mlops", "card": card, "answer": "x"})
    assert response.status_code == 422 and "card" in response.json()["detail"]
    assert web_client.get("/api/attempts").json() == []


def test_missing_field_is_422_naming_it(web_client):
    response = web_client.post("/api/grade", json={"deck": "mlops", "card": "1"})
    assert response.status_code == 422 and response.json() == {"detail": "answer: Field required"}


@pytest.mark.parametrize("score", [0, 6, -1, 4.5, "4", True, None])
def test_bad_score_is_422(web_client, score):
    a = attempt(web_client)
    response = web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": score})
    assert response.status_code == 422 and "score" in response.json()["detail"]


def test_bad_seconds_is_422(web_client):
    body = {"deck": "mlops", "card": "1", "answer": "x", "seconds": -3}
    assert web_client.post("/api/attempts", json=body).status_code == 422


@pytest.mark.parametrize("url", ["/api/grade", "/api/attempts"])
def test_answer_over_the_limit_is_413(web_client, url):
    body = {"deck": "mlops", "card": "1", "answer": "x" * 20_001}
    response = web_client.post(url, json=body)
    assert response.status_code == 413
    assert response.json() == {"detail": "answer is 20,001 characters long; the limit is 20,000"}
    assert web_client.get("/api/attempts").json() == []


def test_answer_at_the_limit_is_accepted(web_client):
    body = {"deck": "mlops", "card": "1", "answer": "word " * 4_000}
    assert web_client.post("/api/grade", json=body).status_code == 200


def test_an_answer_at_the_limit_in_escaped_json_is_accepted(web_client):
    # json.dumps escapes each emoji as a surrogate pair: 12 bytes for one character
    body = json.dumps({"deck": "mlops", "card": "1", "answer": "😀" * 20_000}).encode()
    response = web_client.post(
        "/api/grade", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200


def test_huge_body_is_413_before_parsing(web_client):
    body = b'{"deck": "mlops", "card": "1", "answer": "' + b"x" * 1_000_000 + b'"}'
    response = web_client.post(
        "/api/grade", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and "too large" in response.json()["detail"]


def test_form_post_to_api_is_refused(web_client):
    response = web_client.post("/api/attempts", data={"deck": "mlops", "card": "1", "answer": "x"})
    assert response.status_code == 415
    assert web_client.get("/api/attempts").json() == []


def test_huge_attempt_id_is_422_not_500(web_client):
    response = web_client.post(f"/api/attempts/{10**30}/score", json={"score": 3})
    assert response.status_code == 422


def test_lone_surrogate_in_answer_is_422(web_client):
    body = b'{"deck": "mlops", "card": "1", "answer": "\\ud800"}'
    response = web_client.post(
        "/api/attempts", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


@pytest.mark.parametrize("url", ["/api/nothing", "/api"])
def test_unknown_api_path_is_json_404(web_client, url):
    response = web_client.get(url)
    assert response.status_code == 404 and response.json()["detail"]


@pytest.mark.parametrize("url", ["/healthz", "/api/decks", "/", "/decks/mlops"])
def test_head_is_answered_wherever_get_is_without_a_body(web_client, url):
    got = web_client.get(url)
    head = web_client.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == got.headers["content-type"]
    assert head.headers["content-security-policy"] == got.headers["content-security-policy"]


def test_head_requests_are_timed_under_their_route(web_client):
    web_client.head("/healthz")
    text = web_client.get("/metrics").text
    assert 'method="HEAD",route="/healthz",status="200"' in text


def test_head_of_a_post_only_route_is_405(web_client):
    assert web_client.head("/api/grade").status_code == 405


def test_api_responses_carry_security_headers(web_client):
    response = web_client.get("/api/decks")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_metrics_count_grades_overrides_and_latency_by_route(web_client):
    a = attempt(web_client)
    web_client.post("/api/grade", json={"deck": "mlops", "card": "1", "answer": ANSWER})
    override = 5 if a["score"] != 5 else 1
    web_client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": override})
    text = web_client.get("/metrics").text
    assert 'flashgrade_grades_total{method="fuzzy"} 2.0' in text
    direction = "up" if override > a["score"] else "down"
    assert f'flashgrade_overrides_total{{direction="{direction}"}} 1.0' in text
    assert 'route="/api/attempts/{attempt_id}/score"' in text
    assert "flashgrade_http_request_duration_seconds_count" in text


def test_metrics_registry_is_per_app(web_settings, tmp_path):
    from web.app import create_app

    first, second = create_app(web_settings), create_app(web_settings)
    first.state.metrics.grades.labels("fuzzy").inc()
    assert first.state.metrics.registry is not second.state.metrics.registry
    assert b'flashgrade_grades_total{method="fuzzy"} 0.0' in second.state.metrics.exposition()


def test_openapi_documents_every_api_route_with_a_response_model(web_client):
    spec = web_client.get("/openapi.json").json()
    routes = {
        ("get", "/healthz"),
        ("get", "/api/decks"),
        ("get", "/api/decks/{deck}"),
        ("get", "/api/decks/{deck}/next"),
        ("post", "/api/grade"),
        ("post", "/api/attempts"),
        ("post", "/api/attempts/{attempt_id}/score"),
        ("get", "/api/attempts"),
        ("get", "/api/attempts.csv"),
        ("get", "/metrics"),
    }
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert routes <= documented
    for method, path in routes - {("get", "/api/attempts.csv"), ("get", "/metrics")}:
        responses = spec["paths"][path][method]["responses"]
        ok = responses.get("200") or responses.get("201")
        assert "schema" in ok["content"]["application/json"], (method, path)
    assert not any(p.startswith("/decks") for p in spec["paths"])  # pages stay out


def test_grade_and_attempt_bodies_match_their_documented_models(web_client):
    from web.routes.schemas import AttemptOut, GradeOut

    body = {"deck": "mlops", "card": "1", "answer": ANSWER}
    graded = web_client.post("/api/grade", json=body).json()
    assert GradeOut.model_validate(graded).model_dump(mode="json") == graded
    stored = web_client.post("/api/attempts", json=body).json()
    assert AttemptOut.model_validate(stored).model_dump(mode="json") == stored


@pytest.mark.parametrize("url", ["/api/grade", "/api/attempts"])
def test_a_body_that_is_not_utf8_is_malformed_json_422(web_client, url):
    response = web_client.post(
        url, content=b"\x19\xff\xfeQ\x80", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json() == {"detail": "malformed JSON: the body is not UTF-8 text"}


@pytest.mark.parametrize("method", ["PUT", "PATCH", "POST"])
def test_a_method_the_api_does_not_take_is_405_whatever_its_body(web_client, method):
    response = web_client.request(method, "/api/decks/mlops", content=b"x")
    assert response.status_code == 405
