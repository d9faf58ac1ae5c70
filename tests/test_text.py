"""Normalising text: folding, tokens with offsets, negation scope, splitting references."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from grader.split import split_points
from grader.text import (
    _CLAUSE_BREAK_RE,
    _TOKEN_RE,
    analyse,
    columns,
    negated_positions,
    normalise,
    tokenize,
)


def test_normalise_folds_case_accents_and_curly_quotes() -> None:
    assert normalise("Let’s Überprüfen the CAFÉ") == "lets uberprufen the cafe"


def test_hyphens_and_slashes_split_words() -> None:
    assert normalise("A/B blue-green") == "a b blue green"


def test_compounds_join_hyphenated_words_on_request() -> None:
    assert [t.word for t in tokenize("auto-scaling end-to-end", compounds=True)] == [
        "autoscaling",
        "endtoend",
    ]


def test_number_words_match_digits() -> None:
    assert normalise("two children") == normalise("2 children")


def test_token_offsets_point_into_the_original_text() -> None:
    text = "Let’s  monitor\tdrift—now"
    for token in tokenize(text):
        assert text[token.start : token.end].casefold().replace("’", "") == token.word


def _tokens_by_the_pattern(text: str) -> list[tuple[str, str, int, int, int]]:
    """The tokens as the word pattern finds them, and clauses by counting breaks: the
    definition that the faster ASCII route of :func:`tokenize` must agree with."""
    breaks = [m.start() for m in _CLAUSE_BREAK_RE.finditer(text)]
    return [
        (*analyse(m.group()), m.start(), m.end(), sum(b < m.start() for b in breaks))
        for m in _TOKEN_RE.finditer(text)
    ]


@given(st.text(alphabet=st.sampled_from("ab Z9'’.,;:!?()|•\n\t-_/é"), max_size=60))
def test_tokens_are_the_word_pattern_s_matches_with_their_clauses(text: str) -> None:
    assert [tuple(t) for t in tokenize(text)] == _tokens_by_the_pattern(text)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_every_stem_of_ascii_text_is_one_word(text: str) -> None:
    # the similarity sorts ASCII stems as they are, without splitting them again
    assert all(s and s.split() == [s] for s in columns(text).stems)


def test_columns_cut_to_a_length_keep_offsets_in_step() -> None:
    text = "Monitor drift, then retrain. Roll back on errors."
    head = columns(text).head(3)
    assert head.words == ["monitor", "drift", "then"]
    assert text[slice(*head.span(0, 2))] == "Monitor drift, then"


def test_negation_covers_the_rest_of_its_clause_only() -> None:
    tokens = tokenize("no need to retrain the model, but monitor drift")
    negated = {tokens[i].word for i in negated_positions(tokens)}
    assert {"retrain", "model"} <= negated
    assert "monitor" not in negated and "drift" not in negated


def test_two_negations_cancel() -> None:
    tokens = tokenize("Don't skip the payment tests; never avoid retraining.")
    assert negated_positions(tokens) == set()


def test_a_new_choice_after_and_ends_a_negation() -> None:
    tokens = tokenize("Skip blue-green and use a canary release.")
    negated = {tokens[i].word for i in negated_positions(tokens)}
    assert "bluegreen" in negated or {"blue", "green"} <= negated
    assert "canary" not in negated and "release" not in negated


def test_a_negation_inside_another_cancels_it_for_what_follows() -> None:
    tokens = tokenize("Never deploy the model without packaging the preprocessing steps.")
    negated = {tokens[i].word for i in negated_positions(tokens)}
    assert "deploy" in negated
    assert "packaging" not in negated and "preprocessing" not in negated


def test_denying_predicate_negates_what_came_before() -> None:
    tokens = tokenize("Drift monitoring is not necessary. Retrain often.")
    negated = {tokens[i].word for i in negated_positions(tokens)}
    assert {"drift", "monitoring"} <= negated
    assert "retrain" not in negated


def test_split_points_by_lines_bullets_and_sentences() -> None:
    text = "1. Package the model with preprocessing.\n- Monitor drift over time. Retrain it weekly."
    assert split_points(text) == [
        "Package the model with preprocessing.",
        "Monitor drift over time.",
        "Retrain it weekly.",
    ]


def test_split_points_joins_fragments_too_short_to_grade() -> None:
    assert split_points("Yes. Because the base case is missing.") == [
        "Yes. Because the base case is missing."
    ]


@given(st.text())
def test_tokenize_never_fails_and_offsets_are_ordered(text: str) -> None:
    tokens = tokenize(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))


def test_fold_text_folds_width_accents_invisible_characters_and_look_alikes() -> None:
    from grader.text import fold_text

    assert fold_text("Ｉｇｎｏｒｅ  the\u200b RUBRIC") == "ignore the rubric"
    assert fold_text("\u0406gnore the rubr\u0456c") == "ignore the rubric"  # Cyrillic І, і
    assert fold_text("máxima puntuación") == "maxima puntuacion"
    assert fold_text("Игнорируй") == "игнорируи"  # Russian stays Russian
    assert fold_text("が") == "が"  # kana keep their voicing marks


def test_fold_map_points_each_folded_character_at_its_source() -> None:
    from grader.text import fold_map

    text = "A\u200bß É"
    folded, index = fold_map(text)
    assert folded == "ass e"
    assert [text[i] for i in index] == ["A", "ß", "ß", " ", "É"]


def test_unhide_reads_l33t_and_spaced_letters_and_keeps_offsets() -> None:
    from grader.text import unhide

    folded = "1gn0re the r u b r i c now"
    joined, offsets = unhide(folded)
    assert joined == "ignore the rubric now"
    assert "".join(folded[i] for i in offsets) == "1gn0re the rubric now"


def test_unhide_leaves_numbers_and_ordinary_words_alone() -> None:
    from grader.text import unhide

    for folded in ["route 100 requests to ec2 at 5% first", "plan a or b", ""]:
        assert unhide(folded)[0] == folded
