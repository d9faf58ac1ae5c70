"""The result of grading one answer against one card."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from grader.scoring import Thresholds

Status = Literal["covered", "partial", "missing"]
Method = Literal["fuzzy", "semantic", "llm"]


@dataclass(frozen=True, slots=True)
class PointResult:
    """How one reference point fared: its status and the answer span that covered it."""

    id: str
    section: str
    text: str
    status: Status
    evidence: str | None = None
    span: tuple[int, int] | None = None  # character offsets of the evidence in the answer
    credit: float = 0.0  # 0..1, how much of the point the answer covers
    contradicted: bool = False  # the answer denies the point ("no need to retrain")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "section": self.section,
            "text": self.text,
            "status": self.status,
            "evidence": self.evidence,
            "contradicted": self.contradicted,
        }


@dataclass(frozen=True, slots=True)
class GradeResult:
    """A suggested 1-5 score with per-point statuses; see DESIGN.md's ``grade --json``."""

    score: int
    coverage: float
    points: tuple[PointResult, ...]
    method: Method
    grader_version: str
    warnings: tuple[str, ...] = ()
    incorrect: tuple[str, ...] = ()
    llm_usage: dict[str, Any] | None = field(default=None)
    # Whole-answer signals behind the coverage (see grader.scoring); not part of the JSON.
    breadth: float = 0.0
    similarity: float = 0.0
    thresholds: Thresholds | None = None  # the cut points that gave the score

    @property
    def missing(self) -> list[str]:
        """The text of every point with status ``missing``, in deck order."""
        return [p.text for p in self.points if p.status == "missing"]

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``flashgrade grade --json``."""
        return {
            "score": self.score,
            "coverage": round(self.coverage, 4),
            "method": self.method,
            "points": [p.to_dict() for p in self.points],
            "missing": self.missing,
            "warnings": list(self.warnings),
            "grader_version": self.grader_version,
        }
