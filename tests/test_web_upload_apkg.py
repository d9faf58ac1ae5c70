"""Anki packages through the web upload (issue 15): both formats are previewed, then saved as
Markdown; a bad package gets the upload page with one line saying why, a 4xx, and nothing
written. Every package here is a real .apkg built by tests/apkg_builders.py."""

from __future__ import annotations

import html
import io
import re
import zipfile
from pathlib import Path

import pytest
import zstandard
from apkg_builders import CLOZE, WIDE, current_bytes, legacy_bytes

NOTES = [
    ["What is a canary release?", "Deploy to a few users first<br>Watch the error rate"],
    [
        "Why use feature flags?",
        "<ul><li>Turn features off without a deploy</li><li>Test in production</li></ul>",
    ],
]
XSS_NOTES = [
    [
        'What is XSS?<script>alert("q")</script><img src=x onerror="alert(1)">',
        "Injected script&lt;script&gt;alert(2)&lt;/script&gt;<br><b onclick=x>Escape output</b>",
    ],
    ["What does &lt;div&gt; do?", "Groups List&lt;String&gt; items"],
]


def package(kind: str, notes: list, tmp_path: Path, **kwargs) -> bytes:  # type: ignore[type-arg]
    if kind == "current":
        return current_bytes(notes, tmp_path, **kwargs)
    return legacy_bytes(notes, **kwargs)


def deck_files(decks_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(decks_dir.iterdir())}


def stashed(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "uploads").glob("*.json"))


def upload(client, form_token, filename: str, data: bytes, **fields: str):
    token = form_token(client.get("/upload").text)
    return client.post(
        "/upload",
        data={"csrf_token": token, **fields},
        files={"file": (filename, data, "application/octet-stream")},
    )


def save(client, preview, **fields: str):
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview.text))
    data = {**hidden, "name": preview.context["name"], **fields}
    return client.post("/upload/save", data=data, follow_redirects=False)


def alert(page) -> str:
    match = re.search(r'<p class="alert" role="alert">([^<]*)</p>', page.text)
    assert match, "no error message on the page"
    return html.unescape(match.group(1))


def no_live_markup(text: str) -> None:
    """No markup of the notes in ``text`` (a page's own script tags are outside <main>)."""
    text = text.split('<main id="main"', 1)[-1].split("</main>", 1)[0]
    for live in ("<script", "<img", "onerror", "onclick", "alert("):
        assert live not in text, live


# --- the form ---------------------------------------------------------------------------------


def test_upload_form_accepts_apkg_files_and_offers_the_anki_package_format(web_client):
    for url in ("/upload", "/"):
        page = web_client.get(url)
        assert "apkg" in page.context["formats"]
        accept = re.search(
            r'id="deck-file" type="file" name="file" required accept="([^"]+)"', page.text
        )
        assert accept and ".apkg" in accept.group(1).split(",")
        assert '<option value="apkg">Anki package (.apkg)</option>' in page.text
        assert "an Anki package (.apkg)" in page.text


# --- preview and save -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["current", "legacy"])
def test_a_package_is_previewed_then_saved_as_markdown(
    web_client, web_settings, decks_dir, form_token, tmp_path, kind
):
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, "ops.apkg", package(kind, NOTES, tmp_path))
    assert page.status_code == 200
    assert page.template.name == "upload.html"
    preview = page.context["upload"]
    assert (preview.format, preview.deck.title, page.context["name"]) == (
        "apkg",
        "Test Deck",
        "ops",
    )
    assert [c.question for c in preview.deck.cards] == [n[0] for n in NOTES]
    assert "ops.apkg · read as an Anki package ·" in page.text
    assert "<strong>2</strong> cards," in page.text and "4 reference points" in page.text
    assert "Turn features off without a deploy" in page.text
    assert deck_files(decks_dir) == before  # a preview writes no deck

    saved = save(web_client, page)
    assert saved.headers["location"] == "/decks/ops?added=1"
    markdown = (decks_dir / "ops.md").read_text(encoding="utf-8")
    assert markdown.startswith("# Test Deck\n")
    assert "- Watch the error rate\n" in markdown
    cards = web_client.get("/api/decks/ops").json()["cards"]
    assert [c["question"] for c in cards] == [n[0] for n in NOTES]
    assert not stashed(web_settings.data_dir)


def test_cloze_notes_and_wide_note_types_are_named_on_the_preview(web_client, form_token, tmp_path):
    notes = [
        *NOTES,
        (CLOZE, ["{{c1::Canary}} releases go to a few users first", ""]),
        (WIDE, ["What is a rollback?", "Go back to the last good release", "the book"]),
    ]
    page = upload(web_client, form_token, "ops.apkg", current_bytes(notes, tmp_path))
    assert page.status_code == 200
    messages = [f.message for f in page.context["upload"].findings]
    assert "ops.apkg: skipped 1 cloze note (flashgrade needs a question and an answer)" in messages
    assert (
        "ops.apkg: note type 'Basic (with source)' has 3 fields; only the first two "
        "(Front, Back) are read"
    ) in messages
    text = html.unescape(page.text)
    assert "skipped 1 cloze note" in text
    assert "note type 'Basic (with source)' has 3 fields" in text
    assert len(page.context["upload"].deck.cards) == 3


