"""Fuzzy grading in worker processes: a worker that stalls cannot hold up the grades."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from grader import load_deck
from web.offline_grading import OfflineGrader, grade_one

ANSWER = "Package the model with its preprocessing and monitor it."


@pytest.fixture
def card(mlops_md):  # type: ignore[no-untyped-def]
    return load_deck(mlops_md).card("1")


async def _stalled_then_graded(card, timeout: float):  # type: ignore[no-untyped-def]
    """Grade once, stop the worker (SIGSTOP: alive, silent), grade again, then once more: the
    second grade, the time it took, the stopped worker's exit status, the stopped worker, the
    worker in the pool after it (and whether it was alive) and the third grade."""
    grader = OfflineGrader(workers=1, strictness="normal", timeout=timeout)
    await grader.start([card])
    try:
        await grader.grade(card, ANSWER)
        [stalled] = grader._pool
        os.kill(stalled.process.pid, signal.SIGSTOP)
        started = time.monotonic()
        result = await grader.grade(card, ANSWER)
        took = time.monotonic() - started
        returncode = await asyncio.wait_for(stalled.process.wait(), 5)
        after = await grader.grade(card, ANSWER)
        [fresh] = grader._pool
        return result, took, returncode, stalled, (fresh, fresh.alive), after
    finally:
        await grader.close()


def test_a_stalled_worker_gives_way_to_an_in_process_grade_after_the_deadline(card):
    result, took, *_ = asyncio.run(_stalled_then_graded(card, timeout=0.5))
    assert result == grade_one(card, ANSWER, "normal")
    assert 0.5 <= took < 2.0


def test_a_stalled_worker_is_killed_and_replaced_by_one_that_grades(card):
    run = asyncio.run(_stalled_then_graded(card, timeout=0.5))
    _, _, returncode, stalled, (fresh, alive), after = run
    assert returncode == -signal.SIGKILL
    assert fresh is not stalled and alive and fresh.process.pid != stalled.process.pid
    assert after == grade_one(card, ANSWER, "normal")


def test_the_web_app_gives_its_grading_workers_the_configured_deadline(web_settings):
    from fastapi.testclient import TestClient

    from web.app import create_app

    web_settings.grade_worker_timeout = 0.25  # FLASHGRADE_GRADE_WORKER_TIMEOUT
    with TestClient(create_app(web_settings)) as client:
        assert client.app.state.practice.offline.timeout == 0.25
