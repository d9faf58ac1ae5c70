"""Measure what the guard flags in ordinary text: every sentence of every labelled answer,
and every line of a file of natural sentences.

Run on demand (not collected by pytest):

    .venv/bin/python tests/benchmarks/guard_false_positives.py ../shared/data/*.jsonl
    .venv/bin/python tests/benchmarks/guard_false_positives.py --natural FILE.txt DATA.jsonl

It prints every flagged sentence (a person reads them to tell real instructions to the
grader from false positives) and, per file, how many sentences and answers were flagged.
Each answer is read whole as well as sentence by sentence, since a role marker or a fenced
block spans sentences. tests/test_guard_false_positives.py runs it on small fixtures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader.guard import find_directives  # noqa: E402

NATURAL = ROOT / "tests" / "fixtures" / "natural_sentences.txt"
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")


@dataclass
class Tally:
    """What the guard flagged in one file."""

    name: str
    answers: int = 0
    sentences: int = 0
    flagged_answers: list[str] = field(default_factory=list)  # ids
    flagged_sentences: list[tuple[str, str]] = field(default_factory=list)  # (id, sentence)


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, stripped (a simple split: . ! ? and line breaks)."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def tally(name: str, answers: Iterable[tuple[str, str]]) -> Tally:
    """Run the guard over each (id, answer), whole and sentence by sentence."""
    result = Tally(name)
    for row_id, answer in answers:
        result.answers += 1
        flagged = bool(find_directives(answer))
        for sentence in sentences(answer):
            result.sentences += 1
            if find_directives(sentence):
                result.flagged_sentences.append((row_id, sentence))
                flagged = True
        if flagged:
            result.flagged_answers.append(row_id)
    return result


def labelled(path: Path) -> Iterable[tuple[str, str]]:
    """(id, answer) of each row of a labelled JSONL file."""
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if line.strip():
                row = json.loads(line)
                yield str(row.get("id", n)), row.get("answer") or ""


def natural(path: Path) -> Iterable[tuple[str, str]]:
    """(line number, sentence) of each line of a natural-sentence file ("#" comments)."""
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            yield str(n), line.strip()


def report(tallies: list[Tally]) -> str:
    """The flagged sentences, then one summary line per file."""
    out = []
    for t in tallies:
        for row_id, sentence in t.flagged_sentences:
            out.append(f"{t.name} {row_id}: {sentence}")
    out.append("")
    out.append(f"{'file':<28} {'answers':>8} {'flagged':>8} {'sentences':>10} {'flagged':>8}")
    for t in tallies:
        out.append(
            f"{t.name:<28} {t.answers:>8} {len(t.flagged_answers):>8} {t.sentences:>10} "
            f"{len(t.flagged_sentences):>8}"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", type=Path, help="labelled JSONL files")
    parser.add_argument("--natural", type=Path, default=NATURAL, help="natural sentences")
    args = parser.parse_args(argv)
    tallies = [tally(path.name, labelled(path)) for path in args.data]
    tallies.append(tally(args.natural.name, natural(args.natural)))
    print(report(tallies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
