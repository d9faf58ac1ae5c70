"""Load benchmark of the web app: run on demand, not collected by pytest.

    .venv/bin/python tests/benchmarks/bench_http.py [--connections 32] [--seconds 8]

Starts `flashgrade serve` on a free port with a temporary database and a copy of the decks,
then, at 32 concurrent connections, measures requests/s and p50/p99 latency of GET /healthz
(the floor), POST /api/grade and POST /api/attempts, and prints them with their ratio to
/healthz. The attempts phase sends exactly --attempts (2,000) requests and then checks that
the number of attempts stored equals the number of successful responses.

Targets (2-core machine): /api/grade >= 30% of /healthz throughput; /api/attempts >= 20%
with p99 < 100 ms. The exit status is 1 when a target or the stored count is missed.
``--workers N`` serves with N processes; ``--db URL`` uses that (empty) database instead of
a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from serving import wait_until_up  # noqa: E402  (tests/ on the path first)


@dataclass
class Phase:
    name: str
    requests: int
    ok: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Connection:
    """A minimal HTTP/1.1 keep-alive client connection.

    httpx spends about 2 ms of client CPU per request, which on this 2-core machine would make
    the load generator, not the server, the bottleneck (it capped /healthz near 300 req/s);
    this spends a few tens of microseconds.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + (body or b""))
        try:
            header = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.close()
            raise
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                await self.reader.readexactly(length) if length else None
                await self.close()
                return status
        if length:
            await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def answers_for(decks_dir: Path, n: int, seed: int = 7) -> list[tuple[str, str]]:
    """Varied answers: a random subset of each card's points, with filler, numbered."""
    from grader import load_deck

    rng = random.Random(seed)
    deck = load_deck(decks_dir / "mlops.md")
    filler = ["I think", "In practice", "Also", "Then", "Importantly", "For example", "We should"]
    out = []
    for i in range(n):
        card = deck.cards[i % len(deck.cards)]
        points = rng.sample(list(card.points), k=rng.randint(0, len(card.points)))
        words = " ".join(f"{rng.choice(filler)} {p.text.lower()}" for p in points)
        out.append((card.id, f"{words} (answer {i})".strip()))
    return out


async def run_phase(
    connections: list[Connection],
    name: str,
    make_request: Callable[[int], tuple[str, str, bytes | None]],
    *,
    total: int | None = None,
    seconds: float | None = None,
) -> Phase:
    latencies: list[float] = []
    ok = 0
    sent = 0
    deadline = time.perf_counter() + seconds if seconds else None

    def next_index() -> int | None:
        nonlocal sent
        if total is not None and sent >= total:
            return None
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        sent += 1
        return sent - 1

    async def worker(connection: Connection) -> None:
        nonlocal ok
        while (i := next_index()) is not None:
            method, url, body = make_request(i)
            start = time.perf_counter()
            try:
                if 200 <= await connection.request(method, url, body) < 300:
                    ok += 1
            except (OSError, asyncio.IncompleteReadError, ValueError):
                pass
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    return Phase(name, len(latencies), ok, time.perf_counter() - start, latencies)


async def bench(port: int, decks_dir: Path, args: argparse.Namespace) -> list[Phase]:
    # every request carries a different answer: nothing can be answered from a cache
    answers = answers_for(decks_dir, 200_000)
    connections = [Connection("127.0.0.1", port) for _ in range(args.connections)]
    grade_body = (
        json.dumps({"deck": "mlops", "card": c, "answer": a}).encode() for c, a in answers
    )
    attempt_body = (
        json.dumps({"deck": "mlops", "card": c, "answer": a, "seconds": 30}).encode()
        for c, a in reversed(answers)
    )

    def healthz(i: int) -> tuple[str, str, bytes | None]:
        return "GET", "/healthz", None

    def grade(i: int) -> tuple[str, str, bytes | None]:
        return "POST", "/api/grade", next(grade_body)

    def attempt(i: int) -> tuple[str, str, bytes | None]:
        return "POST", "/api/attempts", next(attempt_body)

    # warm up: connections, the grader's per-card preparation, the database
    await run_phase(connections, "warm-up", healthz, total=2000)
    await run_phase(connections, "warm-up", grade, total=500)

    phases = [
        await run_phase(connections, "GET /healthz", healthz, seconds=args.seconds),
        await run_phase(connections, "POST /api/grade", grade, seconds=args.seconds),
        await run_phase(connections, "POST /api/attempts", attempt, total=args.attempts),
    ]
    for connection in connections:
        await connection.close()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        stored = len((await client.get("/api/attempts", params={"limit": 10000})).json())
    phases[-1].stored = stored  # type: ignore[attr-defined]
    return phases


