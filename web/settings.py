"""One typed settings object, read from the environment and ``.env`` (see ``.env.example``)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from grader.embedding import DEFAULT_THREADS

# The decks shipped with flashgrade: web/shipped_decks/ in an installed package (the wheel
# maps the top-level decks/ there), the top-level decks/ in a checkout.
_INSTALLED_DECKS = files("web") / "shipped_decks"
BUNDLED_DECKS = (
    Path(str(_INSTALLED_DECKS))
    if _INSTALLED_DECKS.is_dir()
    else Path(__file__).resolve().parent.parent / "decks"
)


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("flashgrade"))


def default_decks_dir() -> Path:
    """``./decks`` when the current directory has one, else the decks shipped with flashgrade."""
    local = Path.cwd() / "decks"
    return local if local.is_dir() else BUNDLED_DECKS


class GradingSettings(BaseSettings):
    """The settings of grading, which `flashgrade grade` and `eval` read as the web app does;
    environment names are ``FLASHGRADE_<NAME>`` (and the openai client's own for its key)."""

    model_config = SettingsConfigDict(
        env_prefix="FLASHGRADE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    strictness: Literal["lenient", "normal", "strict"] = "normal"
    # offline grading: semantic (meaning and words) where its model is installed, else fuzzy
    matcher: Literal["auto", "fuzzy", "semantic"] = "auto"
    embedding_model: str | None = None  # a model file or folder; default: the bundled model
    embedding_threads: int = Field(DEFAULT_THREADS, ge=1, le=64)

    # the optional LLM rubric (the openai client's own variable names for key and URL)
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "openai_api_key")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "openai_base_url")
    )
    llm_model: str | None = None
    llm_timeout: float = Field(20.0, gt=0, allow_inf_nan=False)
    # after this many failed requests in a row (timeouts, connection errors, 5xx), the LLM is
    # skipped for llm_skip_seconds: grades fall back at once instead of each waiting the timeout
    llm_skip_after_failures: int = Field(3, ge=0)  # 0: never skipped
    llm_skip_seconds: float = Field(60.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _blank_is_unset(self) -> GradingSettings:
        if self.llm_model is not None and not self.llm_model.strip():
            self.llm_model = None
        if self.embedding_model is not None and not self.embedding_model.strip():
            self.embedding_model = None
        return self


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


class Settings(GradingSettings):
    """Every setting of the web app; environment names are ``FLASHGRADE_<NAME>``."""

    # where things live
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""  # default: sqlite:///<data_dir>/flashgrade.sqlite3
    decks_dir: Path = Field(default_factory=default_decks_dir)

    # the server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    access_log: bool = True
    secret_key: SecretStr | None = None  # default: generated once, kept in <data_dir>/secret_key
    secure_cookies: bool = False  # set when served over HTTPS
    # the Host headers answered (comma-separated; the loopback names and the serve host are
    # added): others get 400, so a web page elsewhere cannot reach the app by DNS rebinding
    allowed_hosts: str = "localhost,127.0.0.1,[::1]"
    session_days: int = Field(14, ge=1, le=365)  # how long a sign-in lasts
    # a request's head (request line and headers): its largest size, and the seconds a client
    # has to send it (web/http_server.py); more gets 431, slower 408
    max_header_bytes: int = Field(32_768, ge=4096, le=1_048_576)
    header_timeout: float = Field(10.0, gt=0, le=3600, allow_inf_nan=False)

    # practice and scheduling
    max_answer_chars: int = Field(20_000, ge=1)
    new_cards_per_day: int = Field(20, ge=0)
    # when nothing else is left, a card due within this many minutes is shown now (Anki's
    # "learn ahead limit"), so a card just failed comes back in the same session; 0: never
    learn_ahead_minutes: int = Field(20, ge=0, le=24 * 60)
    desired_retention: float = Field(0.9, gt=0.0, lt=1.0)
    fsrs_fuzz: bool = True
    grade_workers: int = Field(1, ge=0, le=64)  # processes for fuzzy grading; 0: in the server
    # seconds a grading worker has for a grade before it counts as stalled and is replaced
    grade_worker_timeout: float = Field(5.0, gt=0, allow_inf_nan=False)

    # calibration of a deck's suggestions to the person's overrides (per deck, once enough)
    calibration: bool = True
    calibration_min_overrides: int = Field(15, ge=1)

    # deck upload on the home page: the largest deck file accepted, in bytes
    max_upload_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    # uploads kept for their preview until saved: at most this many, this much in all
    upload_stash_max_files: int = Field(100, ge=1)
    upload_stash_max_bytes: int = Field(64 * 1_048_576, ge=1024)
    # an uploaded Anki package's collection, unpacked: reading stops past it (zip bombs)
    max_upload_collection_bytes: int = Field(64 * 1_048_576, ge=1_048_576, le=512 * 1_048_576)

    # storage
    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    # full: an acknowledged attempt survives power loss; normal: faster commits, but the
    # last ones before a power cut may be lost (never on a crash of flashgrade itself)
    sqlite_synchronous: Literal["full", "normal"] = "full"

    @model_validator(mode="after")
    def _resolve_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser()
        self.decks_dir = self.decks_dir.expanduser()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'flashgrade.sqlite3'}"
        return self

    @property
    def host_names(self) -> list[str]:
        """``allowed_hosts`` as a list, with the loopback names and the host served on (unless
        it is every address). Loopback names are always answered: DNS rebinding comes with
        the attacker's own name, and the machine's own checks use them."""
        names = [*LOOPBACK_NAMES, *(h.strip() for h in self.allowed_hosts.split(",") if h.strip())]
        host = self.host.strip()
        if host and host not in ("0.0.0.0", "::"):
            names.append(f"[{host}]" if ":" in host and not host.startswith("[") else host)
        return list(dict.fromkeys(names))

    @property
    def max_body_bytes(self) -> int:
        """The largest request body accepted: the answer limit at its most verbose, plus room.

        A character outside the BMP takes 12 bytes both in JSON escapes (``\\ud83d\\ude00``)
        and in a percent-encoded form (``%F0%9F%98%80``)."""
        return self.max_answer_chars * 12 + 64 * 1024
