"""grade() with the LLM rubric against a real local HTTP server speaking chat completions."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import (
    FakeOpenAI,
    content,
    refusal,
    rejects_formats,
    running,
    slow,
    status,
    verdicts,
)

from grader import grade, grade_async
from grader.cards import Alias, Card, Point
from grader.llm import AsyncLLMClient, LLMClient, LLMConfigError, LLMError
from grader.rubric import PROMPT_VERSION

KEY = "sk-test-SECRET-0123456789"
CARD = Card(
    id="rollout",
    question="How would you roll out a new version of a routing service safely?",
    points=(
        Point(
            "1.1",
            "Staged rollout",
            "Staged rollout / Canary releases: Deploy to a small subset of users first to monitor impact.",  # noqa: E501
            (Alias("staged rollout", ("canary release", "canary")),),
        ),
        Point(
            "1.2",
            "Staged rollout",
            "Rollback plan: revert to the previous version quickly if issues arise.",
        ),
        Point(
            "2.1",
            "Monitoring",
            "Monitoring & alerting: track errors, latency and key metrics in real time.",
        ),
        Point(
            "2.2",
            "Testing",
            "Automated testing: unit, integration and end-to-end tests before deployment.",
        ),
    ),
)
ANSWER = "We ship it to 5% of users first and watch what happens, then everyone gets it."
PARAPHRASE = verdicts({"1.1": ("covered", "ship it to 5% of users first")})


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with running() as server:
        yield server


def client(fake: FakeOpenAI, timeout: float = 2.0) -> LLMClient:
    return LLMClient(model="fake-model", base_url=fake.url, api_key=KEY, timeout=timeout)


def status_of(result, point_id: str) -> str:  # type: ignore[no-untyped-def]
    return next(p.status for p in result.points if p.id == point_id)


def test_valid_verdicts_give_paraphrase_credit_that_fuzzy_misses(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    fuzzy = grade(CARD, ANSWER)
    result = grade(CARD, ANSWER, llm=client(fake))
    assert status_of(fuzzy, "1.1") != "covered"
    assert status_of(result, "1.1") == "covered"
    point = next(p for p in result.points if p.id == "1.1")
    assert point.evidence is not None and point.evidence in ANSWER
    assert result.method == "llm"
    assert result.coverage > fuzzy.coverage and result.score >= fuzzy.score
    assert result.grader_version.endswith(f"+prompt.{PROMPT_VERSION}")
    usage = result.llm_usage
    assert usage is not None and usage["model"] == "fake-model" and usage["cached"] is False
    assert usage["prompt_tokens"] == 120 and usage["completion_tokens"] == 40
    request = fake.calls[0].body
    assert request["temperature"] == 0 and request["model"] == "fake-model"
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert fake.calls[0].headers["authorization"] == f"Bearer {KEY}"


def test_llm_never_removes_fuzzy_credit(fake: FakeOpenAI) -> None:
    answer = "Canary releases to a small subset of users first; rollback plan to revert quickly."
    fake.script(verdicts({}))  # the model says every point is missing
    fuzzy = grade(CARD, answer)
    result = grade(CARD, answer, llm=client(fake))
    assert result.method == "llm"
    assert [p.status for p in result.points] == [p.status for p in fuzzy.points]
    assert result.score == fuzzy.score


def test_contradictions_are_returned_and_shown(fake: FakeOpenAI) -> None:
    answer = ANSWER + " Monitoring is not needed at all."
    fake.script(
        verdicts(
            {"1.1": ("covered", "ship it to 5% of users first")},
            incorrect=lambda call: ["Monitoring is not needed at all.", "made up claim"],
        )
    )
    result = grade(CARD, answer, llm=client(fake))
    assert result.incorrect == ("Monitoring is not needed at all",)
    assert any("contradicts" in w and "Monitoring is not needed" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("behaviour", "why"),
    [
        (content('{"points": [{"id": "1.1", "verdict": "covered"'), "not JSON"),
        (
            content('{"points": [{"id": "1.1", "verdict": "definitely", "evidence": null}]}'),
            "schema",
        ),
        (content('{"points": "all covered", "incorrect": []}'), "schema"),
        (
            content(
                '{"points": [{"id": "7.7", "verdict": "covered", "evidence": "ship it"}], '
                '"incorrect": []}'
            ),
            "unknown point ids: 7.7",
        ),
        (
            content(
                '{"points": [{"id": "1.1", "verdict": "missing", "evidence": null}], "incorrect": []}'  # noqa: E501
            ),
            "no verdict for points 1.2",
        ),
        (refusal(), "refused"),
        (content("I'm sorry, I cannot grade this answer."), "refused"),
        (status(401, "Incorrect API key provided"), "HTTP 401"),
        (status(404, "model not found"), "HTTP 404"),
    ],
)
def test_unusable_replies_fall_back_to_fuzzy_with_a_reason(
    fake: FakeOpenAI, behaviour, why: str
) -> None:  # type: ignore[no-untyped-def]
    fake.script(behaviour)
    result = grade(CARD, ANSWER, llm=client(fake))
    fuzzy = grade(CARD, ANSWER)
    assert result.method == "fuzzy"
    assert result.score == fuzzy.score and result.points == fuzzy.points
    assert any("fuzzy grade" in w and why in w for w in result.warnings), result.warnings
    assert fake.count == 1  # 4xx and bad replies are never retried


LONG = "x" * 5000
_MISSING = [{"id": i, "verdict": "missing", "evidence": None} for i in ("1.2", "2.1", "2.2")]


@pytest.mark.parametrize(
    "points",
    [
        [{"id": "1.1", "verdict": LONG, "evidence": None}, *_MISSING],
        [{"id": LONG, "verdict": "covered", "evidence": "ship it"}, *_MISSING],
        [{"id": LONG, "verdict": "missing", "evidence": None}] * 2,
    ],
    ids=["verdict", "unknown id", "repeated id"],
)
def test_model_text_copied_into_a_warning_is_cut_to_300_characters(
    fake: FakeOpenAI, points
) -> None:  # type: ignore[no-untyped-def]
    fake.script(content(json.dumps({"points": points, "incorrect": []})))
    result = grade(CARD, ANSWER, llm=client(fake))
    assert result.method == "fuzzy"
    [why] = [w for w in result.warnings if "the LLM rubric was not used" in w]
    assert "x" * 250 in why and why.count("x") <= 300 and "…" in why


def test_fabricated_quotes_earn_nothing(fake: FakeOpenAI) -> None:
    fake.script(
        verdicts(
            {
                "1.1": ("covered", "we deploy to a canary group of 5% of users first"),
                "2.1": ("covered", "we track errors and latency in real time"),
            }
        )
    )
    result = grade(CARD, ANSWER, llm=client(fake))
    assert result.method == "fuzzy"
    assert result.score == grade(CARD, ANSWER).score
    assert any("not in the answer" in w for w in result.warnings)


def test_quotes_unrelated_to_the_point_earn_nothing(fake: FakeOpenAI) -> None:
    fake.script(
        verdicts(
            {
                "1.1": ("covered", "ship it to 5% of users first"),
                "2.2": ("covered", "then everyone gets it"),
            }
        )
    )
    result = grade(CARD, ANSWER, llm=client(fake))
    assert status_of(result, "1.1") == "covered" and status_of(result, "2.2") == "missing"
    assert any("point 2.2" in w and "does not match" in w for w in result.warnings)


def test_429_with_retry_after_then_success(fake: FakeOpenAI) -> None:
    fake.script(status(429, "slow down", headers={"retry-after": "0.15"}), PARAPHRASE)
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=client(fake))
    elapsed = time.monotonic() - start
    assert result.method == "llm" and fake.count == 2
    assert elapsed >= 0.15  # the server's Retry-After was honoured


def test_429_asking_for_longer_than_the_budget_falls_back_at_once(fake: FakeOpenAI) -> None:
    fake.script(status(429, "slow down", headers={"retry-after": "30"}))
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=client(fake, timeout=2.0))
    assert time.monotonic() - start < 1.0 and fake.count == 1
    assert any("Retry-After 30 s exceeds" in w for w in result.warnings), result.warnings


def test_repeated_500s_are_retried_then_fall_back_within_the_deadline(fake: FakeOpenAI) -> None:
    fake.script(status(500, "upstream exploded"))
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=client(fake, timeout=0.4))
    elapsed = time.monotonic() - start
    assert result.method == "fuzzy" and 2 <= fake.count <= 6
    assert elapsed < 0.4 + 1.0
    assert any("HTTP 500" in w for w in result.warnings)


def test_500_then_success_is_retried(fake: FakeOpenAI) -> None:
    fake.script(status(503, "busy"), status(502, "bad gateway"), PARAPHRASE)
    result = grade(CARD, ANSWER, llm=client(fake))
    assert result.method == "llm" and fake.count == 3


def test_a_reply_slower_than_the_deadline_falls_back_within_deadline_plus_one_second(
    fake: FakeOpenAI,
) -> None:
    fake.script(slow(5.0, PARAPHRASE))
    deadline = 0.5
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=client(fake, timeout=deadline))
    elapsed = time.monotonic() - start
    assert result.method == "fuzzy"
    assert deadline * 0.8 <= elapsed < deadline + 1.0, elapsed
    assert any("time budget of 0.5 s" in w for w in result.warnings), result.warnings


def test_async_slow_reply_falls_back_within_deadline_plus_one_second(fake: FakeOpenAI) -> None:
    fake.script(slow(5.0, PARAPHRASE))
    llm = AsyncLLMClient(model="m", base_url=fake.url, api_key=KEY, timeout=0.5)
    start = time.monotonic()
    result = asyncio.run(grade_async(CARD, ANSWER, llm=llm))
    assert result.method == "fuzzy" and time.monotonic() - start < 0.5 + 1.0


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """A server that sends its headers at once and then its body a byte every 0.1 s: each
    read is quick, so only a deadline for the whole reply stops it."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                body = b'{"choices": []}' * 20
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                conn.sendall(f"{head}Content-Length: {len(body)}\r\n\r\n".encode())
                for byte in body:
                    if stop.wait(0.1):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join()
        listener.close()


