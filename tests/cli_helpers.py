"""Helpers for the command-line tests."""

from __future__ import annotations


def one_line_error(err: str) -> str:
    """The one line of a CLI error on stderr; fails on a traceback or more lines."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("flashgrade: error: ")
    return lines[0]
