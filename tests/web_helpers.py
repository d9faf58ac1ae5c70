"""Steps that web tests share: answering and scoring cards through the JSON API."""

from __future__ import annotations

from typing import Any


def attempt(client: Any, card: str = "1", answer: str = "", *, deck: str = "mlops") -> dict:
    """An answer through POST /api/attempts (stored); an empty one is always suggested 1."""
    response = client.post("/api/attempts", json={"deck": deck, "card": card, "answer": answer})
    assert response.status_code == 201, response.text
    return dict(response.json())


def scored(client: Any, card: str, answer: str, final: int, *, deck: str = "mlops") -> dict:
    """An answer, then its final score through POST /api/attempts/{id}/score."""
    a = attempt(client, card, answer, deck=deck)
    response = client.post(f"/api/attempts/{a['attempt_id']}/score", json={"score": final})
    assert response.status_code == 200, response.text
    return a


PASSWORD = "correct horse battery"  # 21 characters: over the 12 a password needs


def fast_accounts(app: Any) -> Any:
    """The app's accounts with a cheap Argon2id (tests add and sign in many people; the
    real parameters cost ~0.1 s a hash, measured in tests/benchmarks/bench_login.py)."""
    from argon2 import PasswordHasher

    accounts = app.state.accounts
    accounts.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return accounts


def sign_in(client: Any, name: str, password: str = PASSWORD, *, next: str = "/") -> Any:
    """POST /login with the form's CSRF token; returns the response (303 when signed in)."""
    import re

    page = client.get("/login", params={"next": next}, follow_redirects=False)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:300]
    form = {"csrf_token": match.group(1), "username": name, "password": password, "next": next}
    return client.post("/login", data=form, follow_redirects=False)
