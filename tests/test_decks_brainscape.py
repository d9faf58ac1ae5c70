"""The Brainscape reader, mostly on the seed export (tests/fixtures/brainscape_mlops.txt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader import Deck, DeckError
from grader.decks import load_deck, parse_deck

SEED_POINTS = [9, 13, 10, 9, 11, 11, 7]


@pytest.fixture
def seed(seed_export: Path) -> Deck:
    return load_deck(seed_export)


def _export(*cards: tuple[str, str]) -> str:
    rating = "How well did you know this?\n1\nNot at all\n2\n3\n4\n5\nPerfectly\n"
    blocks = [f"{i}\nQ\n\n{q}\n\nA\n\n{a}\n{rating}" for i, (q, a) in enumerate(cards, 1)]
    return f"Tiny Deck\n\n({len(cards)} cards)\n\n" + "".join(blocks)


def test_seed_is_detected_as_brainscape(seed_export: Path) -> None:
    text = seed_export.read_text(encoding="utf-8")
    assert parse_deck(text, source="x.txt").cards == load_deck(seed_export).cards
    assert (
        parse_deck(text, source="x.txt", format="brainscape").cards == load_deck(seed_export).cards
    )


def test_seed_has_seven_cards_with_expected_point_counts(seed: Deck) -> None:
    assert [len(card.points) for card in seed.cards] == SEED_POINTS


def test_seed_title_id_and_scale(seed: Deck) -> None:
    assert seed.title == "ML Ops Flashcards"
    assert seed.id == "brainscape-mlops"
    assert seed.scale == ("Not at all", "", "", "", "Perfectly")
    assert seed.label(1) == "1 Not at all" and seed.label(5) == "5 Perfectly"


def test_card4_numbered_hypotheses_are_points_1_1_to_1_4(seed: Deck) -> None:
    card = seed.cards[3]
    hypotheses = [p for p in card.points if p.section == "Possible hypotheses"]
    assert [p.id for p in hypotheses] == ["1.1", "1.2", "1.3", "1.4"]
    assert hypotheses[0].text.startswith("Data issues: Missing or incorrect input data")
    assert hypotheses[3].text.startswith("System errors:")


def test_card4_investigation_steps_are_points_2_1_to_2_5(seed: Deck) -> None:
    card = seed.cards[3]
    steps = [p for p in card.points if p.section == "Investigation steps"]
    assert [p.id for p in steps] == ["2.1", "2.2", "2.3", "2.4", "2.5"]
    assert steps[-1].text == "Compare with historical patterns for similar anomalies."


def test_summaries_are_kept_but_not_points(seed: Deck) -> None:
    card = seed.cards[1]
    assert card.summary is not None and card.summary.startswith("Use SageMaker real-time endpoints")
    assert not any(
        "Summary" in p.text or p.text.startswith("Use SageMaker real") for p in card.points
    )
    with_summary = [c.position for c in seed.cards if c.summary]
    assert with_summary == [2, 3, 4, 6]


def test_empty_eighth_card_is_skipped_with_a_warning_naming_it(seed: Deck) -> None:
    assert len(seed.cards) == 7
    assert len(seed.warnings) == 1
    assert "card 8" in seed.warnings[0] and "skipped" in seed.warnings[0]
    assert seed.warnings[0].startswith(f"{seed.source}:")


def test_card_ids_are_unique_slugs(seed: Deck) -> None:
    ids = [card.id for card in seed.cards]
    assert len(set(ids)) == 7
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", i) and not i.isdigit() for i in ids)
    assert ids[0] == "built-churn-prediction-model-subscription-service"


def test_card_ids_are_stable_when_answers_are_edited(seed_export: Path, tmp_path: Path) -> None:
    text = seed_export.read_text(encoding="utf-8")
    edited = tmp_path / "edited.txt"
    edited.write_text(text.replace("Test inference pipeline", "Test the serving pipeline"), "utf-8")
    assert [c.id for c in load_deck(edited).cards] == [c.id for c in load_deck(seed_export).cards]


def test_section_titles_lose_their_numbers_and_colons(seed: Deck) -> None:
    assert [title for title, _ in seed.cards[0].sections] == [
        "Deployment Preparation",
        "Ensuring Generalization",
        "Feedback Loop",
    ]
    assert seed.cards[1].sections[2][0] == "Monitoring & Logging"


def test_point_ids_number_sections_in_order(seed: Deck) -> None:
    assert [p.id for p in seed.cards[0].points] == [
        "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2",
    ]  # fmt: skip


def test_bullets_are_stripped_and_curly_quotes_kept(seed: Deck) -> None:
    texts = [p.text for card in seed.cards for p in card.points]
    assert not any(t.startswith(("•", "-", "*", "1.")) for t in texts)
    assert seed.cards[0].points[0].text == (
        "Package model with preprocessing steps (scaling, encoding) for consistency."
    )
    assert seed.cards[0].question.startswith("Let’s say we’ve built")


def test_question_paragraphs_are_kept(seed: Deck) -> None:
    first, second = seed.cards[0].question.split("\n\n")
    assert first.endswith("wasn’t in our original training data.")
    assert second.startswith("How would you approach")


def test_positions_count_the_kept_cards(seed: Deck) -> None:
    assert [c.position for c in seed.cards] == list(range(1, 8))
    assert seed.card("4") is seed.cards[3]


def test_duplicate_questions_get_distinct_ids() -> None:
    text = _export(("What is drift?", "• A change in inputs."), ("What is drift?", "• Decay."))
    deck = parse_deck(text, source="tiny.txt", format="brainscape")
    assert [c.id for c in deck.cards] == ["drift", "drift-2"]


def test_prose_answer_is_split_into_points() -> None:
    answer = "Compare feature distributions over time.\nRetrain the model on recent data."
    deck = parse_deck(_export(("What is drift?", answer)), source="t.txt", format="brainscape")
    assert [p.text for p in deck.cards[0].points] == [
        "Compare feature distributions over time.",
        "Retrain the model on recent data.",
    ]
    assert deck.cards[0].points[0].section == ""


def test_card_count_mismatch_is_a_warning() -> None:
    text = _export(("What is drift?", "• A change in inputs.")).replace("(1 cards)", "(3 cards)")
    deck = parse_deck(text, source="t.txt", format="brainscape")
    assert any("3 cards" in w for w in deck.warnings)


def test_card_without_answer_line_names_file_and_line() -> None:
    text = "Deck\n\n1\nQ\n\nWhat is drift?\n\nHow well did you know this?\n1\n"
    with pytest.raises(DeckError, match=r"^bad\.txt:4: card 1 has a 'Q' line but no 'A' line"):
        parse_deck(text, source="bad.txt", format="brainscape")


def test_export_without_cards_is_an_error() -> None:
    with pytest.raises(DeckError, match=r"^bad\.txt: no cards found"):
        parse_deck("Just a title\n", source="bad.txt", format="brainscape")
