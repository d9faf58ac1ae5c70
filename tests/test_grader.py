"""The fuzzy grader's behaviours: what counts as covering a point, and the 1-5 score."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import Alias, Card, Point, grade, load_deck
from grader.result import PointResult
from grader.scoring import Thresholds, coverage_of, score_points

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def deck():  # type: ignore[no-untyped-def]
    return load_deck(ROOT / "decks" / "mlops.md")


@pytest.fixture(scope="module")
def churn(deck):  # type: ignore[no-untyped-def]
    """Card 1: deploying a churn model and generalising to a new segment (9 points)."""
    return deck.card("1")


@pytest.fixture(scope="module")
def release(deck):  # type: ignore[no-untyped-def]
    """Card 6: rolling out a new routing system (canary, blue-green, feature flags, ...)."""
    return deck.card("6")


def status(result, point_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(p.status for p in result.points if p.id == point_id)


def reference_answer(card: Card) -> str:
    return "\n".join(p.text for p in card.points)


def test_the_reference_itself_scores_5(deck) -> None:  # type: ignore[no-untyped-def]
    for card in deck.cards:
        result = grade(card, reference_answer(card))
        assert result.score == 5, card.id
        assert result.missing == []


def test_empty_answer_scores_1_with_every_point_missing_and_a_warning(churn) -> None:  # type: ignore[no-untyped-def]
    result = grade(churn, "   \n ")
    assert result.score == 1
    assert len(result.missing) == len(churn.points)
    assert any("empty" in w for w in result.warnings)


def test_off_topic_answer_scores_1_and_warns(churn) -> None:  # type: ignore[no-untyped-def]
    result = grade(churn, "Photosynthesis turns sunlight, water and carbon dioxide into glucose.")
    assert result.score == 1
    assert any("matches none" in w for w in result.warnings)


def test_a_card_with_nothing_to_grade_by_scores_1_and_says_so() -> None:
    card = Card("c", "Q?", (Point("1.1", "", "the of and"), Point("1.2", "", "...")))
    result = grade(card, "...")
    assert result.score == 1 and result.missing == ["the of and", "..."]
    assert not any(p.contradicted for p in result.points)
    assert any("no words to grade by" in w for w in result.warnings)


def test_typo_still_covers_the_point(churn) -> None:  # type: ignore[no-untyped-def]
    result = grade(churn, "monitering drift in the input featurs over time")
    assert status(result, "2.4") == "covered"


def test_word_forms_match_retrain_and_retraining(churn) -> None:  # type: ignore[no-untyped-def]
    a = grade(churn, "retraining the model on data from the new segment")
    b = grade(churn, "retrain the model on data from the new segment")
    assert status(a, "2.2") != "missing"
    assert status(a, "2.2") == status(b, "2.2")


def test_short_look_alike_words_do_not_match() -> None:
    card = Card("c", "What matters after release?", (Point("1.1", "", "Model drift."),))
    assert grade(card, "the draft of a modal").points[0].status == "missing"
    assert grade(card, "the model drfit").points[0].status == "covered"


def test_negated_mention_does_not_cover_the_point(churn) -> None:  # type: ignore[no-untyped-def]
    said = grade(churn, "Monitor drift: track changes in input features and predictions.")
    denied = grade(churn, "There is no need to monitor drift or track changes in features.")
    assert status(said, "2.4") == "covered"
    assert status(denied, "2.4") == "missing"
    assert next(p for p in denied.points if p.id == "2.4").contradicted


def test_denying_a_point_scores_lower_than_not_mentioning_it(churn) -> None:  # type: ignore[no-untyped-def]
    base = "Package the model with its preprocessing steps and test the inference pipeline."
    plain = grade(churn, base)
    denied = grade(churn, base + " Drift monitoring is not necessary.")
    assert denied.coverage < plain.coverage


def test_a_negated_negation_covers_the_point(deck) -> None:  # type: ignore[no-untyped-def]
    card = deck.card("7")
    plain = grade(card, "Run the critical payment tests first.")
    doubled = grade(card, "Don't skip the critical payment tests; run those first.")
    assert status(doubled, "1.1") == status(plain, "1.1") != "missing"
    assert doubled.score >= plain.score and not doubled.warnings


def test_an_alternative_chosen_against_is_denied_without_unsaying_the_choice(release) -> None:  # type: ignore[no-untyped-def]
    chosen = grade(release, "Use a canary release instead of blue-green.")
    assert next(p for p in chosen.points if p.id == "1.2").contradicted
    assert status(chosen, "1.1") == "covered" and chosen.score >= 2


def test_a_denied_point_never_unsays_the_covered_ones(release) -> None:  # type: ignore[no-untyped-def]
    plain = grade(release, "Use a canary release.")
    result = grade(release, "Blue-green is too risky, so I'd skip it and use a canary release.")
    assert next(p for p in result.points if p.id == "1.2").contradicted
    assert status(result, "1.1") == "covered"
    assert 0 < result.coverage < plain.coverage
    assert result.score >= 2  # a covered point is never "1 Not at all"


def _point(status: str, credit: float, contradicted: bool = False) -> PointResult:
    return PointResult("1.1", "", "p", status, None, None, credit, contradicted)  # type: ignore[arg-type]


def test_contradictions_cost_a_point_each_but_at_most_half_the_credit() -> None:
    covered = [_point("covered", 1.0)] * 3
    denied = _point("missing", 0.0, contradicted=True)
    assert coverage_of([*covered, denied]) == pytest.approx(0.7 * 2 / 4)  # 3 earned, 1 lost
    assert coverage_of([covered[0], denied, denied, denied]) == pytest.approx(0.7 * 0.5 / 4)


def test_a_covered_point_scores_at_least_2_whatever_the_thresholds() -> None:
    points = [_point("covered", 1.0)] + [_point("missing", 0.0)] * 30
    assert score_points(points, thresholds=Thresholds(0.5, 0.6, 0.7, 0.8)) == (
        pytest.approx(0.7 / 31),
        2,
    )


def test_alias_covers_the_term_it_stands_for() -> None:
    point = Point(
        "1.1",
        "Strategy",
        "Staged rollout: deploy to a subset of users first.",
        aliases=(Alias("staged rollout", ("canary",)),),
    )
    card = Card("c", "How would you release it?", (point,))
    assert grade(card, "a canary").points[0].status != "missing"


def test_hyphen_and_slash_forms_match(release) -> None:  # type: ignore[no-untyped-def]
    for answer in ("blue-green deployment", "blue/green deployment", "blue green deployment"):
        assert status(grade(release, answer), "1.2") == "covered", answer


def test_curly_quotes_and_accents_are_folded() -> None:
    card = Card("c", "Q?", (Point("1.1", "", "Use the café’s naïve cache."),))
    assert grade(card, "use the cafe's naive cache").points[0].status == "covered"


def test_evidence_between_equal_clauses_is_the_one_with_the_point_s_own_words(churn) -> None:  # type: ignore[no-untyped-def]
    # 3.2, "Adjust thresholds ... for the new segment": "new segment" is the question's too
    result = grade(churn, "Validate on the new segment. Adjust thresholds.")
    evidence = {p.id: p.evidence for p in result.points}
    assert evidence["3.2"] == "Adjust thresholds"
    assert evidence["2.1"] == "Validate on the new segment"


def test_evidence_is_a_verbatim_span_of_the_answer(churn) -> None:  # type: ignore[no-untyped-def]
    answer = "First I would retrain the model on the new segment. Then monitor drift weekly."
    result = grade(churn, answer)
    for p in result.points:
        if p.status != "missing":
            assert p.evidence and p.evidence in answer
            assert p.span is not None and answer[p.span[0] : p.span[1]] == p.evidence
    assert "monitor drift" in next(p.evidence for p in result.points if p.id == "2.4")


def test_characters_that_fold_to_nothing_leave_the_similarity_alone(release) -> None:  # type: ignore[no-untyped-def]
    plain = grade(release, "monitor drift retrain")
    for odd in ("\uff9e", "\u037a"):  # word characters that fold to "" and to a space
        assert grade(release, f"{odd} monitor drift retrain").similarity == plain.similarity


def test_more_points_covered_never_scores_lower(churn) -> None:  # type: ignore[no-untyped-def]
    texts = [p.text for p in churn.points]
    scores = [grade(churn, " ".join(texts[:n])).score for n in range(1, len(texts) + 1)]
    assert scores == sorted(scores)


def test_grading_is_deterministic(churn) -> None:  # type: ignore[no-untyped-def]
    answer = "retrain on the new segment, monitor drift, package preprocessing"
    assert grade(churn, answer) == grade(churn, answer)


def test_strictness_moves_the_score(churn) -> None:  # type: ignore[no-untyped-def]
    answer = " ".join(p.text for p in churn.points[:3])
    lenient = grade(churn, answer, strictness="lenient").score
    normal = grade(churn, answer).score
    strict = grade(churn, answer, strictness="strict").score
    assert lenient >= normal >= strict
    assert lenient > strict


def test_unknown_strictness_is_refused(churn) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="strictness"):
        grade(churn, "x", strictness="harsh")  # type: ignore[arg-type]


def test_custom_thresholds_are_used(churn) -> None:  # type: ignore[no-untyped-def]
    answer = churn.points[0].text
    assert grade(churn, answer, thresholds=Thresholds(0.0, 0.0, 0.0, 0.0)).score == 5


def test_thresholds_must_rise() -> None:
    with pytest.raises(ValueError):
        Thresholds(0.5, 0.4, 0.6, 0.8)


def test_a_huge_answer_is_graded_quickly(churn) -> None:  # type: ignore[no-untyped-def]
    import time

    answer = ("retrain the model and monitor drift on the new segment. " * 2000)[:100_000]
    start = time.perf_counter()
    result = grade(churn, answer)
    assert 1 <= result.score <= 5
    assert time.perf_counter() - start < 5  # generous: it takes well under a second


def test_json_object_has_the_design_keys(churn) -> None:  # type: ignore[no-untyped-def]
    data = grade(churn, "retrain the model").to_dict()
    assert set(data) >= {"score", "coverage", "method", "points", "missing", "warnings"}
    assert data["method"] == "fuzzy"
    assert set(data["points"][0]) == {"id", "section", "text", "status", "evidence", "contradicted"}


answers = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=400) | st.lists(
    st.sampled_from(
        "retrain monitor drift not no segment model package preprocessing thresholds "
        "canary blue-green feature flags , . ; the a of -".split()
    ),
    max_size=60,
).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(answer=answers)
def test_score_is_always_1_to_5_and_statuses_match_missing(answer: str) -> None:
    card = load_deck(ROOT / "decks" / "mlops.md").card("1")
    result = grade(card, answer)
    assert 1 <= result.score <= 5
    assert 0.0 <= result.coverage <= 1.0
    assert result.missing == [p.text for p in result.points if p.status == "missing"]
    assert [p.id for p in result.points] == [p.id for p in card.points]
    for p in result.points:
        assert (p.status == "missing") == (p.evidence is None)
        if p.evidence is not None:
            assert p.evidence in answer


def test_shorthand_in_notes_counts_as_the_word(deck) -> None:  # type: ignore[no-untyped-def]
    card = deck.card("7")
    said = grade(card, "chk the crit pymnt flows 1st", matcher="fuzzy")
    spelled = grade(card, "check the critical payment flows first", matcher="fuzzy")
    assert status(said, "1.1") != "missing"
    assert said.coverage > 0.5 * spelled.coverage


def test_ordinary_words_are_not_taken_for_abbreviations(churn) -> None:  # type: ignore[no-untyped-def]
    result = grade(churn, "I sent it, it rained, and my fate was told.", matcher="fuzzy")
    assert all(p.status == "missing" for p in result.points)
