"""The card editor in a real Chromium against `flashgrade serve`: the "try an answer" box
grades the unsaved card as you type (web/static/editor.js, under the app's CSP), and saving
writes the deck file with the card's id kept. Screenshots go where tests/test_browser.py's do.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect
from test_browser import SCREENSHOTS

FIRST = "built-churn-prediction-model-subscription-service"

pytestmark = pytest.mark.browser


def test_the_try_box_grades_the_unsaved_card_as_you_type_and_saving_keeps_the_id(
    browser, web_server, decks_dir
):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []  # a CSP violation or a script error shows here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(f"{web_server}/decks/mlops")
    page.click("[aria-label='Edit card 1']")
    page.wait_for_url(re.compile(rf"/decks/mlops/cards/{FIRST}/edit$"))
    assert not page.locator("[data-try-button]").is_visible()  # the box follows the typing

    result = page.locator("[data-try-result]")
    page.fill("#try-answer", "Package the model with its preprocessing, scaling and encoding.")
    page.wait_for_selector("[data-try-result] .try-score")
    assert result.locator("li.point").count() == 9  # the card as stored: nine points
    assert result.locator("li.point.covered").count() >= 1
    assert result.locator(".evidence").first.inner_text().startswith("“")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "11-card-editor.png"), full_page=True)

    # an unsaved change of the points is graded at once: one point, not yet in the answer
    page.fill("#points", "- Roll out a canary release first")
    expect(result.locator("li.point")).to_have_count(1)  # (the CSP forbids wait_for_function)
    assert result.locator("li.point.missing").count() == 1
    page.fill("#try-answer", "I would roll it out as a canary release first.")
    page.wait_for_selector("[data-try-result] li.point.covered")
    assert "Roll out a canary release first" in result.inner_text()

    page.click("button[value='save']")
    page.wait_for_url(re.compile(r"/edit\?saved=1$"))
    assert page.locator(".flash").inner_text() == f"Saved card {FIRST} in ML Ops Flashcards."
    text = (decks_dir / "mlops.md").read_text(encoding="utf-8")
    assert f"## {FIRST}\n\n" in text and "- Roll out a canary release first\n" in text
    cards = httpx.get(f"{web_server}/api/decks/mlops").json()["cards"]
    assert cards[0]["id"] == FIRST and len(cards) == 7
    assert not errors, errors
    page.close()


def test_a_change_on_disk_meanwhile_is_refused_with_the_text_kept(browser, web_server, decks_dir):
    page = browser.new_page()
    page.goto(f"{web_server}/decks/mlops/add-card")
    page.fill("#question", "What is a feature store?")
    page.fill("#points", "- A shared store of features for training and serving")
    deck = decks_dir / "mlops.md"
    deck.write_text(deck.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # meanwhile
    page.click("button[value='save']")
    page.wait_for_selector(".alert")
    assert "changed on disk since this editor was opened" in page.locator(".alert").inner_text()
    assert page.locator("#question").input_value() == "What is a feature store?"
    assert "feature store" not in deck.read_text(encoding="utf-8")
    page.close()
