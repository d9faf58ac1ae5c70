"""A built wheel works anywhere: installed in a fresh virtual environment, used from a folder
that is not the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ folder of a new venv with the wheel (and its declared dependencies only)."""
    tmp = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp.glob("flashgrade-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    return venv / "bin"


def test_the_installed_package_reads_its_prompts_from_inside_itself(installed, tmp_path):
    code = "import grader.rubric as r; print(r.PROMPTS_DIR); print(r.PROMPT_VERSION)"
    result = subprocess.run(
        [str(installed / "python"), "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    prompts_dir = result.stdout.splitlines()[0]
    assert "site-packages" in prompts_dir and str(ROOT) not in prompts_dir


def test_serve_from_any_folder_offers_the_shipped_deck(installed, tmp_path):
    port = free_port()
    env = {**os.environ, "FLASHGRADE_DATA_DIR": str(tmp_path / "data")}
    env.pop("PYTHONPATH", None)
    server = subprocess.Popen(
        [str(installed / "flashgrade"), "serve", "--port", str(port)],
        cwd=tmp_path,  # no decks/ here: the shipped ones
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/decks") as response:
                    decks = json.load(response)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert [d["id"] for d in decks] == ["mlops"]