def report(phases: list[Phase], connections: int, workers: int) -> bool:
    floor = phases[0].rps
    print(
        f"\n{connections} concurrent connections, {workers} uvicorn worker(s) "
        f"({os.cpu_count()} cores)\n"
    )
    columns = ("requests", "ok", "req/s", "p50 ms", "p99 ms", "vs healthz")
    widths = (9, 7, 9, 8, 8, 11)
    print(f"{'endpoint':<20}" + "".join(f" {c:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for p in phases:
        print(
            f"{p.name:<20} {p.requests:>9} {p.ok:>7} {p.rps:>9.0f} {p.percentile(0.5):>8.1f} "
            f"{p.percentile(0.99):>8.1f} {p.rps / floor:>10.0%}"
        )
    _health, grade, attempts = phases
    stored = attempts.stored  # type: ignore[attr-defined]
    checks = [
        (
            f"/api/grade throughput >= 30% of /healthz ({grade.rps / floor:.0%})",
            grade.rps >= 0.3 * floor,
        ),
        (
            f"/api/attempts throughput >= 20% of /healthz ({attempts.rps / floor:.0%})",
            attempts.rps >= 0.2 * floor,
        ),
        (
            f"/api/attempts p99 < 100 ms ({attempts.percentile(0.99):.1f} ms)",
            attempts.percentile(0.99) < 100,
        ),
        (
            f"attempts stored == successful responses ({stored} == {attempts.ok})",
            stored == attempts.ok,
        ),
        (
            f"no failed requests ({sum(p.requests - p.ok for p in phases)})",
            all(p.ok == p.requests for p in phases),
        ),
    ]
    print()
    for text, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {text}")
    return all(passed for _, passed in checks)


def run(coroutine):  # type: ignore[no-untyped-def]
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="length of the timed phases")
    parser.add_argument("--attempts", type=int, default=2000)
    parser.add_argument("--access-log", action="store_true", help="keep uvicorn's access log on")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--grade-workers", type=int, help="FLASHGRADE_GRADE_WORKERS")
    parser.add_argument("--synchronous", help="FLASHGRADE_SQLITE_SYNCHRONOUS: full | normal")
    parser.add_argument("--matcher", help="FLASHGRADE_MATCHER: auto | fuzzy | semantic")
    parser.add_argument("--db", help="an empty database URL (default: SQLite in a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="flashgrade-bench-") as tmp:
        tmp_path = Path(tmp)
        decks_dir = tmp_path / "decks"
        decks_dir.mkdir()
        shutil.copy(ROOT / "decks" / "mlops.md", decks_dir / "mlops.md")
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FLASHGRADE_", "OPENAI_"))},
            "FLASHGRADE_DATA_DIR": str(tmp_path / "data"),
            "FLASHGRADE_LOG_LEVEL": "warning",
            "FLASHGRADE_ACCESS_LOG": "true" if args.access_log else "false",
        }
        if args.matcher:
            env["FLASHGRADE_MATCHER"] = args.matcher
        if args.synchronous:
            env["FLASHGRADE_SQLITE_SYNCHRONOUS"] = args.synchronous
        if args.grade_workers is not None:
            env["FLASHGRADE_GRADE_WORKERS"] = str(args.grade_workers)
        command = [
            sys.executable,
            "-m",
            "web.cli",
            "serve",
            "--port",
            str(port),
            "--db",
            args.db or f"sqlite:///{tmp_path / 'bench.sqlite3'}",
            "--decks",
            str(decks_dir),
            "--workers",
            str(args.workers),
        ]
        server = subprocess.Popen(command, env=env, cwd=tmp_path)
        base = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_up(server, base, seconds=30):
                print("bench: the server did not start", file=sys.stderr)
                return 1
            phases = run(bench(port, decks_dir, args))
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0 if report(phases, args.connections, args.workers) else 1


if __name__ == "__main__":
    raise SystemExit(main())
