"""The JSON API's request and response models (DESIGN.md, "HTTP API")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

Score = Annotated[int, Field(strict=True, ge=1, le=5, description="a 1-5 score")]


class ErrorOut(BaseModel):
    detail: str = Field(description="what is wrong, in one line")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class DeckSummary(BaseModel):
    id: str
    title: str
    card_count: int
    due: int = Field(description="reviewed cards due now")
    new: int = Field(description="never-reviewed cards that today's new-card limit allows")


class CardSummary(BaseModel):
    id: str
    position: int = Field(description="1-based position in the deck")
    question: str
    due: datetime | None = Field(description="next review (UTC); null for a card never reviewed")


class DeckDetail(BaseModel):
    id: str
    title: str
    cards: list[CardSummary]


class NextCard(BaseModel):
    id: str
    position: int
    question: str


class _AnswerIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"deck": "mlops", "card": "1", "answer": "Package the model"}]
        }
    )

    deck: str = Field(description="deck id")
    # strict: true or 1.0 is not a card
    card: StrictStr | StrictInt = Field(description="card id, or its 1-based position")
    answer: str = Field(description="the typed answer (at most FLASHGRADE_MAX_ANSWER_CHARS)")

    @field_validator("deck", "card", "answer")
    @classmethod
    def _valid_unicode(cls, value: str | int) -> str | int:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("not valid Unicode text (lone surrogate)") from None
        return value


class GradeRequest(_AnswerIn):
    pass


class AttemptRequest(_AnswerIn):
    seconds: float | None = Field(
        None, ge=0, le=7 * 24 * 3600, description="time taken to answer, in seconds"
    )


class PointOut(BaseModel):
    id: str = Field(description="<section>.<point>, e.g. 1.2")
    section: str
    text: str
    status: Literal["covered", "partial", "missing"]
    evidence: str | None = Field(description="verbatim span of the answer, or null")
    contradicted: bool = Field(description="the answer argues against this point")


class GradeOut(BaseModel):
    score: int = Field(ge=1, le=5, description="the suggested 1-5 score")
    coverage: float = Field(ge=0, le=1)
    method: Literal["fuzzy", "semantic", "llm"]
    points: list[PointOut]
    missing: list[str] = Field(description="the text of every missing point")
    warnings: list[str]
    grader_version: str


class _AttemptId(BaseModel):
    attempt_id: int


class AttemptOut(GradeOut, _AttemptId):
    """The grade object of a stored attempt (``attempt_id`` first)."""


class ScoreRequest(BaseModel):
    score: Score


class ScoreOut(BaseModel):
    attempt_id: int
    suggested: int
    final: int
    next_due: datetime = Field(description="the card's next review (UTC)")


class AttemptRow(BaseModel):
    attempt_id: int
    deck: str
    card: str
    answer: str
    suggested: int
    final: int | None
    created_at: datetime


CSV_FIELDS = list(AttemptRow.model_fields)
