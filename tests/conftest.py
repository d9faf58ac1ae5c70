"""Shared fixtures: every test runs offline, with its data in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's OpenAI settings or writes outside tmp_path."""
    import os

    for name in list(os.environ):
        if name.startswith(("OPENAI_", "FLASHGRADE_")) and name != "FLASHGRADE_REQUIRE_BROWSER":
            monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FLASHGRADE_DATA_DIR", str(data))


@pytest.fixture
def seed_export() -> Path:
    """The user's seed deck, as exported (brainscape format)."""
    return FIXTURES / "brainscape_mlops.txt"


@pytest.fixture
def mlops_md() -> Path:
    """The seed deck converted to flashgrade's Markdown format (decks/mlops.md)."""
    return ROOT / "decks" / "mlops.md"


@pytest.fixture
def decks_dir(tmp_path: Path, mlops_md: Path) -> Path:
    """A decks directory in tmp_path holding a copy of the seed deck."""
    d = tmp_path / "decks"
    d.mkdir()
    shutil.copy(mlops_md, d / "mlops.md")
    return d
