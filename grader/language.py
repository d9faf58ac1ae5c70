"""Which language a text is written in, so that an answer in another language than its card
is graded by meaning and said to be in that language.

Most answers are plainly English prose; a share of English function words settles those at
once. Anything else goes to py3langid (a naive Bayes identifier whose model ships in its
package), loaded on first need since loading it takes a second or two.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache
from typing import Any

from grader.text import STOP_WORDS, columns

LANGUAGE = "the answer seems to be in"  # how the warning that names a language begins
MIN_WORDS = 4  # fewer words say too little about their language
ENGLISH_SHARE = 0.15  # English prose is 25-50% function words; other languages almost none
MIN_CONFIDENCE = 0.9

# English names of the languages answers come in most (others are named by their code).
NAMES = {
    "ar": "Arabic", "ca": "Catalan", "cs": "Czech", "da": "Danish", "de": "German",
    "el": "Greek", "en": "English", "es": "Spanish", "fa": "Persian", "fi": "Finnish",
    "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian", "id": "Indonesian",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nb": "Norwegian", "nl": "Dutch",
    "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sv": "Swedish", "th": "Thai", "tr": "Turkish", "uk": "Ukrainian",
    "vi": "Vietnamese", "zh": "Chinese",
}  # fmt: skip

_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
MIN_CJK = 6  # characters: a few say as much as MIN_WORDS words

_identifier: Any = None
_lock = threading.Lock()


def _identify(text: str) -> tuple[str, float]:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    code, probability = _identifier.classify(text)
    return str(code), float(probability)


def warm() -> None:
    """Load the identifier now (a second or two), so that the first answer in another
    language does not wait for it: the web app calls this in a background thread."""
    _identify("warm")


@lru_cache(maxsize=4096)
def language_of(text: str) -> str | None:
    """The ISO 639-1 code of the language ``text`` is written in, or None when it is too
    short or too mixed to tell."""
    return language_of_words(text, columns(text).words)


def _by_script(text: str) -> str | None:
    """Chinese, Japanese or Korean, told by their scripts where those make up most of the
    letters (the identifier's n-grams are unsure of short texts in them)."""
    letters = sum(c.isalpha() for c in text)
    kana = len(_KANA.findall(text))
    hangul = len(_HANGUL.findall(text))
    han = len(_HAN.findall(text))
    if not letters or (kana + hangul + han) < 0.5 * letters or kana + hangul + han < MIN_CJK:
        return None
    if hangul > kana and hangul >= han / 4:
        return "ko"
    return "ja" if kana else "zh"


def language_of_words(text: str, words: list[str]) -> str | None:
    """:func:`language_of` ``text``, whose folded words are ``words`` (already at hand)."""
    script = _by_script(text)
    if script is not None:
        return script
    letters = [w for w in words if not w.isdigit()]
    if len(letters) < MIN_WORDS:
        return None
    if sum(w in STOP_WORDS for w in letters) >= ENGLISH_SHARE * len(letters):
        return "en"
    code, probability = _identify(text)
    return code if probability >= MIN_CONFIDENCE else None


def name_of(code: str) -> str:
    """The English name of a language code ("de" -> "German")."""
    return NAMES.get(code, code)


def other_language(answer: str, reference: str, *, words: list[str] | None = None) -> str | None:
    """The code of the answer's language where it differs from the reference's, else None
    (``words``: the answer's folded words, where already at hand)."""
    said = language_of(answer) if words is None else language_of_words(answer, words)
    if said is None:
        return None
    expected = language_of(reference)
    return said if expected is not None and said != expected else None
