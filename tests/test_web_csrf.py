"""CSRF: every state-changing form needs a token signed for the browser's CSRF cookie."""

from __future__ import annotations

import pytest

from web.security import CSRF_COOKIE, Csrf


def practice_form(client, form_token):
    page = client.get("/decks/mlops/practice")
    return "/decks/mlops/cards/1/attempts", form_token(page.text)


def test_answer_without_token_is_403_and_stores_nothing(web_client, form_token):
    url, _ = practice_form(web_client, form_token)
    response = web_client.post(url, data={"answer": "x"})
    assert response.status_code == 403
    assert response.template.name == "error.html"
    assert web_client.get("/api/attempts").json() == []


def test_answer_with_token_but_no_cookie_is_403(web_client, form_token):
    url, token = practice_form(web_client, form_token)
    web_client.cookies.clear()
    assert web_client.post(url, data={"csrf_token": token, "answer": "x"}).status_code == 403


def test_token_signed_with_another_secret_is_403(web_client, form_token):
    url, _ = practice_form(web_client, form_token)
    nonce = web_client.cookies[CSRF_COOKIE]
    forged = Csrf(b"another-secret-key-of-sufficient-length").token_for(nonce)
    assert web_client.post(url, data={"csrf_token": forged, "answer": "x"}).status_code == 403


def test_token_for_another_cookie_is_403(web_client, form_token):
    url, token = practice_form(web_client, form_token)
    web_client.cookies.clear()
    web_client.cookies.set(CSRF_COOKIE, Csrf.new_nonce())
    assert web_client.post(url, data={"csrf_token": token, "answer": "x"}).status_code == 403


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "."])
def test_malformed_token_is_403(web_client, form_token, token):
    url, _ = practice_form(web_client, form_token)
    assert web_client.post(url, data={"csrf_token": token, "answer": "x"}).status_code == 403


def test_valid_token_is_accepted(web_client, form_token):
    url, token = practice_form(web_client, form_token)
    assert (
        web_client.post(
            url, data={"csrf_token": token, "answer": "x"}, follow_redirects=False
        ).status_code
        == 303
    )


def test_score_without_token_is_403_and_changes_nothing(web_client):
    created = web_client.post("/api/attempts", json={"deck": "mlops", "card": "1", "answer": "x"})
    attempt_id = created.json()["attempt_id"]
    response = web_client.post(f"/attempts/{attempt_id}/score", data={"score": "5"})
    assert response.status_code == 403
    assert web_client.get("/api/attempts").json()[0]["final"] is None


def test_cookie_is_httponly_and_samesite_strict(web_client):
    response = web_client.get("/decks/mlops/practice")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")


def test_cookie_is_kept_across_pages(web_client):
    web_client.get("/decks/mlops/practice")
    assert "set-cookie" not in web_client.get("/decks/mlops/practice").headers
