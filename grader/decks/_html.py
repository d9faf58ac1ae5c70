"""Anki's HTML fields as plain text that carries no live markup."""

from __future__ import annotations

import html
import re

# Elements whose content is never card text: scripts, styles, embedded documents.
_DEAD = r"script|style|iframe|object|embed|noscript|template|svg|math|head|title|frameset"
_DROP_RE = re.compile(
    rf"<\s*({_DEAD})\b.*?<\s*/\s*\1\s*>|<!--.*?-->|\[sound:[^\]]*\]",
    re.IGNORECASE | re.DOTALL,
)
_ITEM_TAG_RE = re.compile(r"<\s*li\b[^>]*>", re.IGNORECASE)
_BREAK_RE = re.compile(
    r"<\s*br\s*/?\s*>|<\s*/?\s*(?:div|p|ul|ol|li|h[1-6]|tr|blockquote|pre)\b[^>]*>", re.IGNORECASE
)
_TAG_RE = re.compile(r"<[^>]*>")
# Tags that entities spelled out ("&lt;script&gt;") are text once decoded, yet would be live
# markup wherever the card is rendered as HTML. Those that run or load something go; harmless
# ones stay as the text their author wrote ("What does <div> do?", "List<String>").
_ACTIVE = frozenset(
    """
    applet audio base embed form frame frameset iframe img input link math meta noscript object
    picture script source style svg template track video
    """.split()
)
_DECODED_TAG_RE = re.compile(r"<\s*/?\s*([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")
_LIVE_ATTRIBUTE_RE = re.compile(r"\bon[a-z]+\s*=|javascript:|\bsrcdoc\s*=", re.IGNORECASE)


def _live(match: re.Match[str]) -> bool:
    return match.group(1).lower() in _ACTIVE or bool(_LIVE_ATTRIBUTE_RE.search(match.group(2)))


def _strip(pattern: re.Pattern[str], text: str) -> str:
    # Repeat until nothing changes, so that "<scr<b>ipt>" cannot reassemble into a tag.
    while True:
        stripped = pattern.sub("", text)
        if stripped == text:
            return text
        text = stripped


def _defuse(text: str) -> str:
    """Remove markup that decoding entities brought back (``&lt;script&gt;`` -> nothing)."""
    text = _strip(_DROP_RE, text)
    return _strip_elements(text)


def _strip_elements(text: str) -> str:
    while True:
        stripped = _DECODED_TAG_RE.sub(lambda m: "" if _live(m) else m.group(0), text)
        if stripped == text:
            return text
        text = stripped


# A ";" separates points in an Anki answer ("a; b; c"), but not one inside a tag (a style
# attribute), an entity ("&amp;"), inline code or a <code> element.
_SEMICOLON_RE = re.compile(
    r"(<\s*code\b[^>]*>.*?<\s*/\s*code\s*>|<[^>]*>|&#?\w+;|`[^`\n]*`)|;",
    re.IGNORECASE | re.DOTALL,
)


def semicolons_to_breaks(field: str) -> str:
    """The HTML with each separating ``;`` turned into ``<br>``; ``&#59;`` stays a ``;``."""
    return _SEMICOLON_RE.sub(lambda m: m.group(1) or "<br>", field)


def html_to_text(field: str) -> str:
    """Anki's HTML field as text: <br>, <div>, <p> and <li> become line breaks, tags go.

    Scripts, styles and comments go with their content; entities are decoded, and markup that
    the decoding spells out goes too where it would run or load anything (a script, an image,
    an ``onclick``), so the text carries no live markup."""
    text = _strip(_DROP_RE, field)
    text = _ITEM_TAG_RE.sub("\n- ", text)  # list items stay recognisable as bullet points
    text = _BREAK_RE.sub("\n", text)
    text = _strip(_TAG_RE, text)
    return _defuse(html.unescape(text))
