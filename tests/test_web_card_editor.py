"""Writing cards in the browser (issue 15): an admin edits a card's question, points, aliases
and summary, or adds a card; the deck's Markdown file is rewritten atomically with the card's
id kept, and never over a change made on disk since the editor was opened. A learner gets 403.
(POST /api/grade's drafts, which the editor's live box uses: tests/test_web_api_draft.py.)"""

from __future__ import annotations

import hashlib
import html
import os
import re
import stat
from pathlib import Path

import pytest

from grader import load_deck

KITCHEN = """# Kitchen Basics

<!-- kept by hand: this comment and the layout below must survive an edit elsewhere -->

Scale: 1 Not at all | 2 | 3 | 4 | 5 Perfectly

## boil-an-egg

How do you boil an egg?

- Put the egg in boiling water.
- Cook it for seven minutes.

## knife-safety

How do you hold a knife safely?

*   Curl the fingers of the other hand.
*   Cut away from yourself.

## print-hello

How do you print hello in Python?

- Call print:
  ```python
  print("hello")
  ```
"""


@pytest.fixture
def kitchen(decks_dir: Path) -> Path:
    path = decks_dir / "kitchen.md"
    path.write_text(KITCHEN, encoding="utf-8")
    return path


def fields(page) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The editor form's fields as the page holds them (what a browser would post)."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    areas = {
        name: html.unescape(value)
        for name, value in re.findall(
            r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', page.text, re.DOTALL
        )
    }
    return {**hidden, **areas}


