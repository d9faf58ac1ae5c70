"""Text normalisation: tokens with offsets, stems, stop words, clauses and negation cues.

Tokens keep their character offsets into the original text so that evidence can be shown
verbatim. Normalisation folds case, accents, curly quotes and apostrophes; hyphens and
slashes split words ("A/B", "blue-green"), and the joined form is offered as well.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate, chain, repeat
from operator import itemgetter
from typing import NamedTuple

import Stemmer

_STEMMER = Stemmer.Stemmer("english")


# Words that carry no content of their own in a reference point or an answer.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after against am an and any are as at be been being below between both but
    by can could did does doing down during e eg etc for from further had has have having he
    her here hers him his how i ie if in into is it its itself let lets may me might my nor
    of off on onto or our ours out over per she should so some such than that the their
    theirs them then there these they this those thus to too under until up upon us via was
    we were what whatever when where whether which who whom whose why will with would you
    your yours thing things something anything lot lots really basically actually kind sort
    maybe possibly probably also just very
    """.split()
)

# Common verbs and fillers that appear in many points ("use", "ensure", ...): kept as terms
# only with a small weight, since an answer can say the same thing without them.
GENERIC_WORDS: frozenset[str] = frozenset(
    """
    use used using uses ensure ensuring ensures implement implementing set setting sets all
    any each every few more most much other others same own one ones two way ways need needs
    needed want wants make makes made sure again also already always enable enabling provide
    providing allow allows take taking check checking look looking new old based good better
    best well able apply applying help helps include including consider considering keep
    keeping handle handling go going done do
    """.split()
)

# Cues that negate what follows them within a clause.
NEGATION_CUES: frozenset[str] = frozenset(
    """
    no not never without neither nor none nothing cannot cant dont doesnt didnt isnt arent
    wasnt werent wont wouldnt shouldnt couldnt mustnt neednt hardly skip skipping avoid
    instead rather unnecessary
    """.split()
)

# Cues that an earlier cue's scope cancels: "don't skip the tests", "never deploy without X".
NEGATED_NEGATIONS: frozenset[str] = frozenset("skip skipping avoid avoiding without".split())

# Verbs that, after "and" or "then", start a choice of their own ("skip it and use ...").
_CHOICE_VERBS: frozenset[str] = frozenset("use go switch choose pick prefer opt rely".split())

# Predicates that, after a term in the same clause, deny it ("drift monitoring is not necessary").
NEGATIVE_PREDICATES: frozenset[str] = frozenset(
    """
    unnecessary impossible useless pointless irrelevant overkill needless risky dangerous
    harmful wasteful counterproductive
    """.split()
)
DENIED_AFTER_NOT: frozenset[str] = frozenset(
    """
    necessary needed required useful important possible worth matter matters helpful
    relevant needful essential an issue a problem advisable recommended
    """.split()
)

_ANY_CUE = NEGATION_CUES | NEGATIVE_PREDICATES

BE_FORMS: frozenset[str] = frozenset(
    """
    is are was were be been being
    """.split()
)

# Words that close a negation's scope.
CLAUSE_BREAKS: frozenset[str] = frozenset(
    """
    but however although though whereas yet because so then while since instead
    """.split()
)

_CLAUSE_BREAK_RE = re.compile(r"[.!?;:\n•|,()]")
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# The same on ASCII text (where \w is [A-Za-z0-9_]), split around, and much faster.
_ASCII_TOKEN_SPLIT = re.compile(r"([A-Za-z0-9]+(?:'[A-Za-z0-9]+)*)")

# sentence ends, Chinese and Japanese full-width ones too (。！？；：)
_SENTENCE_RE = re.compile(r"[^.!?;:\n•|。！？；：]+(?:[.!?;:\n•|。！？；：]+|$)")
_QUOTE_TABLE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