def test_a_reply_that_trickles_in_falls_back_within_deadline_plus_one_second(
    trickling_server: str,
) -> None:
    llm = LLMClient(model="m", base_url=trickling_server, api_key=KEY, timeout=0.5)
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=llm)
    assert result.method == "fuzzy" and time.monotonic() - start < 0.5 + 1.0
    assert any("time budget" in w for w in result.warnings), result.warnings


def test_the_sync_client_goes_through_the_proxy_of_the_environment(
    fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = fake.url.split("/v1")[0]  # the fake answers a proxied request as well
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    fake.script(PARAPHRASE)
    llm = LLMClient(model="m", base_url="http://llm.invalid/v1", api_key=KEY, timeout=2.0)
    assert grade(CARD, ANSWER, llm=llm).method == "llm" and fake.count == 1


def test_connection_refused_falls_back() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = LLMClient(model="m", base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY, timeout=0.4)
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=llm)
    assert result.method == "fuzzy" and time.monotonic() - start < 0.4 + 1.0
    assert any("cannot connect" in w for w in result.warnings), result.warnings


@pytest.mark.parametrize("rejected", [("json_schema",), ("json_schema", "json_object")])
def test_servers_refusing_structured_output_fall_back_to_json_mode_then_text(
    fake: FakeOpenAI, rejected: tuple[str, ...]
) -> None:
    fake.script(rejects_formats(PARAPHRASE, rejected=rejected))
    llm = client(fake)
    result = grade(CARD, ANSWER, llm=llm)
    assert result.method == "llm"
    expected = "json_object" if rejected == ("json_schema",) else "text"
    assert llm.mode == expected
    sent = fake.count
    grade(CARD, ANSWER + " Also monitor latency.", llm=llm)  # remembered: no rejected request
    assert fake.count == sent + 1 and fake.calls[-1].format == (
        None if expected == "text" else expected
    )


