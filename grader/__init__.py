"""flashgrade's grading library: decks, fuzzy coverage grading, the optional LLM rubric.

A pure library: no web, no database. ``web`` imports it, never the reverse.
"""

from grader.cards import Alias, Card, CardNotFound, Deck, DeckError, Point
from grader.decks import load_deck
from grader.grade import GRADER_VERSION, grade, grade_async
from grader.result import GradeResult, PointResult

__all__ = [
    "GRADER_VERSION",
    "Alias",
    "Card",
    "CardNotFound",
    "Deck",
    "DeckError",
    "GradeResult",
    "Point",
    "PointResult",
    "grade",
    "grade_async",
    "load_deck",
]
