"""The ``flashgrade`` command line: serve, grade, eval, import, export, check, llm-check.

Every error for bad input is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    import asyncio

    from grader import Deck
    from grader.embedding import Embedder
    from grader.grade import Matcher
    from grader.llm import LLMClient
    from web.settings import GradingSettings, Settings

S = TypeVar("S", bound="GradingSettings")
EXIT_USAGE = 2


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def read_text(path: str | Path, *, what: str = "file") -> str:
    """Read a UTF-8 file, turning every OS or decoding failure into a one-line CliError."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{what} not found: {p}") from None
    except IsADirectoryError:
        raise CliError(f"{what} is a directory: {p}") from None
    except PermissionError:
        raise CliError(f"cannot read {what} (permission denied): {p}") from None
    except UnicodeDecodeError as exc:
        raise CliError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} {p}: {exc.strerror}") from None


def _load_deck(path: str) -> Deck:
    """The deck at ``path``; load_deck reports every read or decoding failure as DeckError."""
    from grader import DeckError, load_deck

    p = Path(path)
    if not p.exists():
        raise CliError(f"deck not found: {p}")
    try:
        return load_deck(p)
    except DeckError as exc:
        raise CliError(str(exc)) from None


def _read_answer(args: argparse.Namespace) -> str:
    """The answer from --answer, --answer-file or stdin, which must be UTF-8 text."""
    if args.answer is not None:
        try:
            args.answer.encode("utf-8")  # undecodable argv bytes arrive as lone surrogates
        except UnicodeEncodeError:
            raise CliError("--answer: not UTF-8 text") from None
        return str(args.answer)
    if args.answer_file is not None:
        return read_text(args.answer_file, what="answer file")
    if sys.stdin is None or sys.stdin.isatty():
        raise CliError("no answer: give --answer TEXT, --answer-file PATH or pipe it on stdin")
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (tests, embedding)
        text = sys.stdin.read()
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise CliError("stdin: not UTF-8 text") from None
        return text
    try:
        return bytes(buffer.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"stdin: not UTF-8 text (byte {exc.start})") from None


# --- commands -------------------------------------------------------------------------------


def cmd_grade(args: argparse.Namespace) -> int:
    from grader import CardNotFound, grade

    deck = _load_deck(args.deck)
    for warning in deck.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        card = deck.card(args.card)
    except CardNotFound as exc:
        raise CliError(str(exc)) from None
    answer = _read_answer(args)
    settings = _grading_settings()
    llm = _llm_client(args.llm, settings)
    matcher, embedder = _matcher(args.matcher, settings)
    result = grade(card, answer, llm=llm, matcher=matcher, embedder=embedder)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(f"Score: {deck.label(result.score)}  (coverage {result.coverage:.0%}, {result.method})")
    for point in result.points:
        mark = {"covered": "+", "partial": "~", "missing": "-"}[point.status]
        line = f"  [{mark}] {point.id} {point.text}"
        if point.evidence:
            line += f'  <- "{point.evidence}"'
        print(line)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _settings(**overrides: object) -> Settings:
    """The web app's settings (environment and ``.env``); an invalid value is one line."""
    from web.settings import Settings

    return _read_settings(Settings, **overrides)


def _grading_settings() -> GradingSettings:
    """The settings that grading reads, as the web app reads them: the server's own do not
    stop `grade` or `eval`."""
    from web.settings import GradingSettings

    return _read_settings(GradingSettings)


