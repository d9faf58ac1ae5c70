"""Cards, reference points and decks: plain, immutable data."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_SCALE: tuple[str, ...] = ("Not at all", "", "", "", "Perfectly")


class DeckError(ValueError):
    """A deck file that cannot be read; the message names the file (and line)."""


class CardNotFound(LookupError):
    """No card with that id or position in the deck."""


@dataclass(frozen=True, slots=True)
class Alias:
    """Other words for one of a point's key terms (e.g. "canary" for "staged rollout")."""

    term: str
    alternatives: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Point:
    """One gradable reference point; ``id`` is ``<section>.<point>``, e.g. ``"2.3"``."""

    id: str
    section: str
    text: str
    aliases: tuple[Alias, ...] = ()


@dataclass(frozen=True, slots=True)
class Card:
    """A question with its reference points (grouped by section) and an optional summary."""

    id: str
    question: str
    points: tuple[Point, ...]
    summary: str | None = None
    position: int = 0

    @property
    def sections(self) -> list[tuple[str, list[Point]]]:
        """The points grouped by section title, in deck order."""
        groups: dict[str, list[Point]] = {}
        order: list[str] = []
        for point in self.points:
            key = point.id.split(".", 1)[0]
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(point)
        return [(groups[k][0].section, groups[k]) for k in order]

    def point(self, point_id: str) -> Point:
        """The point with this id; ``KeyError`` when there is none."""
        for point in self.points:
            if point.id == point_id:
                return point
        raise KeyError(point_id)


@dataclass(frozen=True, slots=True)
class Deck:
    """A titled, ordered collection of cards read from one file."""

    id: str
    title: str
    cards: tuple[Card, ...]
    scale: tuple[str, ...] = DEFAULT_SCALE
    source: str | None = None
    warnings: tuple[str, ...] = field(default=())

    def card(self, key: str | int) -> Card:
        """The card with this id, or at this 1-based position."""
        text = str(key).strip()
        for card in self.cards:
            if card.id == text:
                return card
        # ASCII digits only: "²".isdigit() is true, yet int("²") fails; and not too many,
        # since int() refuses more than 4,300 digits.
        if (
            text.isascii()
            and text.isdigit()
            and len(text) <= 18
            and 1 <= int(text) <= len(self.cards)
        ):
            return self.cards[int(text) - 1]
        raise CardNotFound(
            f"no card {text!r} in deck {self.id!r} (ids or positions 1-{len(self.cards)})"
        )

    def label(self, score: int) -> str:
        """The deck's label for a 1-5 score, e.g. ``"1 Not at all"``."""
        name = self.scale[score - 1] if 1 <= score <= len(self.scale) else ""
        return f"{score} {name}".strip()
