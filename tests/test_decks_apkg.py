"""Anki packages (.apkg): reading both formats, writing them, and refusing bad ones."""

from __future__ import annotations

import io
import sqlite3
import zipfile
from pathlib import Path

import pytest
import zstandard
from apkg_builders import (
    CLOZE,
    STUB_TEXT,
    WIDE,
    current_apkg,
    current_bytes,
    legacy_apkg,
    legacy_bytes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader import Deck, DeckError
from grader.cards import Card, Point
from grader.decks import load_deck, parse_deck, read_apkg, to_markdown
from grader.decks.apkg_writer import to_apkg

BUILDERS = {"current": current_apkg, "legacy": legacy_apkg}
NOTES = [
    ["What is a canary release?", "Deploy to a few users first<br>Watch the error rate"],
    [
        "Why use feature flags?",
        "<ul><li>Turn features off without a deploy</li><li>Test in production</li></ul>",
    ],
]


def _points(deck: Deck, index: int = 0) -> list[str]:
    return [p.text for p in deck.cards[index].points]


@pytest.fixture(params=sorted(BUILDERS))
def build(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A function writing a package of the given notes, in one format then the other."""

    def make(notes: list[object], **kwargs: object) -> Path:
        return BUILDERS[request.param](tmp_path / "deck.apkg", notes, **kwargs)  # type: ignore[operator]

    return make


# --- reading -----------------------------------------------------------------------------------


def test_first_field_is_the_question_and_second_the_points(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build(NOTES))
    assert [c.question for c in deck.cards] == [n[0] for n in NOTES]
    assert _points(deck, 0) == ["Deploy to a few users first", "Watch the error rate"]
    assert _points(deck, 1) == ["Turn features off without a deploy", "Test in production"]


def test_deck_name_gives_the_title_and_file_stem_the_id(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build(NOTES))
    assert (deck.id, deck.title) == ("deck", "Test Deck")


def test_current_format_reads_the_zstd_collection_not_the_update_stub(tmp_path: Path) -> None:
    data = current_bytes(NOTES, tmp_path)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert {"meta", "collection.anki21b", "collection.anki2", "media"} <= set(
            archive.namelist()
        )
    deck = read_apkg(data, source="deck.apkg")
    assert len(deck.cards) == 2
    assert all(STUB_TEXT not in c.question for c in deck.cards)


def test_semicolons_split_an_answer_into_points(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build([["Name three metrics", "latency; error rate; throughput"]]))
    assert _points(deck) == ["latency", "error rate", "throughput"]


def test_semicolons_in_entities_attributes_and_code_do_not_split(build) -> None:  # type: ignore[no-untyped-def]
    back = '<div style="color: red; margin: 0">Tom &amp; Jerry</div><div><code>a; b</code></div>'
    deck = load_deck(build([["Q here?", back]]))
    assert _points(deck) == ["Tom & Jerry", "a; b"]


def test_divs_and_line_breaks_each_make_a_point_however_short(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build([["Which ports?", "<div>80</div><div>443</div>22<br>8080"]]))
    assert _points(deck) == ["80", "443", "22", "8080"]


def test_cloze_notes_are_skipped_with_a_warning_that_counts_them(build) -> None:  # type: ignore[no-untyped-def]
    notes = [*NOTES, (CLOZE, ["{{c1::Paris}} is in France", ""]), (CLOZE, ["{{c1::Rome}}", ""])]
    deck = load_deck(build(notes))
    assert len(deck.cards) == 2
    assert any("skipped 2 cloze notes" in w for w in deck.warnings)


def test_a_note_type_with_more_than_two_fields_warns_once(build) -> None:  # type: ignore[no-untyped-def]
    notes = [(WIDE, ["Q one?", "A one", "book"]), (WIDE, ["Q two?", "A two", "book"])]
    deck = load_deck(build(notes))
    assert _points(deck, 1) == ["A two"]
    wide = [w for w in deck.warnings if "has 3 fields" in w]
    assert len(wide) == 1
    assert "'Basic (with source)'" in wide[0] and "(Front, Back)" in wide[0]


def test_script_tags_leave_no_live_markup_in_the_card(build) -> None:  # type: ignore[no-untyped-def]
    question = 'What is XSS?<script>alert("q")</script><img src=x onerror="alert(1)">'
    back = "Injected script&lt;script&gt;alert(2)&lt;/script&gt;<br><b onclick=x>Escape output</b>"
    deck = load_deck(build([[question, back]]))
    text = deck.cards[0].question + "\n" + "\n".join(_points(deck))
    assert deck.cards[0].question == "What is XSS?"
    assert _points(deck) == ["Injected script", "Escape output"]
    for live in ("<script", "<img", "onerror", "onclick", "alert("):
        assert live not in text
    assert "<script" not in to_markdown(deck)


def test_harmless_angle_brackets_stay_as_text(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build([["What does &lt;div&gt; do?", "Groups List&lt;String&gt; items"]]))
    assert deck.cards[0].question == "What does <div> do?"
    assert _points(deck) == ["Groups List<String> items"]


def test_notes_without_a_back_are_skipped_with_a_warning(build) -> None:  # type: ignore[no-untyped-def]
    deck = load_deck(build([*NOTES, ["Only a front?", ""]]))
    assert len(deck.cards) == 2
    assert any("note 3 has no back" in w for w in deck.warnings)


def test_format_apkg_reads_a_package_with_any_name(build, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = build(NOTES).rename(tmp_path / "export.bin")
    assert len(load_deck(path, format="apkg").cards) == 2


# --- refusing bad packages: one line naming the file ------------------------------------------


def _refused(data: bytes, match: str, **limits: int) -> None:
    with pytest.raises(DeckError, match=match) as info:
        read_apkg(data, source="bad.apkg", **limits)
    assert str(info.value).startswith("bad.apkg: ")
    assert "\n" not in str(info.value)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_that_is_not_an_anki_package_is_refused() -> None:
    _refused(_zip({"word/document.xml": b"<w/>"}), "not an Anki package")


def test_bytes_that_are_not_a_zip_are_refused() -> None:
    _refused(b"Question,Answer\n", "not an Anki package")


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    data = current_bytes(NOTES, tmp_path)
    _refused(data[: len(data) // 2], "damaged")


def test_a_corrupt_zstd_stream_is_refused(tmp_path: Path) -> None:
    good = zstandard.ZstdCompressor().compress(b"SQLite format 3\x00" + bytes(5000))
    corrupt = good[:8] + bytes(b ^ 0x5A for b in good[8:])
    _refused(current_bytes(NOTES, tmp_path, collection=corrupt), "zstd stream is corrupt")


def test_a_collection_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    not_sqlite = zstandard.ZstdCompressor().compress(b"hello, I am not a database")
    _refused(current_bytes(NOTES, tmp_path, collection=not_sqlite), "not an SQLite collection")


def test_a_collection_with_no_notes_is_refused(build) -> None:  # type: ignore[no-untyped-def]
    _refused(build([]).read_bytes(), "collection has no notes")


def test_a_package_holding_only_the_update_stub_is_refused() -> None:
    _refused(legacy_bytes([[STUB_TEXT, ""]]), "only Anki's 'please update' stub")


def test_a_package_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    data = current_bytes(NOTES, tmp_path)
    _refused(data, "over the .* limit", max_bytes=len(data) - 1)


def test_a_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.apkg"
    path.write_bytes(b"PK\x03\x04" + bytes(5000))
    with pytest.raises(DeckError, match=r"huge\.apkg: the package is 5,004 bytes, over the"):
        load_deck(path, max_package_bytes=4096)


def test_a_zip_bomb_is_refused_without_unpacking_it(tmp_path: Path) -> None:
    # 64 MiB of zeros compress to a few kilobytes; the limit stops reading at 1 MiB
    bomb = zstandard.ZstdCompressor().compress(b"SQLite format 3\x00" + bytes(64 * 2**20))
    data = current_bytes(NOTES, tmp_path, collection=bomb)
    assert len(data) < 100_000
    _refused(data, "unpacks to over 1.0 MiB; refused", max_collection_bytes=2**20)


def test_a_deflate_bomb_in_a_legacy_package_is_refused() -> None:
    bomb = _zip({"collection.anki2": b"SQLite format 3\x00" + bytes(16 * 2**20)})
    _refused(bomb, "unpacks to over", max_collection_bytes=2**20)


def test_a_meta_member_that_is_a_bomb_is_not_unpacked() -> None:
    bomb = _zip({"meta": bytes(32 * 2**20), "collection.anki21b": b""})
    assert len(bomb) < 1_000_000
    _refused(bomb, "newer Anki")


def test_a_package_from_a_newer_anki_is_refused(tmp_path: Path) -> None:
    _refused(_zip({"meta": b"\x08\x07", "collection.anki21b": b""}), "newer Anki")


def test_a_damaged_sqlite_collection_is_refused(tmp_path: Path) -> None:
    raw = b"SQLite format 3\x00" + bytes(range(256)) * 40
    _refused(
        current_bytes(NOTES, tmp_path, collection=zstandard.ZstdCompressor().compress(raw)),
        "cannot be read",
    )


def test_a_collection_without_anki_tables_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE people (name text)")
    conn.commit()
    conn.close()
    _refused(_zip({"collection.anki2": db.read_bytes()}), "cannot be read")


# --- writing -------------------------------------------------------------------------------


def test_export_writes_a_legacy_package_with_one_note_per_card(mlops_md: Path) -> None:
    deck = load_deck(mlops_md)
    with zipfile.ZipFile(io.BytesIO(to_apkg(deck))) as archive:
        assert sorted(archive.namelist()) == ["collection.anki2", "media"]
    again = read_apkg(to_apkg(deck), source="mlops.apkg")
    assert len(again.cards) == len(deck.cards)
    assert again.title == deck.title


def test_export_then_import_keeps_questions_sections_points_and_summaries(mlops_md: Path) -> None:
    deck = load_deck(mlops_md)
    again = read_apkg(to_apkg(deck), source="mlops.apkg")
    for before, after in zip(deck.cards, again.cards, strict=True):
        assert after.question == before.question
        assert [(p.id, p.section, p.text) for p in after.points] == [
            (p.id, p.section, p.text) for p in before.points
        ]
        assert after.summary == before.summary


def test_exporting_again_keeps_each_notes_guid(mlops_md: Path) -> None:
    deck = load_deck(mlops_md)

    def guids(data: bytes) -> list[str]:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            conn = sqlite3.connect(":memory:")
            conn.deserialize(archive.read("collection.anki2"))
            return [g for (g,) in conn.execute("SELECT guid FROM notes ORDER BY id")]

    assert guids(to_apkg(deck, timestamp=1)) == guids(to_apkg(deck, timestamp=2))


_WORDS = st.text(alphabet=st.sampled_from("abcdefxyz ;:&<>'\"é-`"), min_size=1, max_size=30).filter(
    lambda s: any(c.isalpha() for c in s)
)


def _card_of(words: list[str], n: int) -> Card:
    # made through the Markdown format, so that the text is what a deck can hold
    points = "\n".join(f"- {w}" for w in words)
    text = f"# T\n\n## c{n}\n\nQuestion {n}: {words[0]}?\n\n{points}\n"
    return parse_deck(text, source="t.md", format="markdown").cards[0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_WORDS, min_size=1, max_size=4), min_size=1, max_size=4))
def test_round_trip_through_a_package_keeps_every_question_and_point(
    cards: list[list[str]],
) -> None:
    made = [_card_of(words, n) for n, words in enumerate(cards, 1)]
    deck = Deck("t", "T", tuple(made))
    again = read_apkg(to_apkg(deck, timestamp=1), source="t.apkg")
    assert [c.question for c in again.cards] == [c.question for c in deck.cards]
    assert [[p.text for p in c.points] for c in again.cards] == [
        [p.text for p in c.points] for c in deck.cards
    ]


def test_points_with_semicolons_survive_the_round_trip() -> None:
    card = Card("c", "Why?", (Point("1.1", "", "first; second"),), None, 1)
    again = read_apkg(to_apkg(Deck("t", "T", (card,))), source="t.apkg")
    assert [p.text for p in again.cards[0].points] == ["first; second"]


def test_a_legacy_collection_with_note_types_anki_never_writes_is_a_one_line_error(
    tmp_path: Path,
) -> None:
    package = legacy_bytes([("What is drift?", "a change in the data")])
    with zipfile.ZipFile(io.BytesIO(package)) as z:
        files = {name: z.read(name) for name in z.namelist()}
    collection = tmp_path / "collection.anki2"
    collection.write_bytes(files["collection.anki2"])
    with sqlite3.connect(collection) as db:
        db.execute("""UPDATE col SET models = '{"1": {"flds": "not a list"}}'""")
    db.close()
    files["collection.anki2"] = collection.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    with pytest.raises(DeckError, match="cannot be read") as caught:
        read_apkg(out.getvalue(), source="odd.apkg")
    assert "\n" not in str(caught.value)
