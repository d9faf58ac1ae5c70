"""A class at work: run on demand, not collected by pytest (tests/test_class_sim.py runs a
short one).

    .venv/bin/python tests/benchmarks/bench_class.py [--learners 30] [--seconds 60]
                                                      [--workers 1] [--db URL]

Starts `flashgrade serve` on a free port with a temporary database, creates an admin and
--learners accounts (`flashgrade users add`), signs each learner in through the login form,
then has every learner practise at once for --seconds: next card -> answer -> score, and,
every few answers, their history, their CSV and someone else's attempt. It checks that no
request saw another person's data (every attempt listed is the learner's own; another's
attempt is a 404) and that no request got a 5xx, and prints the request counts and latency.
The exit status is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from serving import wait_until_up  # noqa: E402  (tests/ on the path first)

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Learner:
    name: str
    client: httpx.AsyncClient
    attempts: set[int] = field(default_factory=set)


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)

    def count(self, response: httpx.Response, started: float) -> httpx.Response:
        self.statuses[response.status_code] += 1
        self.latencies.append(time.perf_counter() - started)
        return response


async def request(tally: Tally, client: httpx.AsyncClient, method: str, url: str, **kw):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    return tally.count(await client.request(method, url, **kw), started)


async def sign_in(base: str, name: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:200]
    form = {"csrf_token": token.group(1), "username": name, "password": PASSWORD, "next": "/"}
    response = await client.post("/login", data=form)
    assert response.status_code == 303, (name, response.status_code)
    return client


async def practise(
    learner: Learner, others: list[Learner], tally: Tally, deadline: float, rng: random.Random
) -> None:
    words = ["drift", "monitoring", "canary", "rollback", "features", "latency", "retrain"]
    turn = 0
    while time.perf_counter() < deadline:
        turn += 1
        nxt = await request(tally, learner.client, "GET", "/api/decks/mlops/next")
        card = nxt.json()["id"] if nxt.status_code == 200 else str(rng.randint(1, 7))
        answer = " ".join(rng.sample(words, k=rng.randint(1, 5)))
        body = {"deck": "mlops", "card": card, "answer": answer, "seconds": 20}
        made = await request(tally, learner.client, "POST", "/api/attempts", json=body)
        if made.status_code != 201:
            continue
        attempt_id = made.json()["attempt_id"]
        learner.attempts.add(attempt_id)
        score = {"score": rng.randint(1, 5)}
        await request(
            tally, learner.client, "POST", f"/api/attempts/{attempt_id}/score", json=score
        )
        if turn % 5:
            continue
        listed = await request(tally, learner.client, "GET", "/api/attempts?limit=10000")
        foreign = {row["attempt_id"] for row in listed.json()} - learner.attempts
        if foreign:
            tally.leaks.append(f"{learner.name} listed {sorted(foreign)[:5]}")
        csv = await request(tally, learner.client, "GET", "/api/attempts.csv")
        ids = {int(line.split(",", 1)[0]) for line in csv.text.splitlines()[1:] if line}
        if ids - learner.attempts:
            tally.leaks.append(f"{learner.name}'s CSV held {sorted(ids - learner.attempts)[:5]}")
        other = rng.choice(others)
        if other.attempts:
            theirs = rng.choice(sorted(other.attempts))
            page = await request(tally, learner.client, "GET", f"/attempts/{theirs}")
            if page.status_code != 404:
                tally.leaks.append(f"{learner.name} opened {other.name}'s attempt {theirs}")


async def run_class(base: str, learners: int, seconds: float) -> tuple[Tally, list[Learner]]:
    people = [
        Learner(f"learner{i:02d}", await sign_in(base, f"learner{i:02d}")) for i in range(learners)
    ]
    tally = Tally()
    deadline = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            practise(p, [o for o in people if o is not p], tally, deadline, random.Random(i))
            for i, p in enumerate(people)
        )
    )
    for p in people:
        await p.client.aclose()
    return tally, people


def serve(tmp: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], str]:
    decks = tmp / "decks"
    decks.mkdir()
    shutil.copy(ROOT / "decks" / "mlops.md", decks / "mlops.md")
    db = args.db or f"sqlite:///{tmp / 'class.sqlite3'}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FLASHGRADE_", "OPENAI_"))},
        "FLASHGRADE_DATA_DIR": str(tmp / "data"),
        "FLASHGRADE_LOG_LEVEL": "warning",
        "FLASHGRADE_ACCESS_LOG": "false",
        "FLASHGRADE_MATCHER": "fuzzy",
    }
    cli = [sys.executable, "-m", "web.cli"]
    names = ["admin"] + [f"learner{i:02d}" for i in range(args.learners)]
    for name in names:
        subprocess.run(
            [*cli, "users", "add", name, "--db", db],
            input=PASSWORD.encode(),
            env=env,
            check=True,
            capture_output=True,
        )
    port = free_port()
    command = [*cli, "serve", "--port", str(port), "--db", db, "--decks", str(decks)]
    command += ["--workers", str(args.workers)]
    server = subprocess.Popen(command, env=env, cwd=tmp)
    base = f"http://127.0.0.1:{port}"
    if not wait_until_up(server, base, seconds=60):
        server.terminate()
        raise SystemExit("bench: the server did not start")
    return server, base


def report(tally: Tally, people: list[Learner], seconds: float) -> bool:
    total = sum(tally.statuses.values())
    ordered = sorted(tally.latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000
    attempts = sum(len(p.attempts) for p in people)
    print(f"\n{len(people)} learners for {seconds:.0f} s ({os.cpu_count()} cores)")
    print(f"requests {total:,} ({total / seconds:.0f}/s), attempts stored {attempts:,}")
    print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print("statuses " + ", ".join(f"{s}: {n:,}" for s, n in sorted(tally.statuses.items())))
    errors = sum(n for s, n in tally.statuses.items() if s >= 500)
    checks = [
        (f"no request saw another person's data ({len(tally.leaks)} leaks)", not tally.leaks),
        (f"no 5xx ({errors})", errors == 0),
    ]
    for leak in tally.leaks[:10]:
        print("  leak:", leak)
    print()
    for text, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {text}")
    return all(passed for _, passed in checks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--db", help="an empty database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flashgrade-class-") as tmp:
        server, base = serve(Path(tmp), args)
        try:
            tally, people = asyncio.run(run_class(base, args.learners, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=20)
    return 0 if report(tally, people, args.seconds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
