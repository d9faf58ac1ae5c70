"""flashgrade's Markdown format: reading, writing, round trips, errors and decks/mlops.md."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import Alias, CardNotFound, Deck, DeckError
from grader.decks import FORMATS, detect_format, load_deck, parse_deck, to_markdown
from grader.decks._common import PointDraft, SectionDraft, build_card

FIXTURES = Path(__file__).parent / "fixtures"

SMALL = """\
# Small Deck

## what-is-drift

What is data drift?

- A change in the distribution of the input features.
- It degrades predictions without any code change.

## safe-rollout

How do you release safely?

Name the strategy and the safety net.

### 1. Strategy

- Staged rollout: deploy to a few users first.
  - aliases: staged rollout = canary release, canary
  - aliases: users = customers

### 2. Safety net:

- Rollback plan: revert quickly
  when metrics degrade.

### Summary

Stage it and keep a way back.
"""


def _read(text: str, name: str = "decks/small.md") -> Deck:
    return parse_deck(text, source=name, format="markdown")


def _error(text: str) -> str:
    with pytest.raises(DeckError) as info:
        _read(text, "decks/x.md")
    return str(info.value)


# --- reading ---------------------------------------------------------------------------------


def test_title_id_and_default_scale() -> None:
    deck = _read(SMALL)
    assert (deck.id, deck.title) == ("small", "Small Deck")
    assert deck.scale == ("Not at all", "", "", "", "Perfectly")


def test_card_ids_come_from_the_headings() -> None:
    assert [c.id for c in _read(SMALL).cards] == ["what-is-drift", "safe-rollout"]


@pytest.mark.parametrize("key", ["2", 2, " 2 ", "02"])
def test_a_card_is_found_by_its_position(key: str | int) -> None:
    assert _read(SMALL).card(key).id == "safe-rollout"


@pytest.mark.parametrize("key", ["0", "3", "²", "1" * 5000, "-1"])
def test_a_position_outside_the_deck_is_card_not_found(key: str) -> None:
    with pytest.raises(CardNotFound, match="no card"):
        _read(SMALL).card(key)


def test_points_without_sections_are_untitled_section_1() -> None:
    card = _read(SMALL).cards[0]
    assert [(p.id, p.section) for p in card.points] == [("1.1", ""), ("1.2", "")]


def test_sections_number_points_and_drop_numbers_and_colons_from_titles() -> None:
    card = _read(SMALL).cards[1]
    assert [(p.id, p.section) for p in card.points] == [("1.1", "Strategy"), ("2.1", "Safety net")]


def test_question_spans_paragraphs() -> None:
    assert _read(SMALL).cards[1].question == (
        "How do you release safely?\n\nName the strategy and the safety net."
    )


def test_aliases_are_parsed_into_the_point() -> None:
    point = _read(SMALL).cards[1].points[0]
    assert point.aliases == (
        Alias("staged rollout", ("canary release", "canary")),
        Alias("users", ("customers",)),
    )


def test_summary_is_kept_and_not_a_point() -> None:
    card = _read(SMALL).cards[1]
    assert card.summary == "Stage it and keep a way back."
    assert all("Stage it" not in p.text for p in card.points)


def test_wrapped_point_lines_are_joined() -> None:
    assert (
        _read(SMALL).cards[1].points[1].text
        == "Rollback plan: revert quickly when metrics degrade."
    )


def test_scale_line_sets_the_labels() -> None:
    deck = _read(
        SMALL.replace("# Small Deck\n", "# Small Deck\nScale: 1 No | 2 | 3 Some | 4 | 5 All\n")
    )
    assert deck.scale == ("No", "", "Some", "", "All")


def test_comments_are_ignored() -> None:
    text = SMALL.replace("## safe-rollout", "<!-- a note\n## not-a-card\n-->\n## safe-rollout")
    assert [c.id for c in _read(text).cards] == ["what-is-drift", "safe-rollout"]


def test_escaped_question_lines_are_text_not_points() -> None:
    text = "# D\n\n## c\n\n\\- not a point\n1\\. nor this\n\\# nor a heading\n\n- the point\n"
    card = _read(text).cards[0]
    assert card.question == "- not a point\n1. nor this\n# nor a heading"
    assert [p.text for p in card.points] == ["the point"]


def test_card_without_points_is_skipped_with_a_warning() -> None:
    deck = _read(
        SMALL.replace("## safe-rollout", "## empty-card\n\nJust a question?\n\n## safe-rollout")
    )
    assert [c.id for c in deck.cards] == ["what-is-drift", "safe-rollout"]
    assert deck.warnings == (
        "decks/small.md:10: card 'empty-card' has no reference points; skipped",
    )


def test_card_without_question_is_skipped_with_a_warning() -> None:
    deck = _read(SMALL + "\n## no-question\n\n- a lonely point about things\n")
    assert [c.id for c in deck.cards] == ["what-is-drift", "safe-rollout"]
    assert "card 'no-question' has no question; skipped" in deck.warnings[0]


def test_section_number_out_of_order_is_a_warning() -> None:
    deck = _read(SMALL.replace("### 2. Safety net:", "### 3. Safety net:"))
    assert deck.cards[1].points[1].id == "2.1"
    assert any("section 3 of card 'safe-rollout' is section 2" in w for w in deck.warnings)


def test_ids_are_kept_when_the_text_is_edited() -> None:
    edited = SMALL.replace("What is data drift?", "What is drift, and why does it matter?").replace(
        "Staged rollout: deploy", "Canary release: ship"
    )
    assert [c.id for c in _read(edited).cards] == [c.id for c in _read(SMALL).cards]
    assert _read(edited).cards[0].question != _read(SMALL).cards[0].question


# --- errors name the file and line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "# D\n\n## What is drift?\n\nq\n\n- p\n",
            "decks/x.md:3: card heading 'What is drift?' is not an id",
        ),
        ("# D\n\n## 12\n\nq\n\n- p\n", "decks/x.md:3: card id '12' is a number"),
        (
            "# D\n\n## a\n\nq\n\n- p\n\n## a\n\nq\n\n- p\n",
            "decks/x.md:9: duplicate card id 'a' (first at line 3)",
        ),
        ("Some text\n# D\n", "decks/x.md:1: a deck starts with its title"),
        ("# D\n\nintro text\n\n## a\n", "decks/x.md:3: text before the first card"),
        (
            "# D\n\n## a\n\nq\n\n- p\n  - sub item\n",
            "decks/x.md:8: a nested item must be '- aliases:",
        ),
        (
            "# D\n\n## a\n\nq\n\n- p\n  - aliases: no equals sign\n",
            "decks/x.md:8: write aliases as",
        ),
        ("# D\n\n## a\n\nq\n\n- p\n\nloose text\n", "decks/x.md:9: text in the points of card 'a'"),
        ("# D\n\n## a\n\nq\n\n-\n", "decks/x.md:7: an empty list item"),
        ("# D\n\n## a\n<!-- open\n", "decks/x.md:4: an HTML comment"),
        ("# D\nScale: 1 a | 2 | 3\n## a\n", "decks/x.md:2: bad scale"),
        ("# D\n\n## a\n\nq\n\n#### deep\n", "decks/x.md:7: '#### ' headings are not used"),
        ("# D\n\n### s\n", "decks/x.md:3: a '### ' section outside a card"),
        (
            "# D\n\n## a\n\nq\n\n### Summary\n\nx\n\n### Summary\n",
            "decks/x.md:11: card 'a' has a second summary",
        ),
        ("# D\n\n# E\n", "decks/x.md:3: a second '# ' title"),
        ("## a\n\nq\n\n- p\n", "decks/x.md:1: a deck starts with its title"),
        ("# D\n\n<!-- nothing -->\n", "decks/x.md: no cards"),
    ],
)
def test_malformed_file_is_one_error_naming_file_and_line(text: str, expected: str) -> None:
    assert _error(text).startswith(expected)


def test_all_empty_cards_is_an_error_that_names_one() -> None:
    assert _error("# D\n\n## a\n\nq\n").startswith(
        "decks/x.md: no card with reference points (card 'a' has no reference points"
    )


def test_non_utf8_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("# Déck\n\n## a\n\nq\n\n- p\n".encode("latin-1"))
    with pytest.raises(DeckError, match=r"latin1\.md: not UTF-8"):
        load_deck(path)


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.md"
    path.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DeckError, match=r"empty\.md: the file is empty"):
        load_deck(path)


def test_missing_file_is_a_deck_error(tmp_path: Path) -> None:
    with pytest.raises(DeckError, match=r"nope\.md: no such deck file"):
        load_deck(tmp_path / "nope.md")


def test_unknown_format_is_a_deck_error() -> None:
    with pytest.raises(DeckError, match="unknown deck format 'yaml'"):
        parse_deck(SMALL, format="yaml")


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.md"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    assert load_deck(path).title == "Small Deck"


# --- detection --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("brainscape_mlops.txt", "brainscape"),
        ("anki_notes.txt", "anki-txt"),
        ("anki_comma.csv", "anki-txt"),
    ],
)
def test_detect_format_by_content_and_extension(name: str, expected: str) -> None:
    assert detect_format((FIXTURES / name).read_text(encoding="utf-8"), name) == expected


def test_detect_markdown_by_content_and_by_extension() -> None:
    assert detect_format(SMALL, "deck.txt") == "markdown"
    assert detect_format("just some notes", "deck.md") == "markdown"


@pytest.mark.parametrize("title", ["Deck: ML Ops", "HTML: the basics", "Tags: x", "columns: y"])
@pytest.mark.parametrize("name", ["deck.md", "deck.txt"])
def test_a_markdown_title_that_looks_like_an_anki_header_is_markdown(title: str, name: str) -> None:
    text = SMALL.replace("# Small Deck", f"# {title}", 1)
    assert detect_format(text, name) == "markdown"
    assert parse_deck(text, source=name).title == title


def test_undetectable_text_is_an_error_naming_the_file() -> None:
    with pytest.raises(DeckError, match=r"^notes\.txt: cannot tell the deck's format"):
        detect_format("just some notes", "notes.txt")


# --- round trips and the seed deck ------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["brainscape_mlops.txt", "anki_notes.txt", "anki_comma.csv", "../../decks/mlops.md"]
)
def test_round_trip_through_markdown_keeps_the_cards(name: str) -> None:
    deck = load_deck(FIXTURES / name)
    again = parse_deck(to_markdown(deck), source="again.md", format="markdown")
    assert (again.title, again.scale, again.cards) == (deck.title, deck.scale, deck.cards)


def test_writer_output_is_stable() -> None:
    deck = load_deck(FIXTURES / "brainscape_mlops.txt")
    text = to_markdown(deck)
    assert to_markdown(parse_deck(text, source="x.md")) == text


def test_mlops_md_has_the_seed_cards(mlops_md: Path, seed_export: Path) -> None:
    ours, seed = load_deck(mlops_md), load_deck(seed_export)
    assert ours.id == "mlops" and ours.title == seed.title and ours.warnings == ()
    assert [c.id for c in ours.cards] == [c.id for c in seed.cards]
    assert [c.question for c in ours.cards] == [c.question for c in seed.cards]
    assert [c.summary for c in ours.cards] == [c.summary for c in seed.cards]
    assert [[(p.id, p.section, p.text) for p in c.points] for c in ours.cards] == [
        [(p.id, p.section, p.text) for p in c.points] for c in seed.cards
    ]


def test_mlops_md_aliases_are_the_hand_added_ones(mlops_md: Path) -> None:
    aliases = {
        (c.id, p.id): p.aliases for c in load_deck(mlops_md).cards for p in c.points if p.aliases
    }
    assert aliases == {
        ("responsible-deploying-new-version-ubers-routing", "1.1"): (
            Alias("staged rollout", ("canary release", "canary")),
        ),
        ("responsible-deploying-new-version-ubers-routing", "1.2"): (
            Alias("blue-green", ("blue/green", "blue green")),
        ),
        ("launching-new-version-payments-app-due", "2.1"): (
            Alias("canary release", ("staged rollout",)),
        ),
    }


# --- properties -------------------------------------------------------------------------------

_WORD = st.text(alphabet="abcxyzé019-#*+.:()!<’“”&", min_size=1, max_size=7)
_LINE = st.lists(_WORD, min_size=1, max_size=5).map(" ".join)
_BLOCK = st.lists(st.lists(_LINE, min_size=1, max_size=3), min_size=1, max_size=3).map(
    lambda paragraphs: "\n\n".join("\n".join(p) for p in paragraphs)
)
_TERM = st.lists(st.text(alphabet="abcdxyz/", min_size=1, max_size=6), min_size=1, max_size=3).map(
    " ".join
)
_ALIAS = st.builds(Alias, _TERM, st.lists(_TERM, min_size=1, max_size=3).map(tuple))
_POINT = st.builds(PointDraft, _LINE, st.just(0), st.lists(_ALIAS, max_size=2))
_SECTION = st.builds(
    SectionDraft,
    st.one_of(st.just(""), _LINE.filter(lambda t: not t.endswith(":"))),
    st.just(0),
    st.lists(_POINT, min_size=1, max_size=3),
)


@st.composite
def _decks(draw: st.DrawFn) -> Deck:
    ids = draw(
        st.lists(
            st.text(alphabet="abcz", min_size=1, max_size=3).map(lambda s: s + "-1"),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    cards = tuple(
        build_card(
            card_id,
            draw(_BLOCK),
            draw(st.lists(_SECTION, min_size=1, max_size=3)),
            draw(st.one_of(st.none(), _BLOCK)),
            position,
        )
        for position, card_id in enumerate(ids, 1)
    )
    label = st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=4), max_size=2).map(" ".join)
    scale = draw(st.lists(label, min_size=5, max_size=5))
    return Deck("generated", draw(_LINE), cards, scale=tuple(scale))


@settings(max_examples=40, deadline=None)
@given(_decks())
def test_generated_decks_round_trip_through_markdown(deck: Deck) -> None:
    again = parse_deck(to_markdown(deck), source="generated.md", format="markdown")
    assert (again.title, again.scale, again.cards, again.warnings) == (
        deck.title,
        deck.scale,
        deck.cards,
        (),
    )


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=300), st.sampled_from(FORMATS))
def test_any_text_either_reads_or_raises_deck_error(text: str, fmt: str) -> None:
    with contextlib.suppress(DeckError):
        parse_deck(text, source="fuzz.txt", format=fmt)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "# T",
                "## a",
                "## b",
                "### 1. S",
                "### Summary",
                "- p q",
                "  - aliases: p = r",
                "text",
                "",
                "  more",
                "1. x y",
                "<!--",
                "-->",
                "Scale: 1 | 2 | 3 | 4 | 5",
            ]
        ),
        max_size=25,
    )
)
def test_markdown_like_text_either_reads_or_raises_deck_error(lines: list[str]) -> None:
    with contextlib.suppress(DeckError):
        parse_deck("\n".join(lines), source="fuzz.md", format="markdown")


# --- real Markdown inside cards: fenced code, inline code, tables ------------------------------

_CODE_DECK = """# Code

