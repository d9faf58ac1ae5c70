"""Splitting a plain-text reference answer into gradable points."""

from __future__ import annotations

import re

_BULLET_RE = re.compile(r"^\s*(?:[-*•‣◦▪●]|\(?\d{1,2}[.)]|\(?[a-zA-Z][.)])\s+")
_INLINE_LIST_RE = re.compile(r"\s(?:-|•)\s+(?=\S)")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?;])\s+(?=[\"'“(]?[A-Z0-9])")
MIN_WORDS = 3


def split_points(text: str) -> list[str]:
    """Points of a plain-text reference: one per line or bullet, long lines by sentence.

    Fragments too short to grade on their own (fewer than three words) are joined to the
    point before them, so "TCP: reliable. UDP: not." stays meaningful.
    """
    pieces: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = _BULLET_RE.sub("", line).strip()
        if not line:
            continue
        for item in _INLINE_LIST_RE.split(" " + line):
            for sentence in _SENTENCE_END_RE.split(item.strip()):
                sentence = _BULLET_RE.sub("", sentence).strip()
                if sentence:
                    pieces.append(sentence)
    points: list[str] = []
    for piece in pieces:
        if points and (len(piece.split()) < MIN_WORDS or len(points[-1].split()) < MIN_WORDS):
            points[-1] = f"{points[-1]} {piece}"
        else:
            points.append(piece)
    return points
