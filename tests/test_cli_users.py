"""`flashgrade users ...` and what `serve` says about local mode, through web.cli.main."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cli_helpers import one_line_error

from web.cli import main

PASSWORD = "correct horse battery"


@pytest.fixture
def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'people.sqlite3'}"


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Argon2id at its real cost takes ~0.1 s a hash: not needed to specify the commands
    import argon2

    original = argon2.PasswordHasher.__init__

    def cheap(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        original(self, time_cost=1, memory_cost=1024, parallelism=1)

    monkeypatch.setattr(argon2.PasswordHasher, "__init__", cheap)


def users(monkeypatch, capsys, db: str, *argv: str, stdin: str = "") -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(["users", *argv, "--db", db])
    out, err = capsys.readouterr()
    return code, out, err


def test_users_add_reads_the_password_from_stdin(monkeypatch, capsys, db):
    code, out, _ = users(monkeypatch, capsys, db, "add", "Ada", stdin=PASSWORD + "\n")
    assert (code, out) == (0, "added ada (admin)\n")


def test_the_second_account_is_a_learner_unless_told(monkeypatch, capsys, db):
    users(monkeypatch, capsys, db, "add", "ada", stdin=PASSWORD)
    _, out, _ = users(monkeypatch, capsys, db, "add", "bob", stdin=PASSWORD)
    assert out == "added bob (learner)\n"
    _, out, _ = users(monkeypatch, capsys, db, "add", "carol", "--admin", stdin=PASSWORD)
    assert out == "added carol (admin)\n"


def test_a_short_password_is_a_one_line_error(monkeypatch, capsys, db):
    code, _, err = users(monkeypatch, capsys, db, "add", "ada", stdin="short\n")
    assert code == 2
    assert one_line_error(err) == "flashgrade: error: a password has at least 12 characters"


def test_a_name_taken_is_a_one_line_error(monkeypatch, capsys, db):
    users(monkeypatch, capsys, db, "add", "ada", stdin=PASSWORD)
    code, _, err = users(monkeypatch, capsys, db, "add", "ADA", stdin=PASSWORD)
    assert code == 2 and "already an account named 'ada'" in one_line_error(err)


def test_users_list_shows_roles_and_activity(monkeypatch, capsys, db):
    users(monkeypatch, capsys, db, "add", "ada", stdin=PASSWORD)
    users(monkeypatch, capsys, db, "add", "bob", stdin=PASSWORD)
    _, out, _ = users(monkeypatch, capsys, db, "list")
    assert out.splitlines() == [
        "ada\tadmin\t0 attempts\tlast -",
        "bob\tlearner\t0 attempts\tlast -",
    ]


def test_users_list_without_accounts_says_local_mode(monkeypatch, capsys, db):
    _, out, _ = users(monkeypatch, capsys, db, "list")
    assert "local mode" in out


def test_users_token_prints_a_token_once_that_opens_the_api(monkeypatch, capsys, db):
    from web.accounts import Accounts
    from web.storage.database import Store

    users(monkeypatch, capsys, db, "add", "ada", stdin=PASSWORD)
    code, out, err = users(monkeypatch, capsys, db, "token", "ada")
    token = out.strip()
    assert code == 0 and token.startswith("fg_") and "shown once" in err
    store = Store(db)
    assert Accounts(store).by_token(token).name == "ada"  # type: ignore[union-attr]
    store.dispose()


def test_users_passwd_sets_a_new_password(monkeypatch, capsys, db):
    from web.accounts import Accounts
    from web.storage.database import Store

    users(monkeypatch, capsys, db, "add", "ada", stdin=PASSWORD)
    code, _, _ = users(monkeypatch, capsys, db, "passwd", "ada", stdin="a brand new passphrase")
    store = Store(db)
    assert code == 0
    assert Accounts(store).authenticate("ada", "a brand new passphrase").name == "ada"
    store.dispose()


def test_users_remove_of_an_unknown_name_is_a_one_line_error(monkeypatch, capsys, db):
    code, _, err = users(monkeypatch, capsys, db, "remove", "nobody")
    assert code == 2 and one_line_error(err) == "flashgrade: error: no account named 'nobody'"


def test_serve_on_a_public_address_in_local_mode_is_refused(tmp_path, capsys):
    decks = tmp_path / "decks"
    decks.mkdir()
    code = main(["serve", "--host", "0.0.0.0", "--db", f"sqlite:///{tmp_path / 'x.sqlite3'}",
                 "--decks", str(decks)])  # fmt: skip
    err = capsys.readouterr().err
    line = [x for x in err.splitlines() if x.startswith("flashgrade: error:")]
    assert code == 2 and len(line) == 1
    assert "local mode" in line[0] and "flashgrade users add" in line[0]
