"""The answer cut into plain and highlighted segments by the evidence spans of its points.

Templates print each segment's text with autoescaping; nothing here produces markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_RANK = {"covered": 2, "partial": 1}


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    status: str | None = None  # "covered" | "partial" for evidence, None for the rest
    points: tuple[str, ...] = ()  # ids of the points this text is evidence for


def segments(
    answer: str, spans: Iterable[tuple[str, str, int | None, int | None]]
) -> list[Segment]:
    """Split ``answer`` by ``(point id, status, start, end)`` spans.

    Spans outside the answer, empty or of a status other than covered/partial are ignored;
    overlapping spans merge, keeping the strongest status and every point id.
    """
    n = len(answer)
    marks: list[tuple[int, int, str, str]] = sorted(
        (start, end, status, point_id)
        for point_id, status, start, end in spans
        if status in _RANK and start is not None and end is not None and 0 <= start < end <= n
    )
    if not marks:
        return [Segment(answer)] if answer else []

    merged: list[tuple[int, int, str, list[str]]] = []
    for start, end, status, point_id in marks:
        if merged and start < merged[-1][1]:
            m_start, m_end, m_status, ids = merged[-1]
            best = status if _RANK[status] > _RANK[m_status] else m_status
            if point_id not in ids:
                ids.append(point_id)
            merged[-1] = (m_start, max(m_end, end), best, ids)
        else:
            merged.append((start, end, status, [point_id]))

    out: list[Segment] = []
    pos = 0
    for start, end, status, ids in merged:
        if start > pos:
            out.append(Segment(answer[pos:start]))
        out.append(Segment(answer[start:end], status, tuple(ids)))
        pos = end
    if pos < n:
        out.append(Segment(answer[pos:]))
    return out
