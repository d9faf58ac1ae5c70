"""Several server processes on one PostgreSQL database: a worker killed mid-load loses no
acknowledged attempt and stores none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import WEB_SECRET, free_port
from serving import wait_until_up
from sqlalchemy import create_engine, text

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ATTEMPTS = 2000
CLIENTS = 16
CLOSE = {"Connection": "close"}


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (uvicorn's workers), from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def _serve(tmp_path: Path, decks_dir: Path, url: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "FLASHGRADE_DATA_DIR": str(tmp_path / "server-data"),
        "FLASHGRADE_SECRET_KEY": WEB_SECRET,
        "FLASHGRADE_ACCESS_LOG": "false",
        "FLASHGRADE_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "web.cli", "serve", "--port", str(port), "--db", url,
               "--decks", str(decks_dir), "--workers", str(workers)]  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    if not wait_until_up(process, base, seconds=60):
        process.kill()
        raise RuntimeError((tmp_path / "server.log").read_text(errors="replace"))
    return process, base


def test_a_worker_killed_under_load_loses_no_acknowledged_attempt(
    tmp_path, decks_dir, postgres_server
):
    url = postgres_server()
    server, base = _serve(tmp_path, decks_dir, url, workers=2)
    acknowledged: dict[int, str] = {}
    failed = 0
    lock = threading.Lock()
    pending = iter(range(ATTEMPTS))

    def client() -> None:
        nonlocal failed
        with httpx.Client(base_url=base, timeout=30) as http:
            while True:
                with lock:
                    i = next(pending, None)
                if i is None:
                    return
                answer = f"package the model, answer {i}"
                body = {"deck": "mlops", "card": str(i % 7 + 1), "answer": answer}
                try:
                    # a connection per request, so that both workers take requests
                    response = http.post("/api/attempts", json=body, headers=CLOSE)
                except httpx.HTTPError:  # in flight on the killed worker: not acknowledged
                    with lock:
                        failed += 1
                    continue
                with lock:
                    if response.status_code == 201:
                        acknowledged[response.json()["attempt_id"]] = answer
                    else:
                        failed += 1

    try:
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for thread in threads:
            thread.start()
        while len(acknowledged) < ATTEMPTS // 4:
            time.sleep(0.01)
        workers = _children(server.pid)
        victim = next(p for p in workers if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text())
        os.kill(victim, signal.SIGKILL)
        for thread in threads:
            thread.join()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()

    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT id, answer FROM attempts")).all()
    engine.dispose()
    by_answer: dict[str, list[int]] = {}
    for attempt_id, answer in stored:
        by_answer.setdefault(answer, []).append(attempt_id)
    print(f"acknowledged {len(acknowledged)}, failed {failed}, stored {len(stored)}")
    assert len(acknowledged) + failed == ATTEMPTS
    assert len(acknowledged) > ATTEMPTS // 2  # the other worker (and the restarted one) served
    for attempt_id, answer in acknowledged.items():
        assert by_answer.get(answer) == [attempt_id]  # stored, once, under the id given
    assert all(len(ids) == 1 for ids in by_answer.values())
