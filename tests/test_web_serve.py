"""`flashgrade serve`: a real uvicorn server, and its one-line errors."""

from __future__ import annotations

import httpx
import pytest

from web.cli import main

pytestmark = pytest.mark.slow  # dozens of answers or a real server per test


def test_serve_answers_on_its_port(web_server):
    assert httpx.get(f"{web_server}/healthz").json() == {"status": "ok"}
    decks = httpx.get(f"{web_server}/api/decks").json()
    assert [d["id"] for d in decks] == ["mlops"]


def test_serve_stores_attempts_in_the_given_database(web_server):
    body = {"deck": "mlops", "card": "1", "answer": "Package the model."}
    created = httpx.post(f"{web_server}/api/attempts", json=body)
    assert created.status_code == 201
    assert len(httpx.get(f"{web_server}/api/attempts").json()) == 1


def test_serve_with_missing_decks_dir_is_a_one_line_error(tmp_path, capsys):
    assert main(["serve", "--decks", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flashgrade: error: decks directory not found") and err.count("\n") == 1


def test_serve_with_bad_database_url_is_a_one_line_error(tmp_path, decks_dir, capsys):
    assert main(["serve", "--decks", str(decks_dir), "--db", "nonsense://"]) == 2
    assert capsys.readouterr().err.startswith("flashgrade: error:")


def test_serve_on_a_host_that_does_not_resolve_is_a_one_line_error(decks_dir, capsys):
    assert main(["serve", "--decks", str(decks_dir), "--host", "not a host!"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flashgrade: error: cannot serve on not a host!") and err.count("\n") == 1


def test_serve_with_an_empty_host_listens_on_every_interface(decks_dir, monkeypatch, tmp_path):
    import io

    import uvicorn

    db = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    # every interface needs accounts (local mode is loopback only)
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["users", "add", "ada", "--db", db]) == 0
    served = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: served.update(options))
    argv = ["serve", "--decks", str(decks_dir), "--host", "", "--port", "8123", "--db", db]
    assert main(argv) == 0
    assert (served["host"], served["port"]) == ("", 8123)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://fg:S3cretPw@127.0.0.1:1/x", "postgresql+psycopg://fg:***@"),
        ("postgresql+psycopg://fg@127.0.0.1:1/x?password=S3cretPw", "x?password=***"),
    ],
)
def test_serve_never_prints_the_database_password(decks_dir, capsys, url, shown):
    assert main(["serve", "--decks", str(decks_dir), "--db", url]) == 2  # no driver or server
    err = capsys.readouterr().err
    assert err.startswith("flashgrade: error: cannot open the database") and shown in err
    assert "S3cretPw" not in err


def test_serve_with_a_database_url_that_cannot_be_parsed_is_a_one_line_error(decks_dir, capsys):
    assert main(["serve", "--decks", str(decks_dir), "--db", "postgresql://u:pw@h:abc/x"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == "flashgrade: error: the database URL cannot be parsed (check its port and its form)\n"
    )


def test_serve_with_bad_port_is_a_one_line_error(decks_dir, capsys):
    assert main(["serve", "--decks", str(decks_dir), "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


@pytest.fixture
def limited_server(request, monkeypatch):  # type: ignore[no-untyped-def]
    """`flashgrade serve` with a 4 KiB head limit and a one-second head timeout."""
    monkeypatch.setenv("FLASHGRADE_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("FLASHGRADE_HEADER_TIMEOUT", "1")
    return request.getfixturevalue("web_server")


def _raw(base: str, data: bytes) -> tuple[bytes, float]:
    """What the server at ``base`` sends back for ``data`` until it closes, and how long."""
    import socket
    import time
    from urllib.parse import urlsplit

    url = urlsplit(base)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks), time.monotonic() - started


def test_serve_refuses_request_headers_over_the_configured_size_with_431(limited_server):
    big = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n"
    reply, _ = _raw(limited_server, big)
    assert reply.startswith(b"HTTP/1.1 431 ")
    cookie = {"Cookie": "a=" + "b" * 3000}  # under the limit: served
    assert httpx.get(f"{limited_server}/healthz", headers=cookie).status_code == 200


def test_serve_closes_a_connection_whose_headers_stall_with_408(limited_server):
    reply, took = _raw(limited_server, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    assert reply.startswith(b"HTTP/1.1 408 ") and 1 <= took < 3
    assert httpx.get(f"{limited_server}/healthz").json() == {"status": "ok"}