def alert(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(r'<p class="alert" role="alert">([^<]*)</p>', page.text)
    assert match, "no error message on the page"
    return html.unescape(match.group(1))


def post(client, page, url: str, **changes: str):  # type: ignore[no-untyped-def]
    return client.post(url, data={**fields(page), **changes}, follow_redirects=False)


EDIT = "/decks/kitchen/cards/boil-an-egg/edit"


# --- the editor page --------------------------------------------------------------------------


def test_the_editor_shows_the_card_as_its_file_holds_it(web_client, kitchen, form_token):
    page = web_client.get(EDIT)
    assert page.status_code == 200
    assert page.template.name == "card_edit.html"
    assert page.context["card"].id == "boil-an-egg"
    assert page.context["version"] == hashlib.sha256(kitchen.read_bytes()).hexdigest()
    assert page.context["form"].points == (
        "- Put the egg in boiling water.\n- Cook it for seven minutes."
    )
    form = fields(page)
    assert form["question"] == "How do you boil an egg?"
    assert form["points"] == page.context["form"].points
    assert form["version"] == page.context["version"]
    assert form["csrf_token"] == form_token(page.text)
    assert f'<form id="card-form" class="panel editor-form" method="post" action="{EDIT}"' in (
        page.text
    )
    assert 'data-try data-max-chars="20000"' in page.text
    assert '<script src="/static/editor.js" defer></script>' in page.text
    assert "<script>" not in page.text  # CSP: no inline script


def test_sections_and_aliases_are_shown_in_the_decks_markdown(web_client):
    page = web_client.get("/decks/mlops/cards/6/edit")
    points = page.context["form"].points
    assert points.startswith("### 1. ")
    assert "\n  - aliases: " in points


def test_an_unknown_card_is_404(web_client, kitchen):
    page = web_client.get("/decks/kitchen/cards/no-such-card/edit")
    assert page.status_code == 404
    assert page.template.name == "error.html"


def test_a_deck_that_is_not_markdown_cannot_be_edited(web_client, decks_dir, seed_export):
    (decks_dir / "seed.txt").write_bytes(seed_export.read_bytes())
    page = web_client.get("/decks/seed/cards/1/edit")
    assert page.status_code == 409
    assert "seed.txt is not a flashgrade Markdown deck" in html.unescape(page.text)


def test_the_deck_page_offers_an_admin_edit_per_card_and_add_a_card(web_client, kitchen):
    page = web_client.get("/decks/kitchen")
    assert page.context["can_edit"] is True
    assert '<a class="button quiet" href="/decks/kitchen/add-card">Add a card</a>' in page.text
    for card in ("boil-an-egg", "knife-safety", "print-hello"):
        assert f'href="/decks/kitchen/cards/{card}/edit"' in page.text


# --- saving -----------------------------------------------------------------------------------


def test_saving_an_edit_keeps_the_card_id_and_every_other_line_of_the_file(web_client, kitchen):
    page = web_client.get(EDIT)
    saved = post(
        web_client,
        page,
        EDIT,
        question="How do you boil an egg until it is hard?",
        points="- Put the egg in boiling water.\r\n- Cook it for ten minutes.",
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{EDIT}?saved=1"
    text = kitchen.read_text(encoding="utf-8")
    before, after = KITCHEN.split("## boil-an-egg\n")[0], KITCHEN.split("## knife-safety\n")[1]
    assert text == (
        before + "## boil-an-egg\n\nHow do you boil an egg until it is hard?\n\n"
        "- Put the egg in boiling water.\n- Cook it for ten minutes.\n\n"
        "## knife-safety\n" + after
    )
    card = web_client.get("/api/decks/kitchen").json()["cards"][0]
    assert (card["id"], card["question"]) == (
        "boil-an-egg",
        "How do you boil an egg until it is hard?",
    )
    shown = web_client.get(saved.headers["location"])
    assert "Saved card <code>boil-an-egg</code> in Kitchen Basics." in shown.text


def test_an_edited_cards_history_stays_with_it(web_client, kitchen):
    web_client.post(
        "/api/attempts", json={"deck": "kitchen", "card": "boil-an-egg", "answer": "boiling water"}
    )
    page = web_client.get(EDIT)
    post(web_client, page, EDIT, question="How long do you boil an egg?")
    rows = web_client.get("/api/attempts?deck=kitchen&card=boil-an-egg").json()
    assert len(rows) == 1
    assert web_client.get("/decks/kitchen/cards/boil-an-egg").status_code == 200


def test_the_file_is_replaced_atomically_keeping_its_mode(web_client, kitchen, decks_dir):
    kitchen.chmod(0o640)
    inode = kitchen.stat().st_ino
    page = web_client.get(EDIT)
    assert post(web_client, page, EDIT, question="Boiling an egg?").status_code == 303
    assert kitchen.stat().st_ino != inode  # a new file renamed over the old one
    assert stat.S_IMODE(kitchen.stat().st_mode) == 0o640
    assert sorted(p.name for p in decks_dir.iterdir()) == ["kitchen.md", "mlops.md"]


def test_points_with_sections_aliases_code_and_a_summary_are_saved_as_written(web_client, kitchen):
    url = "/decks/kitchen/cards/print-hello/edit"
    page = web_client.get(url)
    assert "```python" in page.context["form"].points  # the code point as the file has it
    points = (
        '### 1. Call\n\n- Call print:\n  ```python\n  print("hello")\n  ```\n'
        "  - aliases: print = output, write\n\n### 2. Check\n\n- Run the script"
    )
    saved = post(web_client, page, url, points=points, summary="print writes to stdout")
    assert saved.status_code == 303
    card = load_deck(kitchen).card("print-hello")
    assert [(p.id, p.section, p.text) for p in card.points] == [
        ("1.1", "Call", 'Call print:\n```python\nprint("hello")\n```'),
        ("2.1", "Check", "Run the script"),
    ]
    assert card.points[0].aliases[0].alternatives == ("output", "write")
    assert card.summary == "print writes to stdout"
    again = web_client.get(url)
    assert again.context["form"].points == points  # the editor shows what was saved


def test_adding_a_card_appends_it_with_an_id_from_its_question(web_client, kitchen):
    page = web_client.get("/decks/kitchen/add-card")
    assert page.status_code == 200
    assert page.context["card"] is None
    saved = post(
        web_client,
        page,
        "/decks/kitchen/add-card",
        question="How do you sharpen a knife?",
        points="- Use a whetstone.\n- Hold a steady angle.",
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/decks/kitchen/cards/sharpen-knife/edit?saved=1"
    assert kitchen.read_text(encoding="utf-8").startswith(KITCHEN)
    ids = [c["id"] for c in web_client.get("/api/decks/kitchen").json()["cards"]]
    assert ids == ["boil-an-egg", "knife-safety", "print-hello", "sharpen-knife"]


def test_a_second_card_with_the_same_question_gets_an_id_of_its_own(web_client, kitchen):
    for _ in range(2):
        page = web_client.get("/decks/kitchen/add-card")
        post(
            web_client,
            page,
            "/decks/kitchen/add-card",
            question="How do you boil an egg?",
            points="- Boil it.",
        )
    ids = [c["id"] for c in web_client.get("/api/decks/kitchen").json()["cards"]]
    assert ids[-2:] == ["boil-egg", "boil-egg-2"]


# --- refusals: the form kept, the file unchanged -----------------------------------------------


def test_a_file_changed_on_disk_since_the_editor_opened_is_409_with_the_form_kept(
    web_client, kitchen
):
    page = web_client.get(EDIT)
    changed = KITCHEN.replace("seven minutes", "eight minutes")
    kitchen.write_text(changed, encoding="utf-8")  # someone else's edit, meanwhile
    refused = post(web_client, page, EDIT, question="My edit of the question?")
    assert refused.status_code == 409
    assert refused.template.name == "card_edit.html"
    assert alert(refused).startswith(
        "Not saved: kitchen.md changed on disk since this editor was opened; nothing was saved."
    )
    assert fields(refused)["question"] == "My edit of the question?"  # not lost
    assert fields(refused)["version"] == page.context["version"]  # still the old one
    assert kitchen.read_text(encoding="utf-8") == changed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"question": "  "}, "Not saved: Question: write the question."),
        ({"points": ""}, "Not saved: Points: write at least one point, as '- point'."),
        (
            {"points": "Put the egg in water"},
            "Not saved: Points, line 1: each point is a list item: write '- ' before it.",
        ),
        (
            {"points": "- Boil it.\n  - Not an alias"},
            "Not saved: Points, line 2: a nested item must be '- aliases: term = other words, "
            "...'; write each point as its own '- ' item",
        ),
        (
            {"points": "- Boil it.\n\n## sneaky-card\n\nAnother question?\n\n- x"},
            "Not saved: Points: a '## ' heading would start another card; remove it.",
        ),
        (
            {"points": "- Boil it.\n  - aliases: boil"},
            "Not saved: Points, line 2: write aliases as 'aliases: term = other words, more words'",
        ),
    ],
)
def test_a_card_that_cannot_be_read_is_422_naming_the_field_and_nothing_is_written(
    web_client, kitchen, changes, message
):
    page = web_client.get(EDIT)
    refused = post(web_client, page, EDIT, **changes)
    assert refused.status_code == 422
    assert refused.template.name == "card_edit.html"
    assert alert(refused) == message
    for name, value in changes.items():
        assert fields(refused)[name] == value.replace("\r\n", "\n")
    assert kitchen.read_text(encoding="utf-8") == KITCHEN


