"""After repeated failures of the LLM endpoint, grading skips it for a cool-down: answers get
the offline grade at once, saying so, instead of each waiting for the whole time budget."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fake_openai import Call, FakeOpenAI, Reply, refusal, running, status, verdicts

from grader import grade
from grader._breaker import Breaker
from grader.cards import Card, Point
from grader.llm import LLMClient

CARD = Card(
    id="rollout",
    question="How would you roll out a new version safely?",
    points=(
        Point("1.1", "Rollout", "Canary release: deploy to a small subset of users first."),
        Point("1.2", "Rollout", "Rollback plan: revert quickly if issues arise."),
    ),
)
ANSWER = "We ship it to 5% of users first and watch, and we can revert quickly."
COVERED = verdicts({"1.1": ("covered", "ship it to 5% of users first")})
SKIPPED = "the LLM is skipped for now"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running() as server:
        yield server


def client(fake: FakeOpenAI, **kw: float) -> LLMClient:
    options = {"timeout": 0.3, **kw}
    return LLMClient(model="m", base_url=fake.url, api_key="sk-test-0123456789", **options)  # type: ignore[arg-type]


class Switch:
    """An endpoint that is down (503, retried until the budget is spent) until switched up."""

    def __init__(self) -> None:
        self.up = False

    def __call__(self, call: Call) -> Reply:
        return COVERED(call) if self.up else status(503, "overloaded")(call)


def test_after_three_failures_in_a_row_the_llm_is_skipped_and_grades_fall_back_at_once(fake):
    fake.script(status(503, "overloaded"))
    llm = client(fake)
    for _ in range(3):
        assert SKIPPED not in " ".join(grade(CARD, ANSWER, llm=llm).warnings)
    sent = fake.count
    started = time.monotonic()
    result = grade(CARD, ANSWER, llm=llm)
    assert time.monotonic() - started < 0.1 and fake.count == sent  # nothing sent, no wait
    assert result.method == "fuzzy" and result.score == grade(CARD, ANSWER).score
    [why] = [w for w in result.warnings if SKIPPED in w]
    assert why.startswith("fuzzy grade: the LLM rubric was not used (the LLM is skipped for now")
    assert "after 3 failed requests in a row (the last: HTTP 503 (overloaded)" in why
    assert "it is tried again in 60 s" in why


def test_after_the_cool_down_one_request_tries_again_and_a_reply_ends_the_skipping(fake):
    endpoint = Switch()
    fake.script(endpoint)
    llm = client(fake, skip_after_failures=1, skip_seconds=0.4)
    assert grade(CARD, ANSWER, llm=llm).method == "fuzzy"
    assert any(SKIPPED in w for w in grade(CARD, ANSWER, llm=llm).warnings)
    endpoint.up = True
    time.sleep(0.45)
    assert grade(CARD, ANSWER, llm=llm).method == "llm"
    assert grade(CARD, ANSWER + " Really.", llm=llm).method == "llm"


def test_a_failed_trial_skips_the_llm_for_another_cool_down(fake):
    fake.script(status(503, "overloaded"))
    llm = client(fake, skip_after_failures=1, skip_seconds=0.4)
    grade(CARD, ANSWER, llm=llm)
    time.sleep(0.45)
    trial = grade(CARD, ANSWER, llm=llm)
    assert not any(SKIPPED in w for w in trial.warnings)  # sent, and failed
    sent = fake.count
    assert any(SKIPPED in w for w in grade(CARD, ANSWER, llm=llm).warnings)
    assert fake.count == sent


def test_refusals_and_request_errors_do_not_count_towards_skipping(fake):
    fake.script(refusal(), status(400, "bad request"), refusal(), COVERED)
    llm = client(fake, skip_after_failures=1)
    for _ in range(3):
        assert grade(CARD, ANSWER, llm=llm).method == "fuzzy"
    assert grade(CARD, ANSWER, llm=llm).method == "llm"
    assert fake.count == 4


def test_skip_after_zero_failures_never_skips(fake):
    fake.script(status(503, "overloaded"))
    llm = client(fake, timeout=0.15, skip_after_failures=0)
    for _ in range(4):
        assert not any(SKIPPED in w for w in grade(CARD, ANSWER, llm=llm).warnings)


def test_while_the_trial_runs_the_other_requests_are_still_skipped():
    now = [0.0]
    breaker = Breaker(1, 10.0, clock=lambda: now[0])
    breaker.failed("HTTP 503")
    assert breaker.skipped() is not None
    now[0] = 10.0
    assert breaker.skipped() is None  # the trial goes ahead
    assert breaker.skipped() is not None  # the others wait for its outcome
    breaker.succeeded()
    assert breaker.skipped() is None and breaker.skipped() is None
