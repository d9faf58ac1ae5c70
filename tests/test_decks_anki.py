"""The Anki "Notes in Plain Text" reader: separators, headers, quoting and HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import Deck, DeckError
from grader.decks import load_deck
from grader.decks.anki import html_to_text

FIXTURES = Path(__file__).parent / "fixtures"


def _load(tmp_path: Path, text: str, name: str = "notes.txt") -> Deck:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return load_deck(path, format="anki-txt")


def _points(deck: Deck, index: int = 0) -> list[str]:
    return [p.text for p in deck.cards[index].points]


def test_tab_export_with_headers_reads_front_and_back() -> None:
    deck = load_deck(FIXTURES / "anki_notes.txt")
    assert [c.question for c in deck.cards] == [
        "What is a canary release?",
        "Why use feature flags?",
        'How do you roll back a "bad" release?',
    ]
    assert _points(deck) == [
        "Deploy to a small subset of users first.",
        "Watch error rates and latency closely.",
        "Roll back quickly if metrics degrade.",
    ]


def test_meta_columns_are_not_fields() -> None:
    deck = load_deck(FIXTURES / "anki_notes.txt")
    texts = [c.question for c in deck.cards] + [p.text for c in deck.cards for p in c.points]
    assert not any("Basic" in t or "mlops" in t or "f3Kd9" in t for t in texts)


def test_deck_column_gives_the_title_and_file_stem_the_id() -> None:
    deck = load_deck(FIXTURES / "anki_notes.txt")
    assert (deck.id, deck.title) == ("anki-notes", "Deployment")


def test_html_list_items_become_points() -> None:
    deck = load_deck(FIXTURES / "anki_notes.txt")
    assert _points(deck, 1) == [
        "Enable or disable features without a redeploy",
        "Decouple deployment from release",
    ]


def test_back_with_heading_and_summary_gives_sections() -> None:
    card = load_deck(FIXTURES / "anki_notes.txt").cards[2]
    assert [(p.id, p.section, p.text) for p in card.points] == [
        ("1.1", "Preparation", "Keep the previous version ready to serve"),
        ("1.2", "Preparation", "Switch traffic back to it"),
    ]
    assert card.summary == "Always have a tested way back."


def test_note_with_empty_back_is_skipped_with_a_warning() -> None:
    deck = load_deck(FIXTURES / "anki_notes.txt")
    assert len(deck.cards) == 3
    assert deck.warnings == (
        f"{FIXTURES / 'anki_notes.txt'}:10: note 4 has no back (reference points); skipped",
    )


def test_comma_export_with_quoted_multiline_fields() -> None:
    deck = load_deck(FIXTURES / "anki_comma.csv")
    assert [c.question for c in deck.cards] == [
        "What is data drift?",
        "Name two deployment strategies, briefly",
    ]
    assert _points(deck) == [
        "A change in the distribution of input features over time.",
        "It degrades model accuracy without any code change.",
    ]
    assert _points(deck, 1)[1] == "Canary release: send a small share of traffic to the new version"


def test_card_ids_are_slugs_of_the_question() -> None:
    assert [c.id for c in load_deck(FIXTURES / "anki_comma.csv").cards] == [
        "data-drift",
        "name-two-deployment-strategies-briefly",
    ]


@pytest.mark.parametrize(("name", "char"), [("semicolon", ";"), ("pipe", "|"), ("comma", ",")])
def test_separator_header_is_honoured(tmp_path: Path, name: str, char: str) -> None:
    deck = _load(tmp_path, f"#separator:{name}\nWhat is drift?{char}Inputs change over time.\n")
    assert deck.cards[0].question == "What is drift?"
    assert _points(deck) == ["Inputs change over time."]


def test_space_separator_with_quoted_fields(tmp_path: Path) -> None:
    deck = _load(tmp_path, '#separator:space\n"What is drift?" "Inputs change over time."\n')
    assert _points(deck) == ["Inputs change over time."]


def test_unknown_separator_names_the_header_line(tmp_path: Path) -> None:
    with pytest.raises(DeckError, match=r"notes\.txt:2: unknown separator 'dots'"):
        _load(tmp_path, "#html:false\n#separator:dots\na\tb\n")


def test_html_false_keeps_tags_as_text(tmp_path: Path) -> None:
    deck = _load(tmp_path, "#separator:tab\n#html:false\nWhat does <b> do?\tIt makes text bold.\n")
    assert deck.cards[0].question == "What does <b> do?"


def test_html_true_strips_tags_and_entities(tmp_path: Path) -> None:
    deck = _load(
        tmp_path, "#html:true\nWhat &amp; why?\t<b>Bold</b> answer here<br>Second line here\n"
    )
    assert deck.cards[0].question == "What & why?"
    assert _points(deck) == ["Bold answer here", "Second line here"]


def test_html_is_detected_without_a_header(tmp_path: Path) -> None:
    deck = _load(tmp_path, "What is drift?\tInputs change over time<br>Accuracy drops quietly\n")
    assert _points(deck) == ["Inputs change over time", "Accuracy drops quietly"]


def test_columns_header_picks_front_and_back_by_name(tmp_path: Path) -> None:
    text = (
        "#separator:tab\n#columns:Back\tFront\tTags\nInputs change over time.\tWhat is drift?\tx\n"
    )
    deck = _load(tmp_path, text)
    assert deck.cards[0].question == "What is drift?"
    assert _points(deck) == ["Inputs change over time."]


def test_guid_and_notetype_columns_are_skipped(tmp_path: Path) -> None:
    headers = "#separator:tab\n#guid column:2\n#notetype column:1\n"
    text = headers + "Basic\tabc123\tWhat is drift?\tInputs change.\n"
    deck = _load(tmp_path, text)
    assert (deck.cards[0].question, _points(deck)) == ("What is drift?", ["Inputs change."])


def test_deck_header_gives_the_title(tmp_path: Path) -> None:
    deck = _load(tmp_path, "#separator:tab\n#deck:Top::ML Ops\nWhat is drift?\tInputs change.\n")
    assert deck.title == "ML Ops"


def test_leading_hash_lines_are_headers_as_anki_reads_them(tmp_path: Path) -> None:
    text = "#exported by me\n#separator:semicolon\n# html:false\nWhat is X?;X is <b>a</b> thing\n"
    deck = _load(tmp_path, text)
    assert (deck.cards[0].question, _points(deck)) == ("What is X?", ["X is <b>a</b> thing"])
    assert [w.endswith("notes.txt:1: not an Anki header; skipped") for w in deck.warnings] == [True]


def test_a_note_that_begins_with_a_hash_among_the_headers_is_skipped_with_a_warning(
    tmp_path: Path,
) -> None:
    text = "#separator:tab\n#define in C: what?\tA macro.\nWhat is drift?\tInputs change.\n"
    deck = _load(tmp_path, text)
    assert [c.question for c in deck.cards] == ["What is drift?"]
    assert [w.endswith("notes.txt:2: not an Anki header; skipped") for w in deck.warnings] == [True]


def test_bad_column_header_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(DeckError, match=r"notes\.txt:2: '#tags column:' needs a column number"):
        _load(tmp_path, "#separator:tab\n#tags column:last\na\tb\n")


def test_unclosed_quote_names_the_line_where_the_row_starts(tmp_path: Path) -> None:
    text = '#separator:tab\nWhat is drift?\tInputs change.\nWhy?\t"never closed\nmore\n'
    with pytest.raises(DeckError, match=r"notes\.txt:3: a quoted field is never closed"):
        _load(tmp_path, text)


def test_file_with_no_usable_notes_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeckError, match=r"notes\.txt: no notes with both a front and a back"):
        _load(tmp_path, "#separator:tab\nonly a front\n")


def test_html_to_text_turns_blocks_into_lines() -> None:
    assert html_to_text("<div>a</div><div>b<br/>c</div>").split() == ["a", "b", "c"]
    lines = html_to_text("<ol><li>one</li><li>two</li></ol>").split("\n")
    assert [line for line in lines if line.strip()] == ["- one", "- two"]


# --- CSV/TSV with a header row ---------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["Question,Answer", "question,answer", "Front,Back", "FRONT,BACK", "Term,Definition"],
)
def test_a_header_row_names_the_columns_and_is_not_a_card(tmp_path: Path, header: str) -> None:
    deck = _load(tmp_path, f"{header}\nWhat is drift?,A change in the inputs over time\n", "d.csv")
    assert [c.question for c in deck.cards] == ["What is drift?"]
    assert not deck.warnings


def test_a_quoted_header_row_is_recognised(tmp_path: Path) -> None:
    text = '"Question","Answer"\n"What is drift?","A change in the inputs over time"\n'
    deck = _load(tmp_path, text, "d.csv")
    assert len(deck.cards) == 1


def test_header_row_picks_the_columns_in_any_order(tmp_path: Path) -> None:
    text = "Tags\tAnswer\tQuestion\nml\tA change in the inputs over time\tWhat is drift?\n"
    deck = _load(tmp_path, text, "d.tsv")
    assert deck.cards[0].question == "What is drift?"
    assert _points(deck) == ["A change in the inputs over time"]


def test_a_first_row_that_is_not_a_header_stays_a_card(tmp_path: Path) -> None:
    text = "What is a question?,An answer to it\nWhat is drift?,A change in the inputs\n"
    assert len(_load(tmp_path, text, "d.csv").cards) == 2


def test_a_csv_with_a_header_row_is_detected_whatever_its_name(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"
    path.write_text("Front;Back\nWhat is drift?;A change in the inputs\n", encoding="utf-8")
    deck = load_deck(path)
    assert [c.question for c in deck.cards] == ["What is drift?"]


def test_csv_is_a_format_name_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text("Question,Answer\nWhat is drift?,A change in the inputs\n", encoding="utf-8")
    assert len(load_deck(path, format="csv").cards) == 1
