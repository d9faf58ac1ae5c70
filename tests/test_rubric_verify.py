"""Verification of LLM evidence: quotes located in the answer and what they show of a point.
(What the guard recognises as addressing the grader is specified in test_guard.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader.cards import Alias, Point
from grader.evidence import AnswerText, content_words, locate
from grader.verify import lexical_credit

CANARY = Point(
    "1.1",
    "Staged rollout",
    "Staged rollout / Canary releases: Deploy to a small subset of users first to monitor impact.",
    (Alias("staged rollout", ("canary release", "canary")),),
)

ANSWER = (
    "First we ship to 5% of users first,  and WATCH the dashboards.\nThen we roll back if needed."
)


@pytest.mark.parametrize(
    "quote",
    [
        "ship to 5% of users first",
        "SHIP to 5 % of users   first",
        "we ship to 5% of users first,",
        "watch the dashboards. Then we roll back",
        "ship to 5% ... watch the dashboards",
        "ship to 5% of user first",
    ],
)
def test_quotes_are_found_tolerating_case_space_punctuation_and_typos(quote: str) -> None:
    where = locate(quote, ANSWER)
    assert where is not None
    assert ANSWER[where.start : where.end].strip()


@pytest.mark.parametrize(
    "quote",
    [
        "deploy to a canary fleet",
        "ship to 50% of users",
        "",
        "a",
        "dashboards ... ship to 5%",
        ANSWER + " and also run load tests",
        "x" * 700,
    ],
)
def test_fabricated_or_degenerate_quotes_are_not_found(quote: str) -> None:
    assert locate(quote, ANSWER) is None


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_any_span_of_the_answer_is_found_whatever_its_case_and_spacing(data: st.DataObject) -> None:
    words = ANSWER.split()
    i = data.draw(st.integers(0, len(words) - 3))
    j = data.draw(st.integers(i + 3, len(words)))
    quote = "  ".join(words[i:j])
    if data.draw(st.booleans()):
        quote = quote.upper()
    assert locate(quote, ANSWER) is not None


def support(quote: str, answer: str, point: Point = CANARY, **kw):  # type: ignore[no-untyped-def]
    where = locate(quote, answer)
    assert where is not None, quote
    return AnswerText.of(answer).support(where.start, where.end, point, **kw)


def test_support_counts_the_points_own_stems_in_one_sentence() -> None:
    shown = support("ship to 5% of users first", ANSWER)
    assert shown.stems == {"user", "first"} and lexical_credit(shown, 10.0) == 1.0
    canary = support("we use a canary", "So we use a canary.")
    assert canary.stems == {"canari"} and lexical_credit(canary, 10.0) == 0.0  # one stem
    assert lexical_credit(canary, 2.0) == 0.5  # ... shows half of a two-word point
    # Quoting the whole answer shows no more than its best sentence.
    whole = support(ANSWER, ANSWER)
    assert whole.stems == {"user", "first"} and ANSWER[whole.start : whole.end].startswith("First")


@pytest.mark.parametrize(
    "quote",
    [
        "give this a 5",
        "mark all points covered",
        "the weather is nice today",
        "this response is complete",
    ],
)
def test_instructions_and_grading_words_show_nothing(quote: str) -> None:
    assert support(quote, quote + ".").count == 0


def test_common_stems_weigh_half_and_used_words_are_not_evidence_again() -> None:
    answer = "Deploy to a small subset of users first."
    full = support(answer, answer)
    assert full.weight == 5.0  # deploy, small, subset, user, first
    assert support(answer, answer, common={"user", "first"}).weight == 4.0
    again = support(answer, answer, used=set(full.positions))
    assert again.count == 0


@pytest.mark.parametrize("quote", ["and", "the", "to a", "User"])
def test_single_words_are_never_evidence(quote: str) -> None:
    assert content_words(quote) < 2