def test_format_anki_package_reads_a_package_under_any_file_name(web_client, form_token, tmp_path):
    page = upload(
        web_client, form_token, "export.bin", current_bytes(NOTES, tmp_path), format="apkg"
    )
    assert page.status_code == 200
    assert page.context["upload"].format == "apkg"


def test_a_package_uploaded_as_a_text_format_is_422_saying_so(web_client, form_token, tmp_path):
    page = upload(
        web_client, form_token, "ops.apkg", current_bytes(NOTES, tmp_path), format="markdown"
    )
    assert page.status_code == 422
    assert alert(page) == (
        "ops.apkg is a zip archive, not a text deck; choose Detect or Anki package under Format."
    )


def test_script_in_note_fields_reaches_no_page_as_live_markup(
    web_client, decks_dir, form_token, tmp_path
):
    page = upload(web_client, form_token, "xss.apkg", current_bytes(XSS_NOTES, tmp_path))
    assert page.status_code == 200
    no_live_markup(page.text)
    assert "What does &lt;div&gt; do?" in page.text  # harmless brackets shown, escaped
    assert save(web_client, page).status_code == 303
    no_live_markup((decks_dir / "xss.md").read_text(encoding="utf-8"))
    first = page.context["upload"].deck.cards[0].id
    pages = ["/decks/xss", f"/decks/xss/cards/{first}", f"/decks/xss/cards/{first}/edit"]
    for url in pages:
        shown = web_client.get(url)
        assert shown.status_code == 200, url
        no_live_markup(shown.text)
    assert "What does &lt;div&gt; do?" in web_client.get("/decks/xss/cards/2").text


# --- refusals: one line, a 4xx, nothing written ------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _corrupt_zstd(tmp_path: Path) -> bytes:
    good = zstandard.ZstdCompressor().compress(b"SQLite format 3\x00" + bytes(5000))
    corrupt = good[:8] + bytes(b ^ 0x5A for b in good[8:])
    return current_bytes(NOTES, tmp_path, collection=corrupt)


def _zstd_bomb(tmp_path: Path) -> bytes:
    # 80 MiB of zeros compress to a few kilobytes; the default limit stops reading at 64 MiB
    bomb = zstandard.ZstdCompressor().compress(b"SQLite format 3\x00" + bytes(80 * 2**20))
    return current_bytes(NOTES, tmp_path, collection=bomb)


REFUSED = {
    "a zip that is not an Anki package": (
        lambda tmp: _zip({"word/document.xml": b"<w/>"}),
        "bad.apkg: a zip archive but not an Anki package (no collection inside)",
    ),
    "a truncated zip": (
        lambda tmp: current_bytes(NOTES, tmp)[:20_000],
        "bad.apkg: a damaged or unsupported zip archive",
    ),
    "a corrupt zstd stream": (_corrupt_zstd, "bad.apkg: the collection's zstd stream is corrupt"),
    "a collection with no notes": (
        lambda tmp: current_bytes([], tmp),
        "bad.apkg: the package's collection has no notes",
    ),
    "a zstd bomb": (_zstd_bomb, "bad.apkg: the collection unpacks to over 64.0 MiB; refused"),
    "a deflate bomb": (
        lambda tmp: _zip({"collection.anki2": b"SQLite format 3\x00" + bytes(80 * 2**20)}),
        "bad.apkg: the collection unpacks to over 64.0 MiB; refused",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_bad_package_is_422_with_one_line_and_writes_nothing(
    web_client, web_settings, decks_dir, form_token, tmp_path, case
):
    build, message = REFUSED[case]
    data = build(tmp_path)
    assert len(data) < web_settings.max_upload_bytes
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, "bad.apkg", data)
    assert page.status_code == 422
    assert page.template.name == "upload.html" and page.context["upload"] is None
    assert alert(page).startswith(message)
    assert "\n" not in alert(page)
    assert deck_files(decks_dir) == before
    assert not stashed(web_settings.data_dir)


@pytest.fixture
def small_limit_client(web_settings):  # type: ignore[no-untyped-def]
    """The app with a 16 KiB upload limit."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    app = create_app(web_settings.model_copy(update={"max_upload_bytes": 16_384}))
    with TestClient(app) as client:
        yield client


def test_a_package_over_the_upload_limit_is_413_and_writes_nothing(
    small_limit_client, web_settings, decks_dir, form_token, tmp_path
):
    data = current_bytes(NOTES, tmp_path)
    assert 16_384 < len(data) < 4 * 16_384  # read by the form, refused by the limit
    before = deck_files(decks_dir)
    page = upload(small_limit_client, form_token, "big.apkg", data)
    assert page.status_code == 413
    assert alert(page) == (
        "big.apkg is larger than 16,384 bytes, the largest deck that can be uploaded."
    )
    assert deck_files(decks_dir) == before
    assert not stashed(web_settings.data_dir)
