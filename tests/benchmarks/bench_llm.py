"""Benchmark: 100 LLM gradings in flight through the async path (grade_async with an
AsyncLLMClient, as the web app calls it) against a fake endpoint taking 0.5 s per reply.

Run on demand (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_llm.py
Passes when all 100 complete, with verified LLM verdicts, in under 3 s in total.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from fake_openai import keyword_grader, running  # noqa: E402

from grader import grade_async, load_deck  # noqa: E402
from grader.llm import AsyncLLMClient  # noqa: E402

IN_FLIGHT = 100
REPLY_SECONDS = 0.5
LIMIT_SECONDS = 3.0


async def run(url: str) -> tuple[float, list[str]]:
    deck = load_deck(ROOT / "decks" / "mlops.md")
    client = AsyncLLMClient(model="bench", base_url=url, api_key="sk-bench", timeout=10.0)
    answers = [
        (
            deck.cards[i % len(deck.cards)],
            f"Answer {i}: deploy to a small subset of users first, monitor errors and latency, "
            f"and roll back to the previous version quickly if issues arise.",
        )
        for i in range(IN_FLIGHT)
    ]
    # A warm-up grading, as in a running web app: imports, the SDK client, the prompt files.
    await grade_async(deck.cards[0], "warm-up answer", llm=client)
    start = time.perf_counter()
    results = await asyncio.gather(*(grade_async(card, text, llm=client) for card, text in answers))
    elapsed = time.perf_counter() - start
    await client.aclose()
    return elapsed, [r.method for r in results]


def main() -> int:
    with running() as fake:
        fake.script(keyword_grader(delay=REPLY_SECONDS))
        elapsed, methods = asyncio.run(run(fake.url))
        requests = fake.count
    llm = methods.count("llm")
    print(
        f"{IN_FLIGHT} gradings in flight, {REPLY_SECONDS} s per reply: {elapsed:.2f} s total "
        f"({llm} by the LLM rubric, {requests} requests); limit {LIMIT_SECONDS} s"
    )
    ok = elapsed < LIMIT_SECONDS and llm == IN_FLIGHT and requests == IN_FLIGHT + 1
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
