"""``flashgrade users add|list|remove|passwd|token``: accounts from the command line.

Passwords come from stdin when it is not a terminal (one line), else from a prompt, twice.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from web.accounts import MIN_PASSWORD, AccountError, Accounts
from web.cli import CliError, _masked, _settings


def run_users(args: argparse.Namespace) -> int:
    """Run one ``users`` subcommand on the database of ``--db`` or the settings."""
    from sqlalchemy.exc import SQLAlchemyError

    from web.storage.database import SchemaError, Store

    settings = _settings(**({"database_url": args.db} if args.db else {}))
    database = _masked(settings.database_url)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        store = Store(settings.database_url)
        store.create_schema()
    except SchemaError as exc:
        raise CliError(str(exc)) from None
    except (SQLAlchemyError, ImportError, OSError) as exc:
        raise CliError(f"cannot open the database {database}: {exc}") from None
    accounts = Accounts(store)
    try:
        return int(_COMMANDS[args.users_command](accounts, args))
    except AccountError as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:  # locked, gone away, a name added at the same moment
        raise CliError(f"the database {database}: {exc.__cause__ or exc}") from None
    finally:
        store.dispose()


def _password(prompt: str = "Password") -> str:
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("no password on stdin")
        return password
    first = getpass.getpass(f"{prompt} (at least {MIN_PASSWORD} characters): ")
    if getpass.getpass("Again: ") != first:
        raise CliError("the two passwords differ")
    return first


def _add(accounts: Accounts, args: argparse.Namespace) -> int:
    person, taken = accounts.add(args.name, _password(), admin=args.admin)
    role = "admin" if person.is_admin else "learner"
    print(f"added {person.name} ({role})")
    if taken:
        print(f"{person.name} takes over local mode's {taken:,} attempts and their schedules")
    return 0


def _list(accounts: Accounts, args: argparse.Namespace) -> int:
    people = accounts.people()
    if not people:
        print("no accounts: flashgrade runs in local mode (no sign-in, loopback only)")
        return 0
    for p in people:
        last = p.last_attempt.strftime("%Y-%m-%d") if p.last_attempt else "-"
        role = "admin" if p.is_admin else "learner"
        count = f"{p.attempts} attempt{'s' * (p.attempts != 1)}"
        print(f"{p.name}\t{role}\t{count}\tlast {last}")
    return 0


def _remove(accounts: Accounts, args: argparse.Namespace) -> int:
    deleted = accounts.remove(args.name)
    print(f"removed {args.name.strip().casefold()} and their {deleted:,} attempts")
    return 0


def _passwd(accounts: Accounts, args: argparse.Namespace) -> int:
    accounts.set_password(args.name, _password("New password"))
    name = args.name.strip().casefold()
    print(f"password changed; {name} is signed out everywhere and their API tokens revoked")
    return 0


def _token(accounts: Accounts, args: argparse.Namespace) -> int:
    token = accounts.new_token(args.name)
    print(token)
    print("shown once: send it as 'Authorization: Bearer <token>'", file=sys.stderr)
    return 0


_COMMANDS = {"add": _add, "list": _list, "remove": _remove, "passwd": _passwd, "token": _token}
