"""Shared fixtures: every test runs offline, with its data in tmp_path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from serving import wait_until_up

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).resolve().parent.parent


# what the test run itself is told (CI's requirements, a server database to test against)
_KEPT_SETTINGS = (
    "FLASHGRADE_REQUIRE_BROWSER",
    "FLASHGRADE_REQUIRE_POSTGRES",
    "FLASHGRADE_TEST_DATABASE_URL",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's OpenAI settings or writes outside tmp_path."""
    import os

    for name in list(os.environ):
        if name.startswith(("OPENAI_", "FLASHGRADE_")) and name not in _KEPT_SETTINGS:
            monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FLASHGRADE_DATA_DIR", str(data))
    # The fuzzy matcher unless a test asks for meaning: it is what most specifications
    # describe, and a millisecond a grade keeps the suite fast (tests/test_semantic.py).
    monkeypatch.setenv("FLASHGRADE_MATCHER", "fuzzy")
    # Starlette's TestClient sends "Host: testserver"
    monkeypatch.setenv("FLASHGRADE_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")


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


# --- the web app (tests/test_web_*.py, tests/test_browser.py) --------------------------------

WEB_SECRET = "test-secret-key-that-is-long-enough-0123456789"


# --- the database: SQLite, and PostgreSQL for the storage, API and concurrency tests ----------

# The modules whose tests that use ``web_settings`` run against both databases.
BOTH_DATABASES = {
    "test_web_storage",
    "test_web_api",
    "test_web_concurrency",
    "test_migrations",
    "test_accounts",
    "test_security_routes",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres-url",
        default=None,
        help="a PostgreSQL server to test against (each test gets a new database on it); "
        "default: $FLASHGRADE_TEST_DATABASE_URL, else a throwaway cluster started by the tests",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if (
        "database" in metafunc.fixturenames
        and metafunc.module.__name__ in BOTH_DATABASES
        and metafunc.definition.get_closest_marker("sqlite") is None
    ):
        metafunc.parametrize(
            "database",
            ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
            indirect=True,
        )


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A function giving the URL of a new, empty PostgreSQL database per call. Skipped with a
    reason when PostgreSQL is not installed, unless FLASHGRADE_REQUIRE_POSTGRES is set."""
    import os

    from postgres import Cluster, database_from_url, find_bin_dir

    url = request.config.getoption("--postgres-url") or os.environ.get(
        "FLASHGRADE_TEST_DATABASE_URL"
    )
    if url:
        yield lambda: database_from_url(url)
        return
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("FLASHGRADE_REQUIRE_POSTGRES"):
            pytest.fail("FLASHGRADE_REQUIRE_POSTGRES is set but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql) and no URL given")
    cluster = Cluster(bin_dir).start()
    try:
        yield cluster.new_database
    finally:
        cluster.stop()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: SQLite in tmp_path, or (parametrised) PostgreSQL."""
    if getattr(request, "param", "sqlite") == "postgresql":
        return str(request.getfixturevalue("postgres_server")())
    return f"sqlite:///{tmp_path / 'data' / 'flashgrade.sqlite3'}"


@pytest.fixture
def web_settings(tmp_path: Path, decks_dir: Path, database: str):  # type: ignore[no-untyped-def]
    """Settings for a web app on an empty database (SQLite in tmp_path unless parametrised)
    and a tmp_path decks dir, no .env, no FSRS fuzz."""
    from web.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        database_url=database,
        decks_dir=decks_dir,
        fsrs_fuzz=False,
        secret_key=WEB_SECRET,
        grade_workers=0,  # in-process: no worker start-up per test
    )


@pytest.fixture
def web_app(web_settings):  # type: ignore[no-untyped-def]
    from web.app import create_app

    return create_app(web_settings)


@pytest.fixture
def web_client(web_app):  # type: ignore[no-untyped-def]
    """A TestClient with the app's lifespan running."""
    from fastapi.testclient import TestClient

    with TestClient(web_app) as client:
        yield client


@pytest.fixture
def form_token():  # type: ignore[no-untyped-def]
    """Reads the CSRF token out of a page's HTML."""
    import re

    def read(html: str) -> str:
        match = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert match, "no csrf_token field on the page"
        return match.group(1)

    return read


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def web_server(tmp_path: Path, decks_dir: Path):  # type: ignore[no-untyped-def]
    """A real `flashgrade serve` on 127.0.0.1 and a free port, with a tmp_path database;
    yields its base URL and stops it afterwards."""
    import os
    import subprocess
    import sys

    port = free_port()
    env = {
        **os.environ,
        "FLASHGRADE_DATA_DIR": str(tmp_path / "server-data"),
        "FLASHGRADE_SECRET_KEY": WEB_SECRET,
        "FLASHGRADE_ACCESS_LOG": "false",
    }
    log = (tmp_path / "server.log").open("wb")
    command = [
        sys.executable,
        "-m",
        "web.cli",
        "serve",
        "--port",
        str(port),
        "--db",
        f"sqlite:///{tmp_path / 'server.sqlite3'}",
        "--decks",
        str(decks_dir),
    ]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_up(process, base, seconds=20):
            raise RuntimeError((tmp_path / "server.log").read_text(errors="replace"))
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


# --- a real browser (tests/test_browser*.py) ----------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Debian's Chromium through Playwright; skipped, saying why, when it is missing (unless
    FLASHGRADE_REQUIRE_BROWSER is set, as in CI)."""
    import os

    if not CHROMIUM.exists():
        if os.environ.get("FLASHGRADE_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing and FLASHGRADE_REQUIRE_BROWSER is set")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