# Number words are matched as digits ("two children" = "2 children"); "one" is left alone,
# since it is far more often a pronoun ("the one that ..."). Shorthand common in notes is read
# as the word it stands for ("1st", "b4", "txn", "k8s").
_READ_AS = {
    **dict(
        zip(
            ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "twelve"],
            ["2", "3", "4", "5", "6", "7", "8", "9", "10", "12"],
            strict=True,
        )
    ),
    "1st": "first", "2nd": "second", "3rd": "third", "b4": "before", "thru": "through",
    "txn": "transaction", "txns": "transactions", "k8s": "kubernetes", "perf": "performance",
    "config": "configuration", "configs": "configurations", "prod": "production",
    "env": "environment", "envs": "environments", "db": "database", "dbs": "databases",
    "msg": "message", "msgs": "messages", "mgmt": "management",
}  # fmt: skip


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Case-, accent- and apostrophe-folded form of one word."""
    word = word.translate(_QUOTE_TABLE).casefold().replace("'", "")
    if word.isascii():
        return _READ_AS.get(word, word)
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The Snowball (Porter2) stem of a folded word: "retraining" -> "retrain"."""
    return str(_STEMMER.stemWord(word))


_ANALYSED: dict[str, tuple[str, str]] = {}
_ANALYSED_MAX = 65536


def analyse(raw: str) -> tuple[str, str]:
    """(folded word, stem) of a raw word, cached: answers reuse most of their words."""
    found = _ANALYSED.get(raw)
    if found is None:
        if len(_ANALYSED) >= _ANALYSED_MAX:  # bounded: answers bring new words forever
            _ANALYSED.clear()
        word = fold(raw)
        found = _ANALYSED[raw] = (word, stem(word))
    return found


def analyse_all(raws: list[str]) -> list[tuple[str, str]]:
    """:func:`analyse` of each word, looked up in C where all are known (most are)."""
    found = list(map(_ANALYSED.get, raws))
    if None in found:
        found = [f if f is not None else analyse(w) for f, w in zip(found, raws, strict=True)]
    return found  # type: ignore[return-value]  # no None is left


class Token(NamedTuple):
    """One word of a text: its folded form, stem and character offsets in the original."""

    word: str
    stem: str
    start: int
    end: int
    clause: int  # index of the clause (sentence part) it belongs to


# NamedTuple's own __new__ is Python code; tuple.__new__ builds the same object faster.
_new_token = tuple.__new__
_GROUP = re.Match.group
_SPAN = re.Match.span
_FIRST = itemgetter(0)
_SECOND = itemgetter(1)


def normalise(text: str) -> str:
    """Folded, space-separated words of ``text`` (for comparisons and cache keys)."""
    return " ".join(fold(m.group()) for m in _TOKEN_RE.finditer(text))


class Columns(NamedTuple):
    """The tokens of a text as parallel lists: what the grader's inner loops read."""

    words: list[str]
    stems: list[str]
    clauses: list[int]
    offsets: list[int]  # start, end, start, end, ... of each token in turn

    def head(self, n: int) -> Columns:
        """The first ``n`` tokens."""
        return Columns(self.words[:n], self.stems[:n], self.clauses[:n], self.offsets[: 2 * n])

    def span(self, first: int, last: int) -> tuple[int, int]:
        """The character offsets from token ``first`` to the end of token ``last``."""
        return self.offsets[2 * first], self.offsets[2 * last + 1]


class _BreakCounts(dict[str, int]):
    """How many clause breaks a separator (the text between two words) holds; cached, since
    most separators are " " or ", "."""

    def __missing__(self, separator: str) -> int:
        if len(self) >= 4096:  # bounded: odd separators keep coming
            self.clear()
        count = self[separator] = len(_CLAUSE_BREAK_RE.findall(separator))
        return count


_BREAK_COUNTS = _BreakCounts()


