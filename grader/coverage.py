"""Fuzzy coverage: which reference points an answer covers, and where.

Each key term of the card is looked up once in the answer: by stem ("retraining" for
"retrain"), by the joined form of two words ("auto scaling" for "autoscaling") and, for
words of five letters or more, by edit similarity with the same first letter, so that typos
("monitering") match but short look-alikes ("drift"/"draft", "deploy"/"employ") do not.
Occurrences inside a negated clause ("no need to retrain") do not count; a point whose
terms occur only negated is marked as contradicted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from grader.cards import Card
from grader.language import LANGUAGE, name_of, other_language
from grader.result import PointResult, Status
from grader.terms import PreparedCard, PreparedPoint, prepare
from grader.text import GENERIC_WORDS, STOP_WORDS, Columns, columns, negated_indexes

SATURATION = 0.6  # share of a point's term weight that covers it fully
NAME_FACTOR = 0.9  # credit for naming the point's idea (its label) alone
FUZZY_STRENGTH = 0.9
ABBREVIATION_STRENGTH = 0.8
_VOWELS = frozenset("aeiou")
COVERED_AT = 0.55
PARTIAL_AT = 0.26
CONTRADICTED_SHARE = 0.25
NO_MATCH = "the answer matches none of the reference points"
MAX_TOKENS = 20_000  # longer answers are graded on their first words; said in a warning


# Where a term occurs: token positions where the answer affirms it, where it negates it,
# and the match's strength (1.0, or less for a typo). Words of one stem share the same
# position lists: they are read, never changed.
_Hits = tuple[Sequence[int], Sequence[int], float]
_NOWHERE: tuple[int, ...] = ()


def _fuzzy_cutoff(length: int) -> float:
    return 88.0 if length <= 5 else 83.0 if length <= 7 else 80.0


def _find_terms(prepared: PreparedCard, tokens: Columns, negated: set[int]) -> dict[str, _Hits]:
    """Where each of the card's term words occurs in the answer."""
    # term stems only: their positions, affirmed and negated, in order
    affirmed: dict[str, list[int]] = {}
    denied: dict[str, list[int]] = {}
    stems = tokens.stems
    term_stems = prepared.words_of_stem
    matching = [i for i, s in enumerate(stems) if s in term_stems]
    if negated.isdisjoint(matching):
        for i in matching:
            affirmed.setdefault(stems[i], []).append(i)
    else:
        for i in matching:
            (denied if i in negated else affirmed).setdefault(stems[i], []).append(i)
    joins: dict[str, list[int]] = {}  # neighbours joined into a term word
    compounds = prepared.compounds
    heads = prepared.heads
    # Joined neighbours match compounds: "auto scaling", "blue/green" -> "autoscaling", ...
    # Only a word that begins some term can start one, which few words do.
    answer_words = tokens.words
    clauses = tokens.clauses
    n = len(answer_words)
    for i in [i for i, w in enumerate(answer_words) if w in heads]:
        clause = clauses[i]
        if i + 1 < n and clauses[i + 1] == clause:
            joined = answer_words[i] + answer_words[i + 1]
            if joined in compounds:
                joins.setdefault(joined, []).append(i)
            if i + 2 < n and joined in heads and clauses[i + 2] == clause:
                joined += answer_words[i + 2]
                if joined in compounds:
                    joins.setdefault(joined, []).append(i)

    hits: dict[str, _Hits] = {}
    for stem_ in affirmed.keys() | denied.keys():
        found = (affirmed.get(stem_, _NOWHERE), denied.get(stem_, _NOWHERE), 1.0)
        for word in prepared.words_of_stem[stem_]:
            hits[word] = found
    for word, joined_at in joins.items():
        stem_ = prepared.stem_of_word[word]
        said = set(joined_at).union(affirmed.get(stem_, ()), denied.get(stem_, ()))
        hits[word] = _split(sorted(said), negated, 1.0)
    unmatched = [w for w in prepared.typo_words if w not in hits]

    # Typos: one fuzzy pass of the unmatched terms against the answer's other words.
    candidates = [w for w in set(answer_words).union(joins) if len(w) >= 4 and w.isalpha()]
    if unmatched and candidates:
        scores = process.cdist(unmatched, candidates, scorer=fuzz.ratio, score_cutoff=80.0)
        found_at: dict[int, set[str]] = {}
        for row, col in zip(*np.nonzero(scores), strict=True):
            word, cand = unmatched[row], candidates[col]
            # Typos rarely hit the first letter; look-alikes often differ there.
            if (
                scores[row, col] >= _fuzzy_cutoff(len(word))
                and cand[0] == word[0]
                and abs(len(cand) - len(word)) <= 2
            ):
                found_at.setdefault(int(row), set()).add(cand)
        if found_at:
            wanted = set().union(*found_at.values())
            at: dict[str, list[int]] = {}
            for i in [i for i, w in enumerate(answer_words) if w in wanted]:
                at.setdefault(answer_words[i], []).append(i)
            for row, words in found_at.items():
                positions = [i for w in words for i in at.get(w, ())]
                for joined in words & joins.keys():
                    positions.extend(joins[joined])
                hits[unmatched[row]] = _split(sorted(set(positions)), negated, FUZZY_STRENGTH)
    _find_abbreviations(prepared, answer_words, negated, hits)
    return hits