def test_saving_without_the_csrf_token_is_403_and_writes_nothing(web_client, kitchen):
    page = web_client.get(EDIT)
    data = {k: v for k, v in fields(page).items() if k != "csrf_token"}
    refused = web_client.post(EDIT, data={**data, "question": "Changed?"})
    assert refused.status_code == 403
    assert kitchen.read_text(encoding="utf-8") == KITCHEN


# --- trying an answer without JavaScript --------------------------------------------------------


def test_the_grade_it_button_grades_the_unsaved_card_and_saves_nothing(web_client, kitchen):
    page = web_client.get(EDIT)
    tried = post(
        web_client,
        page,
        EDIT,
        action="try",
        points="- Use a timer.",
        answer="I set a timer for it",
    )
    assert tried.status_code == 200
    result = tried.context["tried"].result
    assert [(p.text, p.status) for p in result.points] == [("Use a timer.", "covered")]
    assert '<li class="point covered">' in tried.text
    assert result.points[0].evidence and f"“{result.points[0].evidence}”" in tried.text
    assert fields(tried)["points"] == "- Use a timer."  # the form as typed
    assert kitchen.read_text(encoding="utf-8") == KITCHEN
    assert web_client.get("/api/attempts").json() == []


# --- people who are not admins -----------------------------------------------------------------

PASSWORD = "correct horse battery"


def sign_in(client, form_token, name: str) -> None:  # type: ignore[no-untyped-def]
    token = form_token(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": name, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_a_learner_gets_403_from_the_editor_and_sees_no_edit_links(
    web_app, web_client, kitchen, form_token
):
    web_app.state.accounts.add("ada", PASSWORD)  # the first account is the admin
    web_app.state.accounts.add("lee", PASSWORD)
    sign_in(web_client, form_token, "ada")
    page = web_client.get(EDIT)  # opened by the admin...
    assert page.status_code == 200
    sign_in(web_client, form_token, "lee")  # ...posted by a learner
    for url in (EDIT, "/decks/kitchen/add-card"):
        assert web_client.get(url).status_code == 403
        assert post(web_client, page, url, question="Hijacked?").status_code == 403
    deck = web_client.get("/decks/kitchen")
    assert deck.context["can_edit"] is False
    assert "/edit" not in deck.text and "add-card" not in deck.text
    assert kitchen.read_text(encoding="utf-8") == KITCHEN


def test_no_temporary_file_is_left_when_the_write_fails(web_client, kitchen, decks_dir):
    page = web_client.get(EDIT)
    os.chmod(decks_dir, 0o500)  # no new file can be created beside the deck
    try:
        if os.access(decks_dir, os.W_OK):
            pytest.skip("running as root: a read-only directory is still writable")
        refused = post(web_client, page, EDIT, question="Changed?")
    finally:
        os.chmod(decks_dir, 0o700)
    assert refused.status_code == 422
    assert alert(refused).startswith("Not saved: cannot write kitchen.md")
    assert kitchen.read_text(encoding="utf-8") == KITCHEN
    assert sorted(p.name for p in decks_dir.iterdir()) == ["kitchen.md", "mlops.md"]