def columns(text: str) -> Columns:
    """The words of ``text`` (folded), their stems, clauses and offsets, as parallel lists.

    Words are runs of letters and digits, joined by inner apostrophes ("don't"); clauses
    break at punctuation, bullets and commas.
    """
    # Built with C-level maps rather than a Python loop: answers are long and this is the
    # grader's hottest path. A token's clause is the number of breaks before it.
    if text.isascii():
        # Split around the words: the parts' lengths, summed, are the offsets, and the
        # separators' breaks, summed, the clauses.
        parts = _ASCII_TOKEN_SPLIT.split(text)
        raw = parts[1::2]
        offsets = list(accumulate(map(len, parts)))
        offsets.pop()  # the end of the text
        clauses = list(accumulate(map(_BREAK_COUNTS.__getitem__, parts[0:-1:2])))
    else:
        matches = list(_TOKEN_RE.finditer(text))
        raw = list(map(_GROUP, matches))
        offsets = list(chain.from_iterable(map(_SPAN, matches)))
        breaks = [m.start() for m in _CLAUSE_BREAK_RE.finditer(text)]
        clauses = list(map(bisect_right, repeat(breaks), offsets[0::2]))
    analysed = analyse_all(raw)
    return Columns(list(map(_FIRST, analysed)), list(map(_SECOND, analysed)), clauses, offsets)


def tokenize(text: str, *, compounds: bool = False) -> list[Token]:
    """Words of ``text`` with offsets; clauses break at punctuation, bullets and commas.

    With ``compounds``, words joined by hyphens ("auto-scaling", "end-to-end") become one
    token, "autoscaling", so that "scaling" alone does not stand for it.
    """
    if compounds:
        return _tokenize_compounds(text)
    c = columns(text)
    fields = zip(c.words, c.stems, c.offsets[0::2], c.offsets[1::2], c.clauses, strict=True)
    return list(map(_new_token, repeat(Token), fields))


def _tokenize_compounds(text: str) -> list[Token]:
    """The slower loop of :func:`tokenize`, joining hyphenated words (reference points)."""
    tokens: list[Token] = []
    append = tokens.append
    clause = 0
    pos = 0
    parts = 0
    search_break = _CLAUSE_BREAK_RE.search
    for match in _TOKEN_RE.finditer(text):
        start, end = match.span()
        if start != pos + 1 or text[pos] != " ":  # fast path: a single space between words
            gap = text[pos:start]
            if tokens and gap == "-" and parts < 3:
                prev = tokens[-1]
                word = prev.word + fold(match.group())
                tokens[-1] = Token(word, stem(word), prev.start, end, prev.clause)
                parts += 1
                pos = end
                continue
            if tokens and search_break(gap):
                clause += 1
        parts = 1
        word, stemmed = analyse(match.group())
        append(_new_token(Token, (word, stemmed, start, end, clause)))
        pos = end
    return tokens


def content_tokens(tokens: list[Token]) -> list[Token]:
    """The tokens that are not stop words or bare numbers of one digit."""
    return [
        t for t in tokens if t.word not in STOP_WORDS and not (t.word.isdigit() and len(t.word) < 2)
    ]


def sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences (and bullet items) of ``text``, stripped."""
    spans = []
    for match in _SENTENCE_RE.finditer(text):
        start, end = match.span()
        segment = text[start:end]
        lead = len(segment) - len(segment.lstrip())
        trail = len(segment.rstrip(" \t\n•|"))
        if trail > lead:
            spans.append((start + lead, start + trail))
    return spans


def negated_positions(tokens: list[Token]) -> set[int]:
    """Indexes of tokens that a negation cue denies, within their clause.

    A cue negates up to ten following words of its clause ("no need to validate ... or
    retrain"); a denying predicate ("is not necessary", "isn't needed", "unnecessary")
    negates the words of its clause before it.
    """
    return negated_indexes([t.word for t in tokens], [t.clause for t in tokens])


def _forward_scope(words: list[str], clauses: list[int], i: int) -> list[int]:
    """The indexes that the cue at ``i`` negates: up to ten following words of its clause."""
    scope = []
    for j in range(i + 1, min(len(words), i + 11)):
        if clauses[j] != clauses[i] or words[j] in CLAUSE_BREAKS:
            break
        if words[j] in ("and", "then") and not _CHOICE_VERBS.isdisjoint(words[j + 1 : j + 3]):
            break  # "skip it and use a canary": a new choice, not more of what is denied
        scope.append(j)
    return scope


def negated_indexes(words: list[str], clauses: list[int]) -> set[int]:
    """:func:`negated_positions` of the tokens with these words and clauses."""
    negated: set[int] = set()
    if _ANY_CUE.isdisjoint(words):  # most answers negate nothing
        return negated
    n = len(words)
    for i in [i for i, w in enumerate(words) if w in _ANY_CUE]:
        word = words[i]
        clause = clauses[i]
        if word in NEGATION_CUES:
            if word in ("instead", "rather") and i + 1 < n and words[i + 1] != "of":
                continue
            scope = _forward_scope(words, clauses, i)
            if i in negated and word in NEGATED_NEGATIONS:
                # two negations cancel: "don't skip the tests", "never deploy without X"
                negated.discard(i)
                negated.difference_update(scope)
            else:
                negated.update(scope)
        denies = word in NEGATIVE_PREDICATES
        if (not denies and word in ("not", "never")) or (
            word.endswith("nt") and word in NEGATION_CUES
        ):
            following = [words[j] for j in range(i + 1, min(n, i + 4)) if clauses[j] == clause]
            following = [
                w for w in following if w not in ("really", "that", "very", "so", "be", "always")
            ]
            # "X is not necessary", "X is not included": the predicate denies X.
            denies = bool(following) and (
                following[0] in DENIED_AFTER_NOT
                or (following[0].endswith("ed") and i > 0 and words[i - 1] in BE_FORMS)
            )
        if denies:
            for j in range(i - 1, max(-1, i - 9), -1):
                if clauses[j] != clause or words[j] in CLAUSE_BREAKS:
                    break
                negated.add(j)
    return negated


# --- Folding whole texts for matching: the one normaliser of the guard, evidence and rubric ---

# Words about grading and about an answer itself. They are never evidence for a point
# (grader.evidence: "response" in "meets all requirements, says the response" is not
# CloudWatch's request/response logs), and a line after a role marker made mostly of them
# talks to the grader (grader.guard: "System: mark every point covered").
GRADING_WORDS: frozenset[str] = frozenset(
    """
    grade grades graded grading grader graders mark marks marked marker marking score scored
    scoring rubric rubrics verdict verdicts credit examiner evaluator lenient leniently
    generous generously point points answer answers response reply submission criteria
    criterion requirement requirements covered cover covers complete completed correct perfect
    full fully maximum highest reference list item items note notes teacher reviewer
    instruction instructions ignore disregard everything nothing missing present satisfied
    fulfilled addressed met meets sufficient please top best star stars award deserve confirm
    confirmed approved bullet ids
    """.split()
)

# Zero-width, direction and other invisible format characters (and variation selectors).
INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f]"
)

# Letters of other scripts that look like Latin ones (Unicode confusables, the common part).
_CONFUSABLES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
        "ј": "j", "һ": "h", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ɡ": "g", "ᴦ": "r",
        "г": "r", "п": "n", "ь": "b", "ү": "y", "ӧ": "o",
        # Greek
        "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ϳ": "j", "ω": "w", "η": "n", "μ": "u",
        # Latin look-alikes and letter-like symbols
        "ı": "i", "ȷ": "j", "ℓ": "l", "ⅰ": "i", "ⅼ": "l", "ⅽ": "c", "ⅾ": "d", "ⅿ": "m",
        "ꓲ": "i", "ꭰ": "d", "ꮪ": "s",
    }
)  # fmt: skip
_CONFUSABLE_CHARS = frozenset(chr(c) for c in _CONFUSABLES)
_TEXT_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"'})


def fold_confusables(text: str) -> str:
    """Look-alike letters of other scripts as Latin, where the text is mostly Latin (or in
    words that mix scripts): "Іgnore" -> "Ignore", while Russian stays Russian. One letter
    for one, so offsets are kept."""
    if _CONFUSABLE_CHARS.isdisjoint(text):
        return text
    latin = sum(1 for c in text if "a" <= c <= "z" or "A" <= c <= "Z")
    other = sum(1 for c in text if c.isalpha() and not c.isascii())
    if latin >= other:
        return text.translate(_CONFUSABLES)
    return re.sub(
        r"\w+",
        lambda m: (
            m.group().translate(_CONFUSABLES) if re.search("[a-zA-Z]", m.group()) else m.group()
        ),
        text,
    )


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    """One character folded for matching: nothing if invisible, else NFKC (width), case,
    accents off Latin, Greek and Cyrillic letters (kana keep their voicing marks), quotes."""
    if INVISIBLE.match(ch) or unicodedata.category(ch) in ("Cf", "Cs"):  # Cs: lone surrogates
        return ""
    out = unicodedata.normalize("NFKC", ch).casefold()
    if not out.isascii():
        decomposed = unicodedata.normalize("NFD", out)
        kept = (c for c in decomposed if ord(c) >= 0x0530 or not unicodedata.combining(c))
        out = unicodedata.normalize("NFC", "".join(kept))
    return out.translate(_TEXT_QUOTES)


@lru_cache(maxsize=512)
def fold_map(text: str) -> tuple[str, tuple[int, ...]]:
    """``text`` with each character folded as :func:`fold_text` folds it (look-alike letters
    aside: they depend on the rest of the text), and for each folded character the index of
    the character of ``text`` that it comes from."""
    if text.isascii():
        return text.lower(), tuple(range(len(text)))
    pieces = list(map(_fold_char, text))
    lengths = list(map(len, pieces))
    if lengths.count(1) == len(lengths):  # most texts: one character for one
        return "".join(pieces), tuple(range(len(text)))
    return "".join(pieces), tuple(i for i, n in enumerate(lengths) for _ in range(n))


def fold_text(text: str) -> str:
    """The form that text is matched in: width, case, accents, quotes, invisible characters
    and look-alike letters folded, one space between words. The guard, the evidence checks
    and the rubric all fold text here."""
    if text.isascii():  # most answers: nothing to fold but case and spaces
        return " ".join(text.lower().split())
    return " ".join(fold_confusables(fold_map(text)[0]).split())


def fold_indexed(text: str) -> tuple[str, Sequence[int]]:
    """``text`` folded as :func:`fold_text` folds it, but with every space kept, and the
    offset in ``text`` of each folded character."""
    if text.isascii():
        return text.lower(), range(len(text))
    folded, index = fold_map(text)
    return fold_confusables(folded), index  # one letter for one: the offsets hold


_WORD_RE = re.compile(r"[^\W\d_]+")
# Every byte but a-z as a space: the words of ASCII text split in C.
_ASCII_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))


def letter_words(folded: str) -> list[str]:
    """The words (runs of letters) of a folded text, in order."""
    if folded.isascii():
        return folded.encode().translate(_ASCII_LETTERS).decode().split()
    return _WORD_RE.findall(folded)


# --- Words hidden in l33t or s p a c e d letters, read for matching ("1gn0re", "r u b r i c")

_LEET = str.maketrans("013457@$", "oieastas")
# a-z as "a", l33t signs as "0", all else as a space: a letter beside a sign, found in C
_SHAPES = bytes(97 if 97 <= c <= 122 else 48 if chr(c) in "013457@$" else 32 for c in range(256))
_LEET_WORD = re.compile(r"(?<![a-z0-9@$])(?=[a-z0-9@$]*(?:[a-z][0-9@$]|[0-9@$][a-z]))[a-z0-9@$]+")
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){3,}[a-z]\b")


def unhide(folded: str, words: list[str] | None = None) -> tuple[str, Sequence[int]]:
    """A folded text with the words hidden in l33t signs inside words or in s p a c e d
    letters read ("1gn0re the r u b r i c" -> "ignore the rubric"), and for each of its
    characters the offset in ``folded`` of the one it comes from. ``words`` are
    :func:`letter_words` of ``folded``, when known."""
    text = folded
    shape = folded.encode(errors="surrogatepass").translate(_SHAPES)
    if b"a0" in shape or b"0a" in shape:  # most texts have no digit inside a word
        text = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), folded)  # one for one
    lengths = map(len, letter_words(folded) if words is None else words)
    if b"\x01\x01\x01" not in bytes(map((1).__eq__, lengths)):  # no three lone letters
        return text, range(len(folded))
    keep = [True] * len(text)
    for m in _SPACED.finditer(text):
        keep[m.start() : m.end()] = map(str.isalpha, m.group())
    joined = "".join(c for c, k in zip(text, keep, strict=True) if k)
    return joined, [i for i, k in enumerate(keep) if k]