def _is_abbreviation(short: str, word: str) -> bool:
    """Whether ``short`` shortens ``word`` as notes do, at least two letters shorter: its
    start ("crit" critical, "feats" features, "cols" columns), or its first letter and then
    consonants only, in order ("chk" check, "idx" index, "pymnts" payments). Ordinary words
    ("fate", "told", "rain") are neither, whatever they share with a term."""
    if short[0] != word[0] or len(short) > len(word) - 2:
        return False
    stem = short[:-1] if short.endswith("s") and len(short) > 3 else short
    if word.startswith(stem):
        return True
    if not _VOWELS.isdisjoint(short[1:]):
        return False
    rest = iter(word[1:])
    return all(c in rest for c in short[1:])  # a subsequence: each found after the last


def _find_abbreviations(
    prepared: PreparedCard, answer_words: list[str], negated: set[int], hits: dict[str, _Hits]
) -> None:
    """Term words still unmatched, found in the answer as abbreviations (see above)."""
    unmatched = [w for w in prepared.typo_words if w not in hits]
    if not unmatched:
        return
    by_letter: dict[str, list[str]] = {}
    for w in set(answer_words):
        if (
            len(w) >= 3
            and w.isalpha()
            and w not in STOP_WORDS
            and w not in GENERIC_WORDS
            and w not in prepared.stem_of_word
            and w not in prepared.words_of_stem
        ):
            by_letter.setdefault(w[0], []).append(w)
    for word in unmatched:
        found = [s for s in by_letter.get(word[0], ()) if _is_abbreviation(s, word)]
        if found:
            at = [i for i, w in enumerate(answer_words) if w in found]
            hits[word] = _split(at, negated, ABBREVIATION_STRENGTH)


def _split(found: list[int], negated: set[int], strength: float) -> _Hits:
    """Positions (sorted, distinct) split by polarity."""
    if negated.isdisjoint(found):
        return found, _NOWHERE, strength
    return [i for i in found if i not in negated], [i for i in found if i in negated], strength


def _positions(tokens: Columns, negated: set[int]) -> dict[str, list[int]]:
    """Where each stem of the answer occurs affirmed (for aliases)."""
    positions: dict[str, list[int]] = {}
    for i, stem in enumerate(tokens.stems):
        if i not in negated:
            positions.setdefault(stem, []).append(i)
    return positions


def _alias_hits(
    point: PreparedPoint, positions: dict[str, list[int]]
) -> tuple[set[str], list[int]]:
    """Stems covered through a point's aliases, and the answer positions that said them."""
    covered: set[str] = set()
    where: list[int] = []
    for group in point.aliases:
        for alternative in group.alternatives:
            if all(s in positions for s in alternative):
                covered |= group.covers
                where.extend(positions[s][0] for s in alternative)
                break
    return covered, where


