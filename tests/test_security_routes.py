"""Every route, walked as an anonymous client, as the owner of the data, as another learner
and as an admin, with the status each must get. The routes come from the app itself: a route
this table does not know fails the test, so none can be forgotten."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount
from web_helpers import PASSWORD, attempt, fast_accounts, sign_in

ANON, OWNER, OTHER, ADMIN = range(4)

# (method, path): the status for an anonymous client, the learner who owns the attempt,
# another learner, and an admin. Pages send the anonymous to sign in (303), and a form they
# post gets a 401 page that keeps what was typed; the JSON API answers 401; another person's
# attempt is a 404; a learner on an admin's route gets 403.
EXPECTED: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("GET", "/openapi.json"): (401, 200, 200, 200),
    ("GET", "/static"): (200, 200, 200, 200),
    ("GET", "/static/swagger"): (200, 200, 200, 200),
    ("GET", "/healthz"): (200, 200, 200, 200),
    ("GET", "/metrics"): (401, 403, 403, 200),
    ("GET", "/docs"): (303, 200, 200, 200),
    ("GET", "/login"): (200, 200, 200, 200),
    ("POST", "/login"): (401, 401, 401, 401),  # a wrong password, for everyone
    ("GET", "/logout"): (303, 200, 200, 200),
    ("POST", "/logout"): (303, 303, 303, 303),
    ("GET", "/admin/people"): (303, 403, 403, 200),
    ("GET", "/api/decks"): (401, 200, 200, 200),
    ("GET", "/api/decks/{deck}"): (401, 200, 200, 200),
    ("GET", "/api/decks/{deck}/next"): (401, 200, 200, 200),
    ("POST", "/api/grade"): (401, 200, 200, 200),
    ("POST", "/api/attempts"): (401, 201, 201, 201),
    ("POST", "/api/attempts/{attempt_id}/score"): (401, 200, 404, 404),
    ("GET", "/api/attempts"): (401, 200, 200, 200),
    ("GET", "/api/attempts.csv"): (401, 200, 200, 200),
    ("GET", "/"): (303, 200, 200, 200),
    ("GET", "/decks/{deck}"): (303, 200, 200, 200),
    ("GET", "/upload"): (303, 403, 403, 200),
    ("POST", "/upload"): (401, 403, 403, 422),  # the admin sent no file
    ("GET", "/upload/preview/{stash_token}"): (303, 403, 403, 410),  # no such upload
    ("POST", "/upload/save"): (401, 403, 403, 410),
    ("GET", "/decks/{deck}/practice"): (303, 200, 200, 200),
    ("GET", "/decks/{deck}/cards/{card}"): (303, 200, 200, 200),
    ("POST", "/decks/{deck}/cards/{card}/attempts"): (401, 303, 303, 303),
    ("GET", "/attempts/{attempt_id}"): (303, 200, 404, 404),
    ("POST", "/attempts/{attempt_id}/score"): (401, 303, 404, 404),
    ("GET", "/history"): (303, 200, 200, 200),
    ("GET", "/stats"): (303, 200, 200, 200),
    ("GET", "/decks/{deck}/stats"): (303, 200, 200, 200),
    ("POST", "/decks/{deck}/calibration"): (401, 303, 303, 303),
    ("GET", "/decks/{deck}/cards/{card}/edit"): (303, 403, 403, 200),
    # the admin's form carries no hash of the file as opened: refused, nothing written
    ("POST", "/decks/{deck}/cards/{card}/edit"): (401, 403, 403, 409),
    ("GET", "/decks/{deck}/add-card"): (303, 403, 403, 200),
    ("POST", "/decks/{deck}/add-card"): (401, 403, 403, 409),
}

# what a request sends where it needs something: a path's parameters, a JSON or form body
STATIC_FILES = {"/static": "/static/app.css", "/static/swagger": "/static/swagger/swagger-ui.css"}
JSON_BODIES = {
    "/api/grade": {"deck": "mlops", "card": "1", "answer": "drift"},
    "/api/attempts": {"deck": "mlops", "card": "1", "answer": "drift"},
    "/api/attempts/{attempt_id}/score": {"score": 4},
}
FORMS = {
    "/login": {"username": "ada", "password": "not the password at all"},
    "/decks/{deck}/cards/{card}/attempts": {"answer": "drift"},
    "/attempts/{attempt_id}/score": {"score": "4"},
    "/decks/{deck}/calibration": {"enabled": "true"},
    "/upload/save": {"upload_token": "nothing", "name": "x"},
}


def app_routes(app: Any) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, its included routers opened."""
    found: set[tuple[str, str]] = set()

    def walk(routes: list[Any]) -> None:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                walk(route.original_router.routes)
            elif isinstance(route, Mount):
                found.add(("GET", route.path))
            elif isinstance(route, APIRoute) or hasattr(route, "methods"):
                for method in route.methods or ():
                    if method != "HEAD":  # HEAD is GET without the body, everywhere
                        found.add((method, route.path))

    walk(list(app.routes))
    return found


def test_the_table_knows_every_route_of_the_app(web_app):
    assert app_routes(web_app) == set(EXPECTED)


@pytest.fixture
def people(web_app):  # type: ignore[no-untyped-def]
    """Signed-in clients for ada (who owns the attempt), bob and the admin, an anonymous one,
    and ada's attempt id."""
    accounts = fast_accounts(web_app)
    accounts.add("admin", PASSWORD)
    accounts.add("ada", PASSWORD)
    accounts.add("bob", PASSWORD)
    clients = [TestClient(web_app) for _ in range(4)]
    for client, name in zip(clients[1:], ("ada", "bob", "admin"), strict=True):
        client.__enter__()
        assert sign_in(client, name).status_code == 303
    owned = attempt(clients[OWNER], "1", "drift monitoring")["attempt_id"]
    yield clients, owned
    for client in clients[1:]:
        client.__exit__(None, None, None)


def _token(client: TestClient) -> str:
    page = client.get("/login")  # every client may fetch the sign-in form (and its token)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:200]
    return match.group(1)


def _send(client: TestClient, method: str, path: str, attempt_id: int) -> int:
    url = STATIC_FILES.get(path, path).format(
        deck="mlops", card="1", attempt_id=attempt_id, stash_token="nothing"
    )
    if method == "GET":
        return client.get(url, follow_redirects=False).status_code
    if path in JSON_BODIES:
        return client.post(url, json=JSON_BODIES[path], follow_redirects=False).status_code
    form = {**FORMS.get(path, {}), "csrf_token": _token(client)}
    files = {"format": (None, "auto")} if path == "/upload" else None
    return client.post(url, data=form, files=files, follow_redirects=False).status_code


def test_every_route_answers_each_person_as_the_table_says(web_app, people):
    clients, owned = people
    seen: dict[tuple[str, str, str], int] = {}
    # signing out comes last: it ends the sessions the other requests use
    order = sorted(EXPECTED, key=lambda route: route == ("POST", "/logout"))
    for method, path in order:
        for role, client in zip(("anonymous", "owner", "other", "admin"), clients, strict=True):
            seen[(method, path, role)] = _send(client, method, path, owned)
    wanted = {
        (method, path, role): EXPECTED[(method, path)][i]
        for method, path in EXPECTED
        for i, role in enumerate(("anonymous", "owner", "other", "admin"))
    }
    wrong = {key: (seen[key], status) for key, status in wanted.items() if seen[key] != status}
    assert wrong == {}, "(method, path, who): (got, wanted)"
