"""Where a Markdown deck holds fenced code and tables, as markdown-it-py's tokens say.

The deck reader goes line by line; inside these blocks a line is content, never deck
structure: ``# x`` in a fenced code block is a comment, not a second title, and ``- x`` is
code, not a point.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": True}).enable("table")


def literal_lines(text: str) -> dict[int, str]:
    """0-based line numbers inside a closed fenced code block ("fence") or a table ("table").

    A fence that is never closed runs to the end of the file in CommonMark; here it is left
    out, so that a stray ````` does not swallow the cards after it."""
    lines = text.splitlines()
    found: dict[int, str] = {}
    for token in _MD.parse(text):
        if token.map is None or token.type not in ("fence", "table_open"):
            continue
        start, end = token.map
        if token.type == "fence":
            closing = lines[end - 1].strip() if end - 1 < len(lines) else ""
            if end - start < 2 or not closing.startswith(token.markup):
                continue
        for line in range(start, end):
            found[line] = "fence" if token.type == "fence" else "table"
    return found
