"""Checks on an LLM's evidence: does a quote occur in the answer, and what does it show?

A quote is located in the answer tolerating case, spacing, punctuation and a typo. What it
shows of a point is measured in the answer's own words: the point's content stems that one
sentence of the quote contains, each weighing 1, or 0.5 when many points of the card share
it. Stop words, generic verbs and fillers ("use", "new", "check") and words about grading
("score", "covered", "response") are never evidence, and the caller can exclude words
already used as evidence for another point.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from grader.cards import Point
from grader.text import GENERIC_WORDS, GRADING_WORDS, STOP_WORDS, Token, fold_map, stem, tokenize

MIN_QUOTE_CHARS = 3
MAX_QUOTE_CHARS = 600  # longer "quotes" dump the answer rather than point at evidence
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.+|…)\s*")
_NUMBER = re.compile(r"\d+")


@lru_cache(maxsize=512)
def normalise_map(text: str) -> tuple[str, tuple[int, ...]]:
    """Folded text (:func:`grader.text.fold_map`) with punctuation as single spaces, and
    each char's source index."""
    folded, source = fold_map(text)
    chars: list[str] = []
    index: list[int] = []
    for c, i in zip(folded, source, strict=True):
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


_GRADING_EVIDENCE = frozenset(stem(w) for w in GRADING_WORDS)  # never evidence
_GENERIC_STEMS = frozenset(stem(w) for w in GENERIC_WORDS)


def _evidence_token(word: str, stemmed: str) -> bool:
    """Whether a word can be evidence: not a stop word, a number, a generic verb or filler
    ("use", "new", "check") or a word about grading."""
    return (
        word not in STOP_WORDS
        and word not in GENERIC_WORDS
        and not word.isdigit()
        and stemmed not in _GRADING_EVIDENCE
        and stemmed not in _GENERIC_STEMS
        and len(word) >= 2
    )


def content_words(text: str) -> int:
    """How many words of ``text`` are not stop words (a quote needs a few to be evidence)."""
    return sum(1 for t in tokenize(text) if t.word not in STOP_WORDS and not t.word.isdigit())


@lru_cache(maxsize=4096)
def point_vocabulary(point: Point) -> frozenset[str]:
    """The content stems of a point's text and its aliases (grading words excluded)."""
    words = [point.text]
    for alias in point.aliases:
        words.append(alias.term)
        words.extend(alias.alternatives)
    return frozenset(t.stem for w in words for t in tokenize(w) if _evidence_token(t.word, t.stem))


def _stem_matches(a: str, b: str) -> bool:
    if a == b:
        return True
    # a typo in a longer word ("monitering") or a shared long prefix ("deploy"/"deployment")
    if len(a) >= 5 and len(b) >= 5:
        return (a[:5] == b[:5] and (a.startswith(b) or b.startswith(a))) or fuzz.ratio(a, b) >= 85
    return False


def stem_weight(vocab_stem: str, common: Collection[str]) -> float:
    """A point stem's weight as evidence: 1, or 0.5 when many points of the card share it."""
    return 0.5 if vocab_stem in common else 1.0


def point_weight(point: Point, common: Collection[str]) -> float:
    """The whole evidence weight of a point's vocabulary."""
    return sum(stem_weight(s, common) for s in point_vocabulary(point))


@dataclass(frozen=True, slots=True)
class Support:
    """What a quote shows of a point: the point stems it matches and where."""

    weight: float  # summed stem weights (see stem_weight)
    stems: frozenset[str]  # the point stems matched
    positions: tuple[int, ...]  # indexes of the answer tokens that matched, one per stem
    start: int  # character span of the matching tokens' sentence, within the quote
    end: int

    specific: bool = False  # at least one matched stem is specific to few points

    @property
    def count(self) -> int:
        return len(self.stems)


_SENTENCE_BREAK = re.compile(r"[.!?\n。！？]+(?=\s|$)|\n")


@dataclass(frozen=True, slots=True)
class AnswerText:
    """An answer prepared for checking evidence: its tokens and each token's sentence."""

    text: str
    tokens: tuple[Token, ...]
    sentence: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> AnswerText:
        tokens = tuple(tokenize(text))
        breaks = [m.start() for m in _SENTENCE_BREAK.finditer(text)]
        sentence: list[int] = []
        k = 0
        for tok in tokens:
            while k < len(breaks) and breaks[k] < tok.start:
                k += 1
            sentence.append(k)
        return cls(text, tokens, tuple(sentence))

    def support(
        self,
        start: int,
        end: int,
        point: Point,
        *,
        common: Collection[str] = (),
        used: Collection[int] = (),
    ) -> Support:
        """The best support for ``point`` that one sentence of the span [start, end) gives.

        Tokens in ``used`` (already evidence for another point) and grading words are not
        evidence. Only one sentence counts, so that quoting the whole answer shows no more
        than quoting its best sentence.
        """
        vocab = sorted(point_vocabulary(point))
        found: dict[int, dict[str, tuple[float, int]]] = {}
        spans: dict[int, tuple[int, int]] = {}
        for i, tok in enumerate(self.tokens):
            if tok.start < start or tok.end > end:
                continue
            n = self.sentence[i]
            first, last = spans.get(n, (tok.start, tok.end))
            spans[n] = (min(first, tok.start), max(last, tok.end))
            if i in used or not _evidence_token(tok.word, tok.stem):
                continue
            match = next((v for v in vocab if _stem_matches(tok.stem, v)), None)
            if match is None:
                continue
            weight = stem_weight(match, common)
            matches = found.setdefault(n, {})
            if match not in matches or matches[match][0] < weight:
                matches[match] = (weight, i)
        best = Support(0.0, frozenset(), (), start, start)
        for n, matches in found.items():
            weight = sum(w for w, _ in matches.values())
            if weight > best.weight:
                positions = tuple(sorted(i for _, i in matches.values()))
                specific = any(w >= 1.0 for w, _ in matches.values())
                best = Support(weight, frozenset(matches), positions, *spans[n], specific)
        return best


@lru_cache(maxsize=1024)
def common_stems(points: tuple[Point, ...]) -> frozenset[str]:
    """Stems shared by more than a third of the points (at least two): weak evidence alone."""
    counts: dict[str, int] = {}
    for p in points:
        for s in point_vocabulary(p):
            counts[s] = counts.get(s, 0) + 1
    limit = max(2, len(points) // 3 + 1)
    return frozenset(s for s, n in counts.items() if n >= limit)
