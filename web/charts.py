"""Charts as inline SVG, rendered on the server: pure functions from data to markup.

No script, no inline style: every colour comes from a class styled in ``static/app.css``
with the page's CSS variables (and ``currentColor`` for text), so the charts follow light and
dark mode. Each chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>``;
each bar or point carries a ``<title>`` of its own (a tooltip). Pages put the same numbers in
a table beside the chart for screen readers and for copying.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the y-axis ticks
RIGHT = 12
TOP = 14
BOTTOM = 30  # room for the x-axis labels


@dataclass(frozen=True, slots=True)
class Datum:
    """One bar or point: a short axis ``label``, a full ``title`` (tooltip) and the value."""

    label: str
    title: str
    value: float
    kind: str = ""  # an extra class for the mark, e.g. "s3" to colour it as score 3


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) giving about ``ticks`` gridlines."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power:
            return float(factor * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _num(x: float) -> str:
    """A coordinate or value with at most one decimal, without a trailing ".0"."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open(chart_id: str, kind: str, title: str, desc: str) -> list[str]:
    cid = escape(chart_id)
    return [
        f'<svg class="chart {kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" focusable="false">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(desc)}</desc>',
    ]


def _label_every(n: int, plot_width: float, label_width: float = 46) -> int:
    """Show every k-th x label so that they never overlap."""
    if n <= 0:
        return 1
    return max(1, math.ceil(n * label_width / plot_width))


def _grid(top: float, step: float, y_of: object, fmt: object) -> list[str]:
    out = ['<g class="grid">']
    value = 0.0
    while value <= top + 1e-9:
        y = y_of(value)  # type: ignore[operator]
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_num(y)}" y2="{_num(y)}"/>')
        out.append(
            f'<text class="tick" x="{LEFT - 8}" y="{_num(y + 4)}" text-anchor="end">'
            f"{escape(fmt(value))}</text>"  # type: ignore[operator]
        )
        value += step
    out.append("</g>")
    return out


def _x_labels(data: Sequence[Datum], x_of: object, every: int) -> list[str]:
    out = ['<g class="xlabels">']
    last = len(data) - 1
    for i, d in enumerate(data):
        # the labels count back from the newest, so the most recent one is always shown
        if (last - i) % every:
            continue
        x = x_of(i)  # type: ignore[operator]
        out.append(
            f'<text x="{_num(x)}" y="{HEIGHT - 10}" text-anchor="middle">{escape(d.label)}</text>'
        )
    out.append("</g>")
    return out


def _empty(chart_id: str, kind: str, title: str, message: str) -> Markup:
    parts = _open(chart_id, f"{kind} empty", title, message)
    parts.append(
        f'<text class="empty-text" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
        f"{escape(message)}</text></svg>"
    )
    return Markup("".join(parts))


def bar_chart(
    data: Sequence[Datum],
    *,
    chart_id: str,
    title: str,
    desc: str,
    empty: str = "Nothing to show yet",
) -> Markup:
    """Vertical bars, one per datum (e.g. reviews per day), on a zero-based axis."""
    if not data or not any(d.value for d in data):
        return _empty(chart_id, "bars", title, empty)
    peak = max(d.value for d in data)
    step = max(1.0, nice_step(peak))
    top = step * math.ceil(peak / step)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / len(data)
    bar_w = max(1.0, min(slot * 0.72, 40.0))

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    def x_of(i: int) -> float:
        return LEFT + slot * (i + 0.5)

    parts = _open(chart_id, "bars", title, desc)
    parts += _grid(top, step, y_of, lambda v: _num(v))
    parts.append('<g class="marks">')
    for i, d in enumerate(data):
        if d.value <= 0:
            continue
        y = y_of(d.value)
        cls = f"bar {escape(d.kind)}".strip()
        parts.append(
            f'<rect class="{cls}" x="{_num(x_of(i) - bar_w / 2)}" y="{_num(y)}" '
            f'width="{_num(bar_w)}" height="{_num(TOP + plot_h - y)}" rx="2">'
            f"<title>{escape(d.title)}</title></rect>"
        )
    parts.append("</g>")
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
        f'y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>'
    )
    parts += _x_labels(data, x_of, _label_every(len(data), plot_w))
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    data: Sequence[Datum | None],
    *,
    chart_id: str,
    title: str,
    desc: str,
    top: float = 1.0,
    percent: bool = True,
    empty: str = "Nothing to show yet",
) -> Markup:
    """A line over 0..``top`` (a share, shown as percent by default), with a shaded area.
    A ``None`` datum is a gap (no value that day)."""
    known = [d for d in data if d is not None]
    if not known:
        return _empty(chart_id, "line", title, empty)
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    n = len(data)
    step_x = plot_w / max(1, n - 1) if n > 1 else 0.0

    def x_of(i: int) -> float:
        return LEFT + step_x * i if n > 1 else LEFT + plot_w / 2

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - min(max(v, 0.0), top) / top)

    def fmt(v: float) -> str:
        return f"{round(100 * v / top) if percent else _num(v)}{'%' if percent else ''}"

    parts = _open(chart_id, "line", title, desc)
    parts += _grid(top, top / 4, y_of, fmt)
    parts.append('<g class="marks">')
    # one path per run of known values
    runs: list[list[tuple[int, Datum]]] = [[]]
    for i, d in enumerate(data):
        if d is None:
            if runs[-1]:
                runs.append([])
        else:
            runs[-1].append((i, d))
    base = TOP + plot_h
    for run in runs:
        if not run:
            continue
        coords = " ".join(f"{_num(x_of(i))},{_num(y_of(d.value))}" for i, d in run)
        first, last = x_of(run[0][0]), x_of(run[-1][0])
        parts.append(
            f'<path class="area" d="M{_num(first)},{base} L{coords.replace(" ", " L")} '
            f'L{_num(last)},{base} Z"/>'
        )
        parts.append(f'<polyline class="line" points="{coords}"/>')
    dots = n <= 62
    for i, d in enumerate(data):
        if d is None:
            continue
        r = 3.5 if dots else 0.01  # always a target for the tooltip, visible when few
        parts.append(
            f'<circle class="dot" cx="{_num(x_of(i))}" cy="{_num(y_of(d.value))}" r="{r}">'
            f"<title>{escape(d.title)}</title></circle>"
        )
    parts.append("</g>")
    parts.append(
        f'<line class="baseline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{base}" y2="{base}"/>'
    )
    parts += _x_labels([d or Datum("", "", 0) for d in data], x_of, _label_every(n, plot_w))
    parts.append("</svg>")
    return Markup("".join(parts))


def meter(value: float, top: float, *, kind: str = "") -> Markup:
    """A small horizontal bar for a table cell (decorative: the cell states the number)."""
    share = 0.0 if top <= 0 else min(max(value / top, 0.0), 1.0)
    width = _num(100 * share)
    cls = f"meter {escape(kind)}".strip()
    return Markup(
        f'<svg class="{cls}" viewBox="0 0 100 8" preserveAspectRatio="none" aria-hidden="true" '
        f'focusable="false"><rect class="track" width="100" height="8" rx="4"/>'
        f'<rect class="fill" width="{width}" height="8" rx="4"/></svg>'
    )


def score_bars(counts: Sequence[int], *, chart_id: str, title: str, desc: str) -> Markup:
    """Five bars, the number of final scores 1-5, each in its score's colour."""
    data = [
        Datum(str(n), f"score {n}: {c} time{'s' if c != 1 else ''}", c, f"s{n}")
        for n, c in enumerate(counts, 1)
    ]
    return bar_chart(data, chart_id=chart_id, title=title, desc=desc)