def _read_settings(kind: type[S], **overrides: object) -> S:
    from pydantic import ValidationError

    try:
        return kind(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        if field in overrides:  # given on the command line: name the option
            raise CliError(f"invalid --{_FLAGS.get(field, field)}: {error['msg']}") from None
        name = field.upper() if field.startswith("openai_") else f"FLASHGRADE_{field.upper()}"
        raise CliError(f"invalid setting {name}: {error['msg']}") from None


_FLAGS = {"database_url": "db", "decks_dir": "decks"}  # settings whose option is named apart


def _llm_client(
    flag: bool | None, settings: GradingSettings, *, what: str = "--llm"
) -> LLMClient | None:
    """The sync LLM client when one is configured and wanted, else None (offline grading).

    ``flag`` is True for --llm (required: a missing setting is an error naming ``what``),
    None when neither flag was given (the LLM is optional: a missing setting is a warning
    and the grade is offline) and False for --no-llm. An invalid setting is always an error.
    """
    if flag is False:
        return None
    if flag is None and not settings.llm_model:
        return None  # not configured: spare every command the openai import (~1 s)
    try:
        from grader.llm import LLMClient, LLMConfigError, LLMNotConfigured, options
    except ImportError:
        if flag:
            raise CliError(f"{what}: the LLM rubric is not available in this build") from None
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    try:
        found = options(
            model=settings.llm_model,
            base_url=settings.openai_base_url,
            api_key=key,
            timeout=settings.llm_timeout,
            required=bool(flag),
        )
    except LLMNotConfigured as exc:
        if flag:
            raise CliError(f"{what}: {exc}") from None
        print(f"warning: {exc}; grading without the LLM rubric", file=sys.stderr)
        return None
    except LLMConfigError as exc:  # a setting given but invalid: the person wants it fixed
        raise CliError(str(exc)) from None
    if not found:
        return None
    return LLMClient(
        **found,
        skip_after_failures=settings.llm_skip_after_failures,
        skip_seconds=settings.llm_skip_seconds,
    )


def _matcher(flag: str | None, settings: GradingSettings) -> tuple[Matcher, Embedder | None]:
    """The offline matcher (``--matcher``, else the settings') and its model: ``semantic``
    without a usable model is an error, ``auto`` then grades fuzzily with a warning."""
    from grader.embedding import EmbeddingUnavailable
    from grader.grade import resolve_matcher

    matcher: Matcher = flag or settings.matcher  # type: ignore[assignment]
    try:
        model, fallback = resolve_matcher(
            matcher, model=settings.embedding_model, threads=settings.embedding_threads
        )
    except EmbeddingUnavailable as exc:
        source = "--matcher semantic" if flag else "FLASHGRADE_MATCHER=semantic"
        raise CliError(f"{source}: {exc}") from None
    if fallback:
        print(f"warning: {fallback}", file=sys.stderr)
    return ("semantic" if model else "fuzzy"), model


def cmd_eval(args: argparse.Namespace) -> int:
    import time

    from grader import grade
    from grader.evaluate import DataError, iter_prediction_lines, metrics, predict, read_rows

    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"labelled data is a directory: {path}")
    if not path.exists():  # a pipe (/dev/stdin, <(...)) is fine
        raise CliError(f"labelled data not found: {path}")
    if args.concurrency < 1:
        raise CliError("--concurrency must be at least 1")
    try:
        rows = read_rows(path)
    except DataError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    settings = _grading_settings()
    llm = _llm_client(args.llm, settings)
    matcher, embedder = _matcher(args.matcher, settings)
    tty = sys.stderr.isatty()
    started = last = time.monotonic()

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done == total or (tty and now - last > 0.1) or now - last > 5:
            last = now
            line = f"eval: {done}/{total} graded"
            if tty:  # a bar and the time left, redrawn in place
                filled = round(24 * done / total)
                left = (now - started) / done * (total - done)
                line = f"eval: [{'#' * filled}{'.' * (24 - filled)}] {line[6:]}, {left:.0f} s left"
            end = "\n" if done == total or not tty else ""
            print(f"\r{line}\033[K" if tty else line, end=end, file=sys.stderr, flush=True)

    results = predict(
        rows,
        lambda card, answer: grade(card, answer, llm=llm, matcher=matcher, embedder=embedder),
        concurrency=args.concurrency if llm is not None else 1,
        progress=progress if tty or len(rows) >= 200 or llm is not None else None,
    )
    if args.out:
        _write_atomic(
            Path(args.out), "".join(line + "\n" for line in iter_prediction_lines(rows, results))
        )
    figures = metrics(rows, results)
    if args.json:
        print(json.dumps(figures))
    else:
        kinds = figures.pop("by_kind", {})
        for key, value in figures.items():
            print(f"{key:>18}  {value}")
        for kind, figure in kinds.items():
            print(f"{'kind ' + kind:>18}  n={figure['n']} mean diff {figure['mean_diff']:+.2f}")
    return 0


