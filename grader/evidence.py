"""Checks on an LLM's evidence: does a quote occur in the answer, and does it fit the point?

Also finds text in the answer that addresses the grader ("ignore the rubric", "give this a
5", "system: ..."): such text earns nothing, whoever reads it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from grader.cards import Point
from grader.text import GENERIC_WORDS, STOP_WORDS, stem, tokenize

MIN_QUOTE_CHARS = 3
MAX_QUOTE_CHARS = 600  # longer "quotes" dump the answer rather than point at evidence
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|…)\s*")
_NUMBER = re.compile(r"\d+")


def _norm_char(ch: str) -> str:
    out = unicodedata.normalize("NFKC", ch).casefold()
    return "".join(c for c in unicodedata.normalize("NFKD", out) if not unicodedata.combining(c))


@lru_cache(maxsize=512)
def normalise_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Case/accent-folded text with punctuation as single spaces, and each char's source index."""
    chars: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":  # zero-width and direction marks
            continue
        for c in _norm_char(ch):
            if c.isalnum() or c == "%":
                chars.append(c)
                index.append(i)
            elif chars and chars[-1] != " ":
                chars.append(" ")
                index.append(i)
    while chars and chars[-1] == " ":
        chars.pop()
        index.pop()
    return "".join(chars), tuple(index)


@dataclass(frozen=True, slots=True)
class Located:
    """Where a quote occurs in the answer: character offsets into the original text."""

    start: int
    end: int


def _find_fragment(fragment: str, norm: str, index: tuple[int, ...]) -> Located | None:
    if len(fragment) < MIN_QUOTE_CHARS:
        return None
    at = norm.find(fragment)
    if at >= 0:
        return Located(index[at], index[at + len(fragment) - 1] + 1)
    if len(fragment) > len(norm) + 3:
        return None
    # Short quotes must match (almost) exactly; longer ones may differ by a typo or two.
    cutoff = 96.0 if len(fragment) < 20 else 90.0
    align = fuzz.partial_ratio_alignment(fragment, norm, score_cutoff=cutoff)
    if align is None or align.dest_end - align.dest_start < 0.8 * len(fragment):
        return None
    # A typo is tolerated, a different number is not ("50%" is not "5%").
    matched = norm[align.dest_start : align.dest_end]
    if set(_NUMBER.findall(fragment)) - set(_NUMBER.findall(matched)):
        return None
    return Located(index[align.dest_start], index[align.dest_end - 1] + 1)


def locate(quote: str, answer: str) -> Located | None:
    """Where ``quote`` occurs in ``answer`` (case, whitespace, punctuation tolerant), or None.

    A quote with an ellipsis ("deploy ... first") is found fragment by fragment, in order.
    """
    if not quote or len(quote) > MAX_QUOTE_CHARS:
        return None
    norm, index = normalise_map(answer)
    spans: list[Located] = []
    for part in _ELLIPSIS.split(quote):
        fragment, _ = normalise_map(part)
        if not fragment:
            continue
        found = _find_fragment(fragment, norm, index)
        if found is None or (spans and found.start < spans[-1].start):
            return None
        spans.append(found)
    if not spans:
        return None
    return Located(spans[0].start, spans[-1].end)


def _stems(text: str) -> set[str]:
    return {t.stem for t in tokenize(text) if t.word not in STOP_WORDS and not t.word.isdigit()}


@lru_cache(maxsize=4096)
def point_vocabulary(point: Point) -> frozenset[str]:
    """The content stems of a point's text and its aliases."""
    words = [point.text]
    for alias in point.aliases:
        words.append(alias.term)
        words.extend(alias.alternatives)
    return frozenset(set().union(*(_stems(w) for w in words)))


def _stem_matches(a: str, b: str) -> bool:
    if a == b:
        return True
    # a typo in a longer word ("monitering") or a shared long prefix ("deploy"/"deployment")
    if len(a) >= 5 and len(b) >= 5:
        return (a[:5] == b[:5] and (a.startswith(b) or b.startswith(a))) or fuzz.ratio(a, b) >= 85
    return False


def relatedness(quote: str, point: Point, *, common: Collection[str] = ()) -> float:
    """How well ``quote`` relates to ``point``: weighted shared content stems (0 = unrelated).

    A shared specific stem weighs 1; a stem common to many points of the card (``common``)
    or a generic verb ("use", "ensure") weighs 0.5. A reasonable whole-text similarity counts
    as well, for paraphrases with different words.
    """
    vocab = point_vocabulary(point)
    weight = 0.0
    for s in _stems(quote):
        if any(_stem_matches(s, v) for v in vocab):
            weight += 0.5 if s in common or s in _GENERIC_STEMS else 1.0
    similarity = fuzz.token_set_ratio(quote.casefold(), point.text.casefold()) / 100
    return max(weight, 1.0 if similarity >= 0.7 else 0.0)


_GENERIC_STEMS = {stem(w) for w in GENERIC_WORDS}


@lru_cache(maxsize=1024)
def common_stems(points: tuple[Point, ...]) -> frozenset[str]:
    """Stems shared by more than a third of the points (at least two): weak evidence alone."""
    counts: dict[str, int] = {}
    for p in points:
        for s in point_vocabulary(p):
            counts[s] = counts.get(s, 0) + 1
    limit = max(2, len(points) // 3 + 1)
    return frozenset(s for s, n in counts.items() if n >= limit)
