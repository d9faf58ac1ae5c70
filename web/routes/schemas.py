"""The JSON API's request and response models (DESIGN.md, "HTTP API")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from web.card_editor import (
    MAX_ALIASES,
    MAX_POINT_CHARS,
    MAX_POINTS,
    MAX_POINTS_CHARS,
    MAX_QUESTION_CHARS,
    MAX_SUMMARY_CHARS,
)

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


def _unicode(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid Unicode text (lone surrogate)") from None
    return value


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return _unicode(value)


Term = Annotated[str, Field(min_length=1, max_length=200)]


class DraftAlias(BaseModel):
    term: Term = Field(description="a key term of the point")
    alternatives: list[Term] = Field(
        min_length=1, max_length=MAX_ALIASES, description="other words for it"
    )

    @field_validator("term")
    @classmethod
    def _term(cls, value: str) -> str:
        return _text(value)

    @field_validator("alternatives")
    @classmethod
    def _alternatives(cls, values: list[str]) -> list[str]:
        return [_text(v) for v in values]


class DraftPoint(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_POINT_CHARS)
    section: str = Field("", max_length=200, description="the section's title, if any")
    aliases: list[DraftAlias] = Field(default_factory=list, max_length=MAX_ALIASES)

    @field_validator("text")
    @classmethod
    def _point_text(cls, value: str) -> str:
        return _text(value)

    @field_validator("section")
    @classmethod
    def _section(cls, value: str) -> str:
        return _unicode(value)


class DraftCard(BaseModel):
    """A card not saved (the card editor's): graded instead of the stored card."""

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    points: (
        list[DraftPoint | Annotated[str, Field(min_length=1, max_length=MAX_POINT_CHARS)]] | None
    ) = Field(None, min_length=1, max_length=MAX_POINTS, description="points, or their texts")
    points_markdown: str | None = Field(
        None,
        max_length=MAX_POINTS_CHARS,
        description="instead of points: the points in the deck's Markdown (the card editor's "
        "field), read as saving the card reads them",
    )
    summary: str | None = Field(None, max_length=MAX_SUMMARY_CHARS)

    @model_validator(mode="after")
    def _points_one_way(self) -> DraftCard:
        if (self.points is None) == (self.points_markdown is None):
            raise PydanticCustomError(
                "missing", "draft.points: give the points, or points_markdown (one of them)"
            )
        return self

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return _text(value)

    @field_validator("summary")
    @classmethod
    def _summary(cls, value: str | None) -> str | None:
        return None if value is None else _unicode(value)

    @field_validator("points")
    @classmethod
    def _points(cls, values: list[DraftPoint | str] | None) -> list[DraftPoint | str] | None:
        return None if values is None else [_text(v) if isinstance(v, str) else v for v in values]


class GradeRequest(_AnswerIn):
    # with a draft, the card is optional (a new card has no id yet)
    card: StrictStr | StrictInt | None = Field(  # type: ignore[assignment]
        None, description="card id, or its 1-based position; optional with a draft"
    )
    draft: DraftCard | None = Field(
        None,
        description="an unsaved card to grade instead of the stored one (stores nothing)",
    )

    @model_validator(mode="after")
    def _card_or_draft(self) -> GradeRequest:
        if self.card is None and self.draft is None:
            # as pydantic words a missing field, with the field named (the error has no place)
            raise PydanticCustomError("missing", "card: Field required (or give a draft)")
        return self


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
