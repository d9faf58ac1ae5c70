"""Anki package import benchmark: a 10,000-note .apkg read into a deck. Run on demand.

    .venv/bin/python tests/benchmarks/bench_apkg.py [--notes 10000] [--runs 5]

Builds one package in Anki's current format (a schema 18 collection, zstd-compressed, beside
the stub collection.anki2; tests/apkg_builders.py) and one legacy package (genanki), each
with --notes notes whose answers mix list items, <div>s, <br>s and ';'. For each it measures
the median of --runs runs of:

- floor: what any reader must do: open the zip, decompress the collection and read every
  note's row with sqlite3;
- read_apkg: the whole import into a Deck (HTML to text, points, card ids);
- import: that plus writing the deck as flashgrade's Markdown and reading it back, as
  `flashgrade import --out` does.

It prints each median and its ratio to the floor of the same run (the machine may be busy).
Target: import of a 10,000-note package in under 5 s.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TARGET_S = 5.0


def notes(count: int) -> list[list[str]]:
    out = []
    for i in range(count):
        question = f"How would you handle incident {i} in the <b>payments</b> service?"
        answer = (
            f"<ul><li>Page the on-call for shard {i}</li><li>Roll back release {i % 97}</li></ul>"
            f"<div>Check the error budget; compare latency p99</div>Write the postmortem {i}<br>"
            f"Add an alert &amp; a runbook entry"
        )
        out.append([question, answer])
    return out


def floor(data: bytes) -> int:
    """Unzip, decompress and read every note row: what any reader must at least do."""
    import zstandard

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        raw = archive.read(
            "collection.anki21b" if "collection.anki21b" in names else "collection.anki2"
        )
    if "collection.anki21b" in names:
        raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
    conn = sqlite3.connect(":memory:")
    conn.create_collation("unicase", lambda a, b: (a > b) - (a < b))
    conn.deserialize(raw)
    rows = conn.execute("SELECT mid, flds FROM notes ORDER BY id").fetchall()
    conn.close()
    return len(rows)


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from apkg_builders import current_bytes, legacy_bytes

    from grader.decks import parse_deck, read_apkg, to_markdown

    def full_import(data: bytes) -> None:
        deck = read_apkg(data, source="bench.apkg")
        text = to_markdown(deck)
        assert parse_deck(text, source="bench.md", format="markdown").cards == deck.cards

    spec = notes(args.notes)
    with tempfile.TemporaryDirectory() as tmp:
        packages = {
            "current": current_bytes(spec, Path(tmp)),
            "legacy": legacy_bytes(spec),
        }
    worst = 0.0
    print(f"{args.notes:,} notes, median of {args.runs} runs")
    for name, data in packages.items():
        deck = read_apkg(data, source="bench.apkg")
        assert len(deck.cards) == args.notes, len(deck.cards)
        assert floor(data) == args.notes
        base = median_seconds(lambda d=data: floor(d), args.runs)  # type: ignore[misc]
        read = median_seconds(lambda d=data: read_apkg(d, source="bench.apkg"), args.runs)  # type: ignore[misc]
        whole = median_seconds(lambda d=data: full_import(d), args.runs)  # type: ignore[misc]
        worst = max(worst, whole)
        print(f"{name:>8} package: {len(data) / 2**20:.1f} MiB")
        print(f"{'':>8} floor (unzip + sqlite rows)  {base * 1000:8.1f} ms")
        print(
            f"{'':>8} read_apkg                   {read * 1000:8.1f} ms  {read / base:6.1f}x floor"
        )
        ratio = whole / base
        print(f"{'':>8} import (+ Markdown, re-read) {whole * 1000:8.1f} ms  {ratio:6.1f}x floor")
    verdict = "meets" if worst < TARGET_S else "MISSES"
    print(f"slowest import {worst:.2f} s: {verdict} the target of {TARGET_S:.0f} s")
    return 0 if worst < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