def _assess_point(
    point: PreparedPoint,
    hits: dict[str, _Hits],
    answer: str,
    tokens: Columns,
    positions: dict[str, list[int]],
) -> tuple[PointResult, float]:
    """The point's result, and the term weight that the answer matched (0 if denied)."""
    alias_stems: set[str] = set()
    where: list[int] = []
    said: tuple[int, ...] = ()  # where aliases were said
    if point.aliases:
        alias_stems, where = _alias_hits(point, positions)
        said = tuple(where)
    matched = 0.0
    label = 0.0
    denied = 0.0
    for word, stem, weight, in_label, reference_negated in point.terms:
        hit = hits.get(word)
        if alias_stems and stem in alias_stems:
            strength = 1.0
        elif hit is None:
            continue
        else:
            # Occurrences count when their polarity agrees with the reference's:
            # "has no children" is not covered by "has children", and vice versa.
            positive, negative, strength = hit
            agreeing, opposed = (negative, positive) if reference_negated else (positive, negative)
            if not agreeing:
                if opposed:
                    denied += weight
                continue
            # A word said both ways ("a while loop tests first, a do-while does not")
            # counts: contrasts are common in good answers.
            where.extend(agreeing)
        matched += weight * strength
        if in_label:
            label += weight * strength

    total = point.total or 1.0
    credit = matched / total / SATURATION
    if point.label_total and NAME_FACTOR * label / point.label_total > credit:
        credit = NAME_FACTOR * label / point.label_total
    if credit > 1.0:
        credit = 1.0
    # A point counts as contradicted only when a real share of it is denied and little of
    # it is affirmed, so one negated common word does not cost a whole point.
    contradicted = (
        denied > 0.0 and denied >= min(CONTRADICTED_SHARE * point.total, 1.0) and denied >= matched
    )
    if contradicted:
        credit = 0.0
    status: Status = (
        "covered" if credit >= COVERED_AT else "partial" if credit >= PARTIAL_AT else "missing"
    )
    weight = 0.0 if contradicted else min(matched, point.total)
    if credit == 0.0 and not contradicted:  # missing, with nothing of it said
        return point.missing, weight  # results are frozen: most answers miss most points
    span = (
        _evidence_span(tokens, where, lambda: _weights_at(point, hits, alias_stems, said))
        if status != "missing"
        else None
    )
    evidence = answer[span[0] : span[1]] if span else None
    p = point.point
    # (round() formats the float in decimal: slow, and needless for the usual 0 and 1)
    if credit != 1.0 and credit != 0.0:
        credit = round(credit, 4)
    result = PointResult(p.id, p.section, p.text, status, evidence, span, credit, contradicted)
    return result, weight


def _evidence_span(
    tokens: Columns, where: list[int], weigh: Callable[[], dict[int, float]]
) -> tuple[int, int] | None:
    """The stretch of one clause of the answer that holds most of the point's matched words.
    Between clauses with as many, the one whose words weigh most (``weigh()``: each matched
    position's weight), then the first, so that a point's own words ("adjust thresholds")
    win over words that the question shares with it ("the new segment")."""
    if not where:
        return None
    hits = sorted(set(where))
    clauses = list(map(tokens.clauses.__getitem__, hits))  # non-decreasing: runs per clause
    if clauses[0] == clauses[-1]:
        return tokens.span(hits[0], hits[-1])
    # the longest runs of one clause, as (first, last) indexes into hits
    clauses.append(-1)  # ends the last run
    longest: list[tuple[int, int]] = []
    best = start = 0
    current = clauses[0]
    for k, clause in enumerate(clauses):
        if clause != current:
            if k - start > best:
                best, longest = k - start, [(start, k - 1)]
            elif k - start == best:
                longest.append((start, k - 1))
            start, current = k, clause
    first, last = longest[0]
    if len(longest) > 1:
        weight_at = weigh()

        def weight_of(run: tuple[int, int]) -> float:
            # rounded: sums of the same weights in another order must tie
            return round(sum(weight_at.get(hits[k], 0.0) for k in range(run[0], run[1] + 1)), 9)

        first, last = max(longest, key=weight_of)
    return tokens.span(hits[first], hits[last])


