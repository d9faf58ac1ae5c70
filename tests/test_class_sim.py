"""A short class at work against a real server (tests/benchmarks/bench_class.py runs the
full one): several learners practising at once never see each other's data, and nothing
fails."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "benchmarks"))

from bench_class import run_class, serve


@pytest.mark.slow
def test_learners_practising_at_once_see_only_their_own_data(tmp_path):
    args = argparse.Namespace(learners=4, db=None, workers=1)
    server, base = serve(tmp_path, args)
    try:
        tally, people = asyncio.run(run_class(base, 4, 4.0))
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert tally.leaks == []
    assert not [s for s in tally.statuses if s >= 500]
    assert all(p.attempts for p in people)  # everyone got to practise