def _file_name(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("give a file name")
    return value


def _write_atomic(path: Path, text: str | bytes) -> None:
    """Write via a temporary file and rename, so a failure never leaves half a file."""
    tmp: Path | None = None
    try:
        if not path.name or path.is_dir():
            raise CliError(f"cannot write {path}: it is a directory")
        # a short name of its own: the target's name may already be as long as names go
        data = text.encode("utf-8") if isinstance(text, str) else text
        with tempfile.NamedTemporaryFile(
            "wb", dir=path.parent, prefix=".flashgrade-", delete=False
        ) as f:
            tmp = Path(f.name)
            f.write(data)
        # the mode a new file gets (a temporary file is private), or the one it had
        tmp.chmod(path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask())
        tmp.replace(path)
    except (OSError, UnicodeError) as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise CliError(f"cannot write {path}: {reason}") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cmd_import(args: argparse.Namespace) -> int:
    """Convert a deck to flashgrade's Markdown; stdout, or --out written atomically."""
    from grader import DeckError
    from grader.decks import load_deck, parse_deck, to_markdown

    try:
        deck = load_deck(args.file, format=args.format)
    except DeckError as exc:
        raise CliError(str(exc)) from None
    text = to_markdown(deck)
    # The written file must read back as the same cards; refuse to write one that doesn't.
    try:
        same = (
            parse_deck(text, source=args.out or "import.md", format="markdown").cards == deck.cards
        )
        why = ""
    except DeckError as exc:
        same, why = False, f" ({exc})"
    if not same:
        raise CliError(f"{args.file}: the converted deck does not read back the same{why}")
    for warning in deck.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.out:
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if not args.force and _is_file(out) and _read_or_none(out) != text:
        raise CliError(f"{out} exists: add --force to replace it{_describe(out)}")
    _write_atomic(out, text)  # a temporary file renamed over the target
    print(f"wrote {out}: {len(deck.cards)} cards", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a deck as an Anki package (.apkg), atomically; nothing is written on error."""
    from grader.decks.apkg_writer import to_apkg

    out = Path(args.out)
    if out.suffix.lower() != ".apkg":
        raise CliError(f"{out}: an Anki package's name ends in .apkg")
    deck = _load_deck(args.deck)
    if not args.force and _is_file(out):
        raise CliError(f"{out} exists: add --force to replace it")
    _write_atomic(out, to_apkg(deck))
    print(f"wrote {out}: {len(deck.cards)} notes", file=sys.stderr)
    return 0


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name too long, say: writing will say so
        return False


def _read_or_none(path: Path) -> str | None:
    """The text of the file at ``path``; None where it cannot be read."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _describe(path: Path) -> str:
    """What a refusal to replace ``path`` adds, so that it says what would be lost."""
    from grader import DeckError
    from grader.decks import load_deck

    try:
        deck = load_deck(path)
    except DeckError:
        return ""
    n = len(deck.cards)
    return f" (deck {deck.title!r}, {n} card{'s' * (n != 1)})"


def cmd_check(args: argparse.Namespace) -> int:
    """Lint decks: one finding a line as `path: severity: message`; exit 1 on any error."""
    from grader.decks import check_deck
    from web.catalog import is_notes

    errors = warnings = 0
    decks = 0
    for path in args.decks:
        if is_notes(Path(path)):  # `check decks/*.md` takes the README too
            print(f"{path}: skipped: a README holds notes, not a deck", file=sys.stderr)
            continue
        decks += 1
        for finding in check_deck(path):
            print(f"{path}: {finding.severity}: {finding.message}")
            errors += finding.severity == "error"
            warnings += finding.severity == "warning"
    print(
        f"checked {decks} deck{'s' * (decks != 1)}: {errors} error{'s' * (errors != 1)}, "
        f"{warnings} warning{'s' * (warnings != 1)}",
        file=sys.stderr,
    )
    return 1 if errors else 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web app with uvicorn on the settings' host and port (``--workers`` processes)."""
    overrides = {
        name: value
        for name, value in (
            ("host", args.host),
            ("port", args.port),
            ("database_url", args.db),
            ("decks_dir", args.decks),
        )
        if value is not None
    }
    settings = _settings(**overrides)
    if not settings.decks_dir.is_dir():
        raise CliError(f"decks directory not found: {settings.decks_dir}")
    database = _masked(settings.database_url)  # fit to print; parsed before anything opens it
    try:  # a host that does not resolve would otherwise end in uvicorn's log lines
        socket.getaddrinfo(settings.host or None, settings.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise CliError(f"cannot serve on {settings.host}: {exc}") from None

    import logging

    import uvicorn
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from grader.embedding import EmbeddingUnavailable
    from web.app import create_app
    from web.storage.database import SchemaError

    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s:  %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per plugin otherwise
    try:
        app = create_app(settings)
    except (SchemaError, ArgumentError) as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot open the database {database}: {exc.__cause__ or exc}") from None
    except EmbeddingUnavailable as exc:  # FLASHGRADE_MATCHER=semantic without its model
        raise CliError(f"FLASHGRADE_MATCHER=semantic: {exc}") from None
    except ImportError as exc:  # a server database without its driver (psycopg, ...)
        raise CliError(f"cannot open the database {database}: {exc}") from None
    except OSError as exc:
        raise CliError(f"cannot use data directory {settings.data_dir}: {exc.strerror}") from None
    if not app.state.accounts.exist() and not _is_loopback(settings.host):
        raise CliError(
            f"refusing to serve on {settings.host} in local mode (no sign-in, so anyone who "
            "reaches the port could read and change everything): create an account first "
            "with `flashgrade users add NAME`, or serve on 127.0.0.1"
        )
    print(
        f"flashgrade: decks from {settings.decks_dir}, database {database}",
        file=sys.stderr,
    )
    if args.workers > 1:  # the app above has migrated the database and made the secret key
        del app
        _serve_workers(settings, args.workers, overrides)
        return 0
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.access_log,
        server_header=False,
        http=_http_protocol(settings),
    )
    return 0


def _is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (a name must resolve only to such)."""
    import ipaddress

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def _http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """httptools with limits on a request's head: its size and the time to send it."""
    from web.http_server import protocol

    return protocol(max_head_bytes=settings.max_header_bytes, head_timeout=settings.header_timeout)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 1 <= number <= 64:
        raise argparse.ArgumentTypeError(f"must be 1-64, not {number}")
    return number


def _serve_workers(settings: Settings, workers: int, overrides: dict[str, object]) -> None:
    """Run ``workers`` uvicorn processes, each building the app from the environment (which
    carries the command line's settings); their metrics are summed through Prometheus's
    multiprocess mode in a folder of their own."""
    import shutil

    import uvicorn

    for name, value in overrides.items():
        os.environ[f"FLASHGRADE_{name.upper()}"] = str(value)
    metrics_dir = tempfile.mkdtemp(prefix="flashgrade-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            "web.main:app",
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=settings.log_level,
            access_log=settings.access_log,
            server_header=False,
            http=_http_protocol(settings),
        )
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _masked(url: str) -> str:
    """A database URL fit to print, its password masked; one line for one that cannot be
    parsed (a port that is not a number would otherwise fail only when the engine is made)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
        parsed.port  # noqa: B018
    except (ArgumentError, ValueError):
        raise CliError("the database URL cannot be parsed (check its port and its form)") from None
    if "password" in parsed.query:  # libpq takes ?password=... too
        parsed = parsed.update_query_dict({"password": "***"})
    shown = parsed.render_as_string(hide_password=True)
    return shown.replace("password=%2A%2A%2A", "password=***")


def cmd_llm_check(args: argparse.Namespace) -> int:
    """Send one small request: model, latency, and whether structured output works."""
    from grader.llm import LLMError
    from grader.rubric import ReplyError, first_object

    client = _llm_client(True, _grading_settings(), what="llm-check")
    if client is None:  # pragma: no cover - required=True gives a client or a CliError
        raise CliError("llm-check: the LLM rubric is not configured")
    try:
        reply = client.check()
    except LLMError as exc:
        raise CliError(f"llm-check: {exc}") from None
    finally:
        client.close()
    structured = {
        "json_schema": "yes (json_schema)",
        "json_object": "no: JSON mode only (json_object)",
        "text": "no: plain text, JSON parsed from the reply",
    }[reply.mode]
    print(f"model: {client.model}")
    print(f"endpoint: {client.base_url or 'OpenAI default'}")
    print(f"latency: {reply.latency_ms} ms")
    print(f"structured output: {structured}")
    print(f"tokens: {reply.prompt_tokens} prompt, {reply.completion_tokens} completion")
    try:
        first_object(reply.content)
        print("reply: JSON")
    except ReplyError as exc:  # first_object raises nothing else
        print(f"reply: unusable ({exc})")
        return 1
    return 0


# --- parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flashgrade", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def matcher_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--matcher",
            choices=["auto", "fuzzy", "semantic"],
            default=None,
            help="offline matcher (default: FLASHGRADE_MATCHER, else auto: semantic where "
            "its model is installed)",
        )

    def llm_flags(p: argparse.ArgumentParser) -> None:
        g = p.add_mutually_exclusive_group()
        g.add_argument(
            "--llm",
            dest="llm",
            action="store_true",
            default=None,
            help="grade with the LLM rubric (needs FLASHGRADE_LLM_MODEL)",
        )
        g.add_argument(
            "--no-llm",
            dest="llm",
            action="store_false",
            help="offline grading only, even when an LLM model is configured",
        )

    p = add("serve", cmd_serve, "run the web app")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--db", default=None, help="SQLAlchemy database URL")
    p.add_argument("--decks", default=None, help="directory of deck files")
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="server processes on the one database (default 1)",
    )

    p = add("grade", cmd_grade, "grade one answer against one card")
    p.add_argument("--deck", required=True, help="deck file (any supported format)")
    p.add_argument("--card", required=True, help="card id or 1-based position")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--answer", help="the answer text")
    src.add_argument("--answer-file", type=_file_name, help="read the answer from this UTF-8 file")
    llm_flags(p)
    matcher_flag(p)
    p.add_argument("--json", action="store_true", help="print the grade as one JSON object")

    p = add("eval", cmd_eval, "grade labelled answers and report agreement with the humans")
    p.add_argument("file", help="labelled data, JSONL")
    llm_flags(p)
    matcher_flag(p)
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--out", type=_file_name, help="write one prediction per row to this JSONL file")
    p.add_argument("--concurrency", type=int, default=8, help="LLM requests in flight (--llm)")

    p = add("import", cmd_import, "convert a deck file into flashgrade's Markdown format")
    p.add_argument("file", help="deck file to import (text, CSV or an Anki .apkg)")
    p.add_argument(
        "--format",
        default="auto",
        choices=["auto", "brainscape", "anki-txt", "csv", "apkg", "markdown"],
    )
    p.add_argument("--out", type=_file_name, help="write here (default: stdout)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = add("export", cmd_export, "write a deck as an Anki package (.apkg) that Anki imports")
    p.add_argument("deck", metavar="DECK", help="deck file (any supported format)")
    p.add_argument("--out", required=True, type=_file_name, help="the package to write, NAME.apkg")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = add("check", cmd_check, "lint decks: empty cards, ungradable points, duplicate ids")
    p.add_argument("decks", nargs="+", metavar="DECK")

    add("llm-check", cmd_llm_check, "send one small request to the configured LLM endpoint")

    p = add("users", cmd_users, "manage accounts (the first one ends local mode: sign-in)")
    p.add_argument("--db", default=None, help="SQLAlchemy database URL")
    users = p.add_subparsers(dest="users_command", required=True, parser_class=_Parser)
    q = users.add_parser("add", help="add an account (the first one is an admin)")
    q.add_argument("name")
    q.add_argument("--admin", action="store_true", help="may manage decks and accounts")
    users.add_parser("list", help="every account with its activity")
    for name, text in (
        ("remove", "delete an account with its history"),
        ("passwd", "set a new password (signs the person out everywhere)"),
        ("token", "print a new API token (shown once)"),
    ):
        users.add_parser(name, help=text).add_argument("name")
    for q in users.choices.values():  # --db after the subcommand too
        q.add_argument("--db", default=argparse.SUPPRESS, help="SQLAlchemy database URL")
    return parser


def cmd_users(args: argparse.Namespace) -> int:
    """``flashgrade users ...`` (web/cli_users.py)."""
    from web.cli_users import run_users

    return run_users(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``flashgrade`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"flashgrade: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("flashgrade: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
