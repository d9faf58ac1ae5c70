"""People and access (DESIGN.md): accounts, signing in, roles, each person's own data."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, attempt, fast_accounts, scored, sign_in

from web.accounts import FAILURES_ALLOWED, AccountError, Throttled
from web.storage.models import utcnow


@pytest.fixture
def school(web_app):  # type: ignore[no-untyped-def]
    """An app with an admin and two learners, ada and bob."""
    accounts = fast_accounts(web_app)
    accounts.add("admin", PASSWORD)  # the first account is an admin
    accounts.add("ada", PASSWORD)
    accounts.add("bob", PASSWORD)
    return web_app


def client_of(app, name: str | None = None) -> TestClient:  # type: ignore[no-untyped-def]
    client = TestClient(app)
    if name is not None:
        assert sign_in(client, name).status_code == 303
    return client


# --- local mode ---------------------------------------------------------------------------


def test_local_mode_needs_no_sign_in(web_client):
    assert web_client.get("/").status_code == 200
    assert web_client.get("/api/decks").status_code == 200


def test_local_mode_sends_the_sign_in_page_home(web_client):
    response = web_client.get("/login", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/")


def test_the_first_account_takes_over_local_mode_s_history(web_app):
    with TestClient(web_app) as local:
        first = scored(local, "1", "drift monitoring", 4)
    accounts = fast_accounts(web_app)
    person, taken = accounts.add("ada", PASSWORD)
    assert (person.is_admin, taken) == (True, 1)
    with client_of(web_app, "ada") as ada:
        rows = ada.get("/api/attempts").json()
        assert [r["attempt_id"] for r in rows] == [first["attempt_id"]]
        assert ada.get("/api/decks/mlops").json()["cards"][0]["due"] is not None


# --- signing in ---------------------------------------------------------------------------


def test_pages_send_an_anonymous_visitor_to_sign_in_and_back(school):
    with client_of(school) as anonymous:
        response = anonymous.get("/decks/mlops?page=1", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fdecks%2Fmlops%3Fpage%3D1"
        signed = sign_in(anonymous, "ada", next="/decks/mlops?page=1")
        assert signed.headers["location"] == "/decks/mlops?page=1"
        assert anonymous.get("/decks/mlops").status_code == 200


def test_the_json_api_answers_an_anonymous_client_401(school):
    with client_of(school) as anonymous:
        response = anonymous.get("/api/decks")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "sign in" in response.json()["detail"]


def test_healthz_stays_open(school):
    with client_of(school) as anonymous:
        assert anonymous.get("/healthz").json() == {"status": "ok"}


def test_the_session_cookie_is_http_only_and_same_site(school):
    with client_of(school) as client:
        cookie = sign_in(client, "ada").headers["set-cookie"]
    assert cookie.startswith("flashgrade_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie


def test_the_session_cookie_is_secure_when_the_settings_say_so(web_settings):
    from web.app import create_app

    web_settings.secure_cookies = True
    app = create_app(web_settings)
    fast_accounts(app).add("ada", PASSWORD)
    # over HTTPS, as Secure cookies (the form's CSRF one too) are sent back only there
    with TestClient(app, base_url="https://testserver") as client:
        assert "Secure" in sign_in(client, "ada").headers["set-cookie"]


def test_signing_in_never_leaves_the_site(school):
    with client_of(school) as client:
        for target in ("//evil.example/x", "https://evil.example", "/\\evil.example"):
            assert sign_in(client, "ada", next=target).headers["location"] == "/"


def _failure_page(response) -> str:  # type: ignore[no-untyped-def]
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", response.text)
    return re.sub(r'id="username"[^>]*>', "", text)


def test_an_unknown_name_and_a_wrong_password_get_the_same_reply(school):
    with client_of(school) as client:
        wrong = sign_in(client, "ada", "not the password at all")
        unknown = sign_in(client, "zed", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert _failure_page(wrong) == _failure_page(unknown)
    assert "wrong name or password" in wrong.text


def test_an_unknown_name_takes_as_long_as_a_wrong_password(school):
    accounts = school.state.accounts

    def timed(name: str) -> float:
        start = time.perf_counter()
        with pytest.raises(AccountError):
            accounts.authenticate(name, "not the password at all")
        return time.perf_counter() - start

    # alternate, so that load on the machine falls on both alike
    known, unknown = [], []
    for i in range(7):
        known.append(timed("ada"))
        unknown.append(timed(f"zed{i}"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.5 < ratio < 2.0


def test_more_than_ten_failures_for_a_name_get_429_until_the_window_passes(school):
    with client_of(school) as client:
        for _ in range(FAILURES_ALLOWED):
            assert sign_in(client, "ada", "not the password at all").status_code == 401
        throttled = sign_in(client, "ada")  # even the right password
        assert throttled.status_code == 429
        assert int(throttled.headers["retry-after"]) > 0
        assert sign_in(client, "bob").status_code == 303  # another name is not held up
    later = utcnow() + timedelta(minutes=16)
    assert school.state.accounts.authenticate("ada", PASSWORD, now=later).name == "ada"


def test_an_unknown_name_is_throttled_like_a_known_one(school):
    accounts = school.state.accounts
    for _ in range(FAILURES_ALLOWED):
        with pytest.raises(AccountError):
            accounts.authenticate("zed", "not the password at all")
    with pytest.raises(Throttled):
        accounts.authenticate("zed", "not the password at all")


def test_names_are_one_person_whatever_their_case(school):
    with client_of(school) as client:
        assert sign_in(client, " ADA ").status_code == 303


def test_signing_out_ends_the_session_even_for_a_copied_cookie(school):
    with client_of(school, "ada") as client:
        cookie = client.cookies.get("flashgrade_session")
        page = client.get("/logout")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    with client_of(school) as other:
        other.cookies.set("flashgrade_session", cookie)
        assert other.get("/api/decks").status_code == 401


def test_a_new_password_signs_the_person_out_everywhere(school):
    with client_of(school, "ada") as client:
        school.state.accounts.set_password("ada", "another long password")
        assert client.get("/api/decks").status_code == 401


def test_a_new_password_revokes_the_person_s_api_tokens(school):
    token = school.state.accounts.new_token("ada")
    school.state.accounts.set_password("ada", "another long password")
    with client_of(school) as client:
        response = client.get("/api/decks", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_new_password_lifts_the_throttle_on_the_name(school):
    accounts = school.state.accounts
    for _ in range(FAILURES_ALLOWED):
        with pytest.raises(AccountError):
            accounts.authenticate("ada", "not the password at all")
    accounts.set_password("ada", "another long password")
    assert accounts.authenticate("ada", "another long password").name == "ada"


def test_guesses_sent_at_once_get_no_more_tries_than_the_limit(school):
    from concurrent.futures import ThreadPoolExecutor

    accounts = school.state.accounts

    def guess(i: int) -> str:
        try:
            accounts.authenticate("ada", f"wrong guess number {i}")
        except Throttled:
            return "throttled"
        except AccountError:
            return "tried"
        return "in"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(guess, range(3 * FAILURES_ALLOWED)))
    assert outcomes.count("tried") == FAILURES_ALLOWED
    assert outcomes.count("throttled") == 2 * FAILURES_ALLOWED


def test_a_removed_person_s_id_is_never_given_again(school):
    accounts = school.state.accounts
    bob = accounts.authenticate("bob", PASSWORD)
    accounts.remove("bob")
    carol, _ = accounts.add("carol", PASSWORD)
    assert carol.id > bob.id


def test_a_name_with_a_nul_character_is_a_wrong_name_not_an_error(school):
    with client_of(school) as client:
        assert sign_in(client, "ada\x00").status_code == 401


def test_an_answer_with_a_nul_character_is_stored_with_a_replacement_character(school):
    with client_of(school, "ada") as ada:
        made = attempt(ada, "1", "drift\x00 monitoring")
        [row] = ada.get("/api/attempts").json()
    assert made["attempt_id"] == row["attempt_id"]
    assert row["answer"] == "drift\ufffd monitoring"


def test_the_first_account_takes_over_local_mode_s_idempotency_keys(web_app):
    body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
    key = {"Idempotency-Key": "sent-before-accounts"}
    with TestClient(web_app) as local:
        first = local.post("/api/attempts", json=body, headers=key).json()
    fast_accounts(web_app).add("ada", PASSWORD)
    with client_of(web_app, "ada") as ada:
        again = ada.post("/api/attempts", json=body, headers=key)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first


def test_a_learner_may_not_grade_a_draft_card(school):
    body = {"deck": "mlops", "answer": "drift", "draft": {"question": "Q?", "points": ["a", "b"]}}
    with client_of(school, "ada") as ada, client_of(school, "admin") as admin:
        assert ada.post("/api/grade", json=body).status_code == 403
        assert admin.post("/api/grade", json=body).status_code == 200


def test_a_form_sent_after_the_sign_in_ended_keeps_the_typed_answer(school, form_token):
    with client_of(school, "ada") as ada:
        page = ada.get("/decks/mlops/cards/1")
        token = form_token(page.text)
        school.state.accounts.set_password("ada", "another long password")  # signed out
        response = ada.post(
            "/decks/mlops/cards/1/attempts",
            data={"csrf_token": token, "answer": "my long careful answer"},
            follow_redirects=False,
        )
    assert response.status_code == 401 and response.template.name == "error.html"  # type: ignore[attr-defined]
    assert response.context["kept_answer"] == "my long careful answer"  # type: ignore[attr-defined]


def test_a_bearer_token_opens_the_json_api(school):
    token = school.state.accounts.new_token("ada")
    with client_of(school) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/decks", headers=headers).status_code == 200
        wrong = {"Authorization": f"Bearer {token}x"}
        assert client.get("/api/decks", headers=wrong).status_code == 401


def test_tokens_and_passwords_are_stored_as_hashes_only(school):
    from sqlalchemy import select

    from web.storage.models import ApiToken, User

    token = school.state.accounts.new_token("ada")
    with school.state.store.read() as session:
        hashes = list(session.scalars(select(ApiToken.token_hash)))
        passwords = list(session.scalars(select(User.password_hash)))
    assert token not in hashes and len(hashes[0]) == 64
    assert all(p.startswith("$argon2id$") for p in passwords)


def test_a_password_has_at_least_twelve_characters(school):
    with pytest.raises(AccountError, match="at least 12"):
        school.state.accounts.add("carol", "short")


def test_the_last_admin_cannot_be_removed(school):
    with pytest.raises(AccountError, match="last admin"):
        school.state.accounts.remove("admin")


def test_removing_a_person_deletes_their_history(school):
    with client_of(school, "ada") as ada:
        attempt(ada, "1", "drift")
    assert school.state.accounts.remove("ada") == 1
    with client_of(school, "bob") as bob:
        assert bob.get("/api/attempts").json() == []


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/upload", "/metrics"])
def test_a_learner_may_not_manage_decks_or_read_metrics(school, path):
    with client_of(school, "ada") as ada, client_of(school, "admin") as admin:
        assert ada.get(path).status_code == 403
        assert admin.get(path).status_code == 200


def test_a_learner_s_home_page_has_no_upload_form(school):
    with client_of(school, "ada") as ada, client_of(school, "admin") as admin:
        assert "upload-form" not in ada.get("/").text
        assert "upload-form" in admin.get("/").text


def test_the_admin_page_lists_people_with_counts_and_no_answers(school):
    with client_of(school, "ada") as ada:
        attempt(ada, "1", "a secret answer about drift")
    with client_of(school, "admin") as admin:
        page = admin.get("/admin/people")
    assert page.status_code == 200 and page.template.name == "people.html"  # type: ignore[attr-defined]
    ada_row = next(p for p in page.context["people"] if p.name == "ada")  # type: ignore[attr-defined]
    assert (ada_row.attempts, ada_row.scored) == (1, 0)
    assert "secret answer" not in page.text


# --- each person's own data -----------------------------------------------------------------


def test_another_person_s_attempt_is_a_404_everywhere(school):
    with client_of(school, "ada") as ada:
        mine = attempt(ada, "1", "drift monitoring")["attempt_id"]
    with client_of(school, "bob") as bob:
        assert bob.get(f"/attempts/{mine}").status_code == 404
        assert bob.post(f"/api/attempts/{mine}/score", json={"score": 5}).status_code == 404
        assert bob.get("/api/attempts").json() == []
        assert str(mine) not in bob.get("/api/attempts.csv").text.splitlines()[1:]


def test_each_person_has_their_own_schedule(school):
    with client_of(school, "ada") as ada:
        scored(ada, "1", "drift monitoring", 5)
        ada_deck = ada.get("/api/decks/mlops").json()
    with client_of(school, "bob") as bob:
        bob_deck = bob.get("/api/decks/mlops").json()
    assert ada_deck["cards"][0]["due"] is not None
    assert bob_deck["cards"][0]["due"] is None


def test_each_person_has_their_own_calibration(school):
    calibrator = school.state.calibrator
    with client_of(school, "ada") as ada:
        for _ in range(3):
            scored(ada, "1", "", 1)
    accounts = school.state.accounts
    ada_id = accounts.authenticate("ada", PASSWORD).id
    bob_id = accounts.authenticate("bob", PASSWORD).id
    assert calibrator.pairs(ada_id, "mlops") == [(1, 1)] * 3
    assert calibrator.pairs(bob_id, "mlops") == []


def test_stats_count_only_the_person_s_own_attempts(school):
    with client_of(school, "ada") as ada:
        scored(ada, "1", "drift monitoring", 3)
    with client_of(school, "bob") as bob:
        page = bob.get("/stats")
    assert page.context["s"].attempts == 0  # type: ignore[attr-defined]


# --- hosts, retries -----------------------------------------------------------------------


def test_a_request_for_another_host_gets_400(web_client):
    response = web_client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400


def test_links_and_redirects_are_relative(web_client):
    page = web_client.get("/")
    assert "http://testserver" not in page.text


def test_an_idempotency_key_stores_one_attempt_and_replays_the_first_reply(web_client):
    body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
    key = {"Idempotency-Key": "retry-42"}
    first = web_client.post("/api/attempts", json=body, headers=key)
    again = web_client.post("/api/attempts", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert len(web_client.get("/api/attempts").json()) == 1


def test_the_same_idempotency_key_from_two_people_stores_two_attempts(school):
    body = {"deck": "mlops", "card": "1", "answer": "monitor drift"}
    ids = []
    for name in ("ada", "bob"):
        with client_of(school, name) as client:
            r = client.post("/api/attempts", json=body, headers={"Idempotency-Key": "k"})
            ids.append(r.json()["attempt_id"])
    assert ids[0] != ids[1]


def test_an_idempotency_key_over_200_characters_is_refused(web_client):
    body = {"deck": "mlops", "card": "1", "answer": "x"}
    response = web_client.post("/api/attempts", json=body, headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 422
    assert "idempotency-key" in response.json()["detail"].lower()