## comments

What does this print?

```python
# a comment, not a second title
- a line of code, not a point
print("a  b")
```

- It prints `a b`; the `# ...` line is a comment.
- Code in a point:
  ```
  x = 1

  # still code
  ```
- A table in a point:

  | a | b |
  |---|---|
  | 1 | 2 |

## tables

Which is faster?

| tool | time |
|------|------|
| - a  | 1 s  |

- The first one.
"""


def test_fenced_code_in_a_question_is_kept_verbatim() -> None:
    card = parse_deck(_CODE_DECK, source="code.md").cards[0]
    assert card.question == (
        "What does this print?\n\n```python\n# a comment, not a second title\n"
        '- a line of code, not a point\nprint("a  b")\n```'
    )


def test_inline_code_stays_in_the_point() -> None:
    card = parse_deck(_CODE_DECK, source="code.md").cards[0]
    assert card.points[0].text == "It prints `a b`; the `# ...` line is a comment."


def test_fenced_code_under_a_point_belongs_to_that_point() -> None:
    card = parse_deck(_CODE_DECK, source="code.md").cards[0]
    assert card.points[1].text == "Code in a point:\n```\nx = 1\n\n# still code\n```"


def test_a_table_under_a_point_belongs_to_that_point() -> None:
    card = parse_deck(_CODE_DECK, source="code.md").cards[0]
    assert card.points[2].text == "A table in a point:\n| a | b |\n|---|---|\n| 1 | 2 |"
    assert len(card.points) == 3


def test_a_table_in_a_question_is_question_text() -> None:
    card = parse_deck(_CODE_DECK, source="code.md").cards[1]
    assert card.question.endswith("| tool | time |\n|------|------|\n| - a | 1 s |")
    assert [p.text for p in card.points] == ["The first one."]


def test_cards_with_code_and_tables_write_and_read_back_the_same() -> None:
    deck = parse_deck(_CODE_DECK, source="code.md")
    assert parse_deck(to_markdown(deck), source="code.md").cards == deck.cards


def test_an_unclosed_fence_does_not_swallow_the_cards_after_it() -> None:
    text = "# T\n\n## a\n\nWhat is ``` for?\n\n```\n\n- Fences.\n\n## b\n\nQ?\n\n- P.\n"
    assert [c.id for c in parse_deck(text, source="t.md").cards] == ["a", "b"]
