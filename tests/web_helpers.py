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
