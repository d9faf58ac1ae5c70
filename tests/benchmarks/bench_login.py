"""What signing in costs: run on demand, not collected by pytest.

    .venv/bin/python tests/benchmarks/bench_login.py [--requests 2000]

Reports, on a temporary SQLite database with the real Argon2id parameters:
- a password check (``Accounts.authenticate``), median of 7: 50-500 ms by design, so that
  guessing is slow;
- the CPU a signed-in request spends on finding its person (``Accounts.by_session``, the
  session cookie's lookup), median per call over --requests calls; target under 1 ms;
- the same request end to end (GET /api/decks through the app, in process) signed in and in
  local mode, CPU per request: the difference is the sign-in's share.
Medians of process CPU time; the exit status is 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
PASSWORD = "correct horse battery staple"


def cpu_per_call(fn, n: int) -> float:  # type: ignore[no-untyped-def]
    """Median over 5 rounds of process CPU seconds per call."""
    rounds = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(n // 5):
            fn()
        rounds.append((time.process_time() - start) / (n // 5))
    return statistics.median(rounds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flashgrade-login-") as tmp:
        os.environ["FLASHGRADE_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["FLASHGRADE_ACCESS_LOG"] = "false"
        os.environ["FLASHGRADE_MATCHER"] = "fuzzy"
        from fastapi.testclient import TestClient
        from web_helpers import sign_in

        from web.app import create_app
        from web.settings import Settings

        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            decks_dir=ROOT / "decks",
            allowed_hosts="testserver",
            grade_workers=0,
        )
        app = create_app(settings)
        with TestClient(app) as local:
            local_cpu = cpu_per_call(lambda: local.get("/api/decks"), args.requests)
        accounts = app.state.accounts
        person, _ = accounts.add("ada", PASSWORD)
        checks = []
        for _ in range(7):
            start = time.perf_counter()
            accounts.authenticate("ada", PASSWORD)
            checks.append(time.perf_counter() - start)
        check = statistics.median(checks)
        session = accounts.start_session(person)
        lookup = cpu_per_call(lambda: accounts.by_session(session), args.requests)
        with TestClient(app) as client:
            sign_in(client, "ada", PASSWORD)
            signed_cpu = cpu_per_call(lambda: client.get("/api/decks"), args.requests)

    print(f"password check (Argon2id, wall): median {check * 1000:.0f} ms  [target 50-500]")
    print(f"session lookup, CPU per request: median {lookup * 1e6:.0f} µs  [target < 1,000]")
    print(
        f"GET /api/decks in process, CPU per request: local mode {local_cpu * 1e6:.0f} µs, "
        f"signed in {signed_cpu * 1e6:.0f} µs (+{(signed_cpu - local_cpu) * 1e6:.0f} µs, "
        f"ratio {signed_cpu / local_cpu:.2f})"
    )
    ok = 0.05 <= check <= 0.5 and lookup < 0.001 and signed_cpu - local_cpu < 0.001
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
