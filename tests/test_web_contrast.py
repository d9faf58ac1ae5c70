"""The stylesheet's colour pairs meet WCAG AA for normal text (4.5:1), light and dark."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[1] / "web" / "static" / "app.css").read_text()

# text colour on background colour, as the pages use them (chips, badges, links, nav)
PAIRS = [
    ("text", "bg"),
    ("text", "panel"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("accent", "bg"),
    ("accent", "panel"),
    ("accent", "accent-soft"),
    ("accent-text", "accent"),
    ("good", "good-soft"),
    ("good", "panel"),
    ("warn", "warn-soft"),
    ("warn", "panel"),
    ("bad", "bad-soft"),
    ("bad", "panel"),
    *(("on-score", f"s{n}") for n in range(1, 6)),
]


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def _schemes() -> dict[str, dict[str, str]]:
    light = _variables(CSS.split(":root", 1)[1].split("}", 1)[0])
    dark_block = CSS.split("prefers-color-scheme: dark", 1)[1].split("}", 1)[0]
    return {"light": light, "dark": {**light, **_variables(dark_block)}}


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_dark_scheme_is_read_from_its_own_block() -> None:
    schemes = _schemes()
    assert schemes["dark"]["bg"] != schemes["light"]["bg"]


def test_contrast_of_black_on_white_is_21() -> None:
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(("fg", "bg"), PAIRS)
def test_text_colour_on_its_background_is_at_least_4_5_to_1(scheme: str, fg: str, bg: str) -> None:
    colours = _schemes()[scheme]
    assert contrast(colours[fg], colours[bg]) >= 4.5, (scheme, fg, colours[fg], bg, colours[bg])
