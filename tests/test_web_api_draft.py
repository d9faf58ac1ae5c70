"""POST /api/grade with a ``draft``: an unsaved card (the card editor's) graded instead of the
stored one, storing nothing; a bad draft is 422 with a detail. Without a draft the endpoint is
what DESIGN.md says."""

from __future__ import annotations

from pathlib import Path

import pytest

KITCHEN = """# Kitchen Basics

## boil-an-egg

How do you boil an egg?

- Put the egg in boiling water.
- Cook it for seven minutes.
"""


@pytest.fixture
def kitchen(decks_dir: Path) -> Path:
    path = decks_dir / "kitchen.md"
    path.write_text(KITCHEN, encoding="utf-8")
    return path


DRAFT = {
    "question": "How do you boil an egg?",
    "points": [
        {"text": "Use a timer", "section": "Timing"},
        {
            "text": "Start in cold water",
            "section": "Water",
            "aliases": [{"term": "cold", "alternatives": ["chilled"]}],
        },
    ],
}


def test_a_draft_is_graded_instead_of_the_stored_card_and_nothing_is_stored(web_client, kitchen):
    body = {"deck": "kitchen", "card": "boil-an-egg", "answer": "chilled water", "draft": DRAFT}
    response = web_client.post("/api/grade", json=body)
    assert response.status_code == 200, response.text
    grade = response.json()
    assert [(p["id"], p["section"], p["text"]) for p in grade["points"]] == [
        ("1.1", "Timing", "Use a timer"),
        ("2.1", "Water", "Start in cold water"),
    ]
    assert [p["status"] for p in grade["points"]] == ["missing", "covered"]  # by its alias
    assert grade["missing"] == ["Use a timer"]
    assert web_client.get("/api/attempts").json() == []


def test_a_draft_of_a_new_card_needs_no_card_and_may_list_points_as_text(web_client, kitchen):
    body = {
        "deck": "kitchen",
        "answer": "use a timer",
        "draft": {"question": "Eggs?", "points": ["Use a timer", "Salt the water"]},
    }
    grade = web_client.post("/api/grade", json=body).json()
    assert [p["status"] for p in grade["points"]] == ["covered", "missing"]


def test_a_draft_may_give_its_points_as_the_editor_s_markdown(web_client, kitchen):
    markdown = "### 1. Timing\n\n- Use a timer\n\n### 2. Water\n\n- Start in cold water\n"
    markdown += "  - aliases: cold = chilled\n"
    draft = {"question": "How do you boil an egg?", "points_markdown": markdown}
    body = {"deck": "kitchen", "answer": "chilled water", "draft": draft}
    grade = web_client.post("/api/grade", json=body).json()
    assert [(p["id"], p["section"], p["status"]) for p in grade["points"]] == [
        ("1.1", "Timing", "missing"),
        ("2.1", "Water", "covered"),
    ]


def test_a_draft_s_markdown_that_cannot_be_read_is_422_naming_the_line(web_client, kitchen):
    draft = {"question": "Eggs?", "points_markdown": "Use a timer"}
    response = web_client.post(
        "/api/grade", json={"deck": "kitchen", "answer": "x", "draft": draft}
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("Points, line 1:")


def test_grading_without_a_card_or_a_draft_is_422(web_client):
    response = web_client.post("/api/grade", json={"deck": "mlops", "answer": "x"})
    assert response.status_code == 422
    assert response.json() == {"detail": "card: Field required (or give a draft)"}


@pytest.mark.parametrize(
    ("draft", "detail"),
    [
        ({"question": "Q?", "points": []}, "draft.points: List should have at least 1 item"),
        ({"question": " ", "points": ["x"]}, "draft.question: Value error, must not be blank"),
        ({"points": ["x"]}, "draft.question: Field required"),
        ({"question": "Q?", "points": ["  "]}, "draft.points: Value error, must not be blank"),
        ({"question": "Q?", "points": ["x"] * 101}, "draft.points: List should have at most 100"),
        ({"question": "Q?", "points": ["x" * 2001]}, "draft.points.0"),
        ({"question": "Q" * 5001, "points": ["x"]}, "draft.question: String should have at most"),
        (
            {"question": "Q?", "points": [{"text": "x", "aliases": [{"term": "x"}]}]},
            "draft.points.0.DraftPoint.aliases.0.alternatives: Field required",
        ),
        ({"question": "Q?", "points": "x"}, "draft.points: Input should be a valid list"),
        ({"question": "Q?", "points": ["!!!"], "summary": 3}, "draft.summary"),
    ],
)
def test_a_bad_draft_is_422_with_a_detail(web_client, draft, detail):
    body = {"deck": "mlops", "answer": "an answer", "draft": draft}
    response = web_client.post("/api/grade", json=body)
    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()


def test_a_draft_in_an_unknown_deck_is_404(web_client):
    body = {"deck": "nope", "answer": "x", "draft": DRAFT}
    assert web_client.post("/api/grade", json=body).status_code == 404


def test_grading_a_stored_card_is_unchanged_by_the_draft_field(web_client):
    body = {"deck": "mlops", "card": "1", "answer": "package the model with preprocessing"}
    plain = web_client.post("/api/grade", json=body).json()
    with_null = web_client.post("/api/grade", json={**body, "draft": None}).json()
    assert plain == with_null
    assert len(plain["points"]) == 9
