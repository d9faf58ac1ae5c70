"""Where a Markdown deck holds fenced code and tables, as markdown-it-py's tokens say.

The deck reader goes line by line; inside these blocks a line is content, never deck
structure: ``# x`` in a fenced code block is a comment, not a second title, and ``- x`` is
code, not a point.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

# Block rules only, and not those of lists, setext headings, quotes or link references:
# fences and tables are found the same without them (a point's fence is indented by less
# than four), and lists are most of the parser's time on a deck. HTML blocks stay, so that a
# fence inside a <!-- comment --> is no fence.
_MD = (
    MarkdownIt("commonmark", {"html": True})
    .enable("table")
    .disable(["inline", "list", "lheading", "reference", "blockquote"])
)
# A line that may open a fence or be a table's delimiter row ("|---|", "--- | :---:"):
# without one, there is nothing to find, and most decks are spared the parse.
_CANDIDATE_RE = re.compile(r"^[ \t]*(?:```|~~~|\|?[ \t]*:?-+:?[ \t]*\|)", re.MULTILINE)


def literal_lines(text: str) -> dict[int, str]:
    """0-based line numbers inside a closed fenced code block ("fence") or a table ("table").

    A fence that is never closed runs to the end of the file in CommonMark; here it is left
    out, so that a stray ````` does not swallow the cards after it."""
    if not _CANDIDATE_RE.search(text):
        return {}
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