def _weights_at(
    point: PreparedPoint, hits: dict[str, _Hits], alias_stems: set[str], said: Sequence[int]
) -> dict[int, float]:
    """Each answer position where ``point`` matched, with the heaviest of its terms said
    there (positions ``said`` of an alias weigh 1)."""
    at = dict.fromkeys(said, 1.0)
    for word, stem, weight, _, reference_negated in point.terms:
        hit = hits.get(word)
        if hit is None or stem in alias_stems:
            continue
        positive, negative, strength = hit
        for i in negative if reference_negated else positive:
            if weight * strength > at.get(i, 0.0):
                at[i] = weight * strength
    return at


@dataclass(frozen=True, slots=True)
class Assessment:
    """Per-point results and the whole-answer signals that scoring blends in."""

    points: list[PointResult]
    warnings: list[str]
    breadth: float = 0.0  # share of the card's key-term weight matched
    similarity: float = 0.0  # token-sort similarity of answer and reference, 0-1
    language: str | None = None  # the answer's language, where not the card's
    matcher: str = "fuzzy"  # what found the points: "fuzzy" (words) or "semantic"


def assess(card: Card, answer: str, *, always_tell_language: bool = False) -> Assessment:
    """Per-point statuses, credits and evidence for ``answer``, plus warnings (one names the
    answer's language where it is not the card's)."""
    prepared = prepare(card)
    if not answer.strip():
        return Assessment(
            [p.missing for p in prepared.points], ["empty answer: every point is missing"]
        )
    warnings: list[str] = []
    tokens = columns(answer)
    if len(tokens.words) > MAX_TOKENS:
        warnings.append(f"very long answer: only its first {MAX_TOKENS:,} words were graded")
        tokens = tokens.head(MAX_TOKENS)
    negated = negated_indexes(tokens.words, tokens.clauses)
    hits = _find_terms(prepared, tokens, negated)
    positions = _positions(tokens, negated) if prepared.has_aliases else {}
    results = []
    matched = denied = 0.0
    for point in prepared.points:
        result, weight = _assess_point(point, hits, answer, tokens, positions)
        matched += weight
        denied += point.total if result.contradicted else 0.0
        results.append(result)
    # Words rarely cover a point of an answer in another language: by words alone, only then
    # is it worth telling the language (which may load the identifier, a second or so, once).
    language = (
        None
        if not always_tell_language and any(r.status == "covered" for r in results)
        else other_language(answer, prepared.reference_text, words=tokens.words)
    )
    if language is not None:
        warnings.append(
            f"{LANGUAGE} {name_of(language)}, not the card's language: words were matched, "
            "not meaning, so points it makes may be missed"
        )
    if not prepared.words:
        warnings.append(
            "the card's reference points hold no words to grade by (see `flashgrade check`)"
        )
    elif all(r.status == "missing" for r in results) and not any(r.contradicted for r in results):
        why = "off-topic?" if language else "off-topic, or another language?"
        warnings.append(f"{NO_MATCH} ({why})")
    total = sum(p.total for p in prepared.points) or 1.0
    # Breadth is for references written as prose (one section): their points are sentences
    # of a model answer, often alternatives. A checklist in titled sections is graded per point.
    breadth = 0.0 if prepared.sectioned else max(0.0, matched - denied) / total
    pairs = zip(tokens.words, tokens.stems, strict=True)
    answer_stems = [s for w, s in pairs if w not in STOP_WORDS]
    # token_sort, not token_set: a fragment of the reference is not "similar" to all of it.
    # (token_sort_ratio, with the reference's side sorted once per card. A few non-ASCII
    # characters fold to nothing or to spaces, so there the stems are split again; an ASCII
    # word's stem is always one word.)
    if not answer.isascii():
        answer_stems = " ".join(answer_stems).split()
    answer_sorted = " ".join(sorted(answer_stems))
    # (two empty texts are 100% alike to rapidfuzz; an answer with no content words is not)
    similarity = (
        fuzz.ratio(prepared.reference_sorted, answer_sorted) / 100.0
        if prepared.reference_sorted and answer_sorted
        else 0.0
    )
    return Assessment(results, warnings, round(breadth, 4), round(similarity, 4), language)