def test_identical_requests_are_answered_from_the_cache(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    llm = client(fake)
    first = grade(CARD, ANSWER, llm=llm)
    second = grade(CARD, ANSWER, llm=llm)
    assert fake.count == 1
    assert second.points == first.points and second.method == "llm"
    assert second.llm_usage is not None and second.llm_usage["cached"] is True
    grade(CARD, ANSWER + " ", llm=llm)  # a different answer is a different request
    other = LLMClient(model="other-model", base_url=fake.url, api_key=KEY, cache=llm.cache)
    grade(CARD, ANSWER, llm=other)  # and so is another model
    assert fake.count == 3


def test_invalid_replies_are_not_cached(fake: FakeOpenAI) -> None:
    fake.script(content("{oops"), PARAPHRASE)
    llm = client(fake)
    assert grade(CARD, ANSWER, llm=llm).method == "fuzzy"
    assert grade(CARD, ANSWER, llm=llm).method == "llm"
    assert fake.count == 2


def test_the_api_key_never_appears_in_warnings_errors_or_repr(fake: FakeOpenAI) -> None:
    fake.script(status(401, f"Incorrect API key provided: {KEY}"))
    llm = client(fake)
    result = grade(CARD, ANSWER, llm=llm)
    assert KEY not in repr(llm) and KEY not in str(result) and KEY not in str(result.to_dict())
    assert all(KEY not in w for w in result.warnings)
    with pytest.raises(LLMError) as caught:
        llm.complete([{"role": "user", "content": "hi"}])
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert caught.value.__cause__ is None  # the SDK error (with its request) is not chained


def test_async_client_grades_like_the_sync_one(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    llm = AsyncLLMClient(model="fake-model", base_url=fake.url, api_key=KEY, timeout=2.0)

    async def both() -> tuple[object, object]:
        first = await grade_async(CARD, ANSWER, llm=llm)
        second = await grade_async(CARD, ANSWER, llm=llm)
        return first, second

    first, second = asyncio.run(both())
    assert first.method == "llm" and status_of(first, "1.1") == "covered"  # type: ignore[attr-defined]
    assert second.llm_usage["cached"] is True and fake.count == 1  # type: ignore[attr-defined]
    assert first.points == grade(CARD, ANSWER, llm=client(fake)).points  # type: ignore[attr-defined]


def test_an_empty_answer_is_not_sent(fake: FakeOpenAI) -> None:
    result = grade(CARD, "   ", llm=client(fake))
    assert fake.count == 0 and result.score == 1 and result.method == "fuzzy"


def test_clients_given_to_the_wrong_grade_function_never_break_grading(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    sync_result = asyncio.run(grade_async(CARD, ANSWER, llm=client(fake)))
    assert sync_result.method == "llm"  # run in a thread, the event loop stays free
    async_client = AsyncLLMClient(model="m", base_url=fake.url, api_key=KEY, timeout=1.0)
    result = grade(CARD, ANSWER, llm=async_client)
    assert result.method == "fuzzy" and any("grade_async" in w for w in result.warnings)


# --- review fixes: retry warnings, text that is not Unicode, settings, async caches -------


def test_429_whose_retry_after_outlasts_the_time_left_says_so(fake: FakeOpenAI) -> None:
    fake.script(status(429, "slow down", headers={"retry-after": "0.1"}))
    start = time.monotonic()
    result = grade(CARD, ANSWER, llm=client(fake, timeout=0.25))
    assert time.monotonic() - start < 0.25 + 1.0 and fake.count >= 2
    [warning] = [w for w in result.warnings if "HTTP 429" in w]
    assert "Retry-After 0.1 s exceeds the" in warning
    assert "s left of the time budget of 0.25 s" in warning


def test_429_until_the_attempts_run_out_says_so(fake: FakeOpenAI) -> None:
    fake.script(status(429, "slow down", headers={"retry-after": "0"}))
    result = grade(CARD, ANSWER, llm=client(fake))
    assert fake.count == 6
    assert any(
        "after 6 attempts; gave up after the most attempts allowed" in w for w in result.warnings
    )
    assert not any("exceeds" in w for w in result.warnings)


def test_answers_that_are_not_valid_unicode_never_break_grading(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    answer = ANSWER + " \udcff\udc80"  # undecodable bytes, as surrogateescape reads them
    result = grade(CARD, answer, llm=client(fake))
    assert result.method == "llm" and status_of(result, "1.1") == "covered"
    assert "\ufffd" in fake.calls[0].user and "\udcff" not in fake.calls[0].user
    llm = AsyncLLMClient(model="m", base_url=fake.url, api_key=KEY, timeout=2.0)
    assert asyncio.run(grade_async(CARD, answer, llm=llm)).method == "llm"


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 0.0, -1.0])
def test_timeouts_that_are_not_positive_and_finite_are_config_errors(timeout: float) -> None:
    with pytest.raises(LLMConfigError, match="FLASHGRADE_LLM_TIMEOUT"):
        LLMClient(model="m", base_url="http://127.0.0.1:9/v1", timeout=timeout)


class ThreadRecordingCache:
    """A cache that blocks, like the web app's database: records the threads it runs on."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.threads: list[int] = []

    def get(self, key: str) -> str | None:
        self.threads.append(threading.get_ident())
        return self.data.get(key)

    def set(self, key: str, value: str) -> None:
        self.threads.append(threading.get_ident())
        self.data[key] = value


def test_the_async_client_uses_a_blocking_cache_off_the_event_loop(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    cache = ThreadRecordingCache()
    llm = AsyncLLMClient(model="m", base_url=fake.url, api_key=KEY, timeout=2.0, cache=cache)

    async def twice() -> int:
        await grade_async(CARD, ANSWER, llm=llm)
        second = await grade_async(CARD, ANSWER, llm=llm)
        assert second.llm_usage is not None and second.llm_usage["cached"] is True
        return threading.get_ident()

    loop_thread = asyncio.run(twice())
    assert len(cache.threads) == 3 and loop_thread not in cache.threads  # get, set, get
    assert fake.count == 1


def test_the_async_client_closes_the_sdk_of_a_finished_event_loop(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    llm = AsyncLLMClient(model="m", base_url=fake.url, api_key=KEY, timeout=2.0)
    asyncio.run(grade_async(CARD, ANSWER, llm=llm))
    [first] = llm._sdks.values()
    asyncio.run(grade_async(CARD, ANSWER + " Then monitor.", llm=llm))
    assert first.is_closed() and len(llm._sdks) == 1 and first not in llm._sdks.values()


def test_the_endpoint_is_part_of_the_cache_key(fake: FakeOpenAI) -> None:
    fake.script(PARAPHRASE)
    llm = client(fake)
    grade(CARD, ANSWER, llm=llm)
    with running() as other:
        other.script(PARAPHRASE)
        elsewhere = LLMClient(model="fake-model", base_url=other.url, api_key=KEY, cache=llm.cache)
        grade(CARD, ANSWER, llm=elsewhere)
        assert other.count == 1  # same model name, another server: not answered from the cache


def test_the_llm_branch_does_not_import_grade() -> None:
    import ast

    import grader.llm_grade

    tree = ast.parse(Path(grader.llm_grade.__file__).read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "grader.grade" not in imported  # no cycle: grade() hands it the fuzzy grade
