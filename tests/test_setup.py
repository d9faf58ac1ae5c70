"""Set-up a person can read (issue 16): the README and docs/ stay inside the repository, the
licence is an SPDX string, and `make run` takes a port and a data folder."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

import pytest
from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_docs_describe_the_api_the_command_line_and_the_data_formats():
    assert {p.name for p in (ROOT / "docs").glob("*.md")} >= {
        "api.md",
        "cli.md",
        "data-formats.md",
    }
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/api.md", "docs/cli.md", "docs/data-formats.md"):
        assert f"]({name})" in readme


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_links_of_the_readme_and_docs_stay_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text and "../shared" not in text
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address, not a file
        path = (doc.parent / target).resolve()
        assert path.is_relative_to(ROOT) and path.exists(), f"{doc.name}: {target}"


def test_the_licence_is_an_spdx_string():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_run_takes_a_port_and_a_data_folder():
    dry = subprocess.run(
        ["make", "-n", "-W", "pyproject.toml", "run", "PORT=8080", "DATA=/srv/cards"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "FLASHGRADE_DATA_DIR='/srv/cards' .venv/bin/flashgrade serve --port 8080" in dry
    assert "pip install" in dry and ">.venv/install.log 2>&1" in dry  # pip's noise in a log
