"""Benchmark: the server's memory with the embedding model loaded.

    .venv/bin/python tests/benchmarks/bench_memory.py

Starts `flashgrade serve` on a free loopback port with a throwaway data folder, grades a few
answers through /api/grade with the default matcher (so the model is loaded and has worked),
then reads the resident set size (VmRSS) of the server and of every process it started, and
prints each and their sum (target: at most 400 MB). The floor, measured in the same run, is
the same server graded with the fuzzy matcher.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from serving import wait_until_up  # noqa: E402  (tests/ on the path first)

ANSWERS = [
    "Package the model with its preprocessing, validate it on a sample of the new segment, "
    "retrain if it does worse, and monitor drift of inputs and predictions.",
    "Ich würde die Leistung auf dem neuen Segment messen und bei Bedarf nachtrainieren.",
    "canary, feature flags, rollback plan",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _family(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found = [pid]
    for child in Path(f"/proc/{pid}/task").glob("*/children"):
        for c in child.read_text().split():
            found.extend(_family(int(c)))
    return found


def measure(matcher: str) -> dict[str, int]:
    port = _free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {**os.environ, "FLASHGRADE_DATA_DIR": data, "FLASHGRADE_MATCHER": matcher}
        server = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(server, base, seconds=30)
            method = "?"
            for answer in ANSWERS:
                body = json.dumps({"deck": "mlops", "card": 1, "answer": answer}).encode()
                request = urllib.request.Request(
                    f"{base}/api/grade", body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request, timeout=60) as reply:
                    method = json.load(reply)["method"]
            pids = _family(server.pid)
            sizes = {f"pid {p}": _rss_kb(p) // 1024 for p in pids}
            sizes["total"] = sum(sizes.values())
            sizes["method"] = method  # type: ignore[assignment]
            return sizes
        finally:
            server.terminate()
            server.wait(timeout=30)


def main() -> None:
    for matcher in ("fuzzy", "auto"):
        sizes = measure(matcher)
        method = sizes.pop("method")
        parts = ", ".join(f"{k} {v} MB" for k, v in sizes.items() if k != "total")
        print(f"{matcher:>5} ({method}): {sizes['total']} MB resident ({parts})")
    print("target: the default matcher's server at most 400 MB")


if __name__ == "__main__":
    main()
