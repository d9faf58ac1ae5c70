"""Deck upload (issue 5): a file is previewed first and saved into the decks directory only
on a second, explicit step; every refusal says what is wrong and changes nothing."""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import pytest

from web.upload import Upload

FIXTURES = Path(__file__).parent / "fixtures"

KITCHEN = b"""# Kitchen Basics

## boil-an-egg

How do you boil an egg?

- Put the egg in boiling water.
- Cook it for seven minutes.

## knife-safety

How do you hold a knife safely?

- Curl the fingers of the other hand.
- Cut away from yourself.

## empty-one

A question with no points?
"""


def deck_files(decks_dir: Path) -> dict[str, bytes]:
    """Everything in the decks directory, hidden files included, with its content."""
    return {p.name: p.read_bytes() for p in sorted(decks_dir.iterdir())}


def upload(client, form_token, filename: str, data: bytes, **fields: str):
    token = form_token(client.get("/upload").text)
    return client.post(
        "/upload",
        data={"csrf_token": token, **fields},
        files={"file": (filename, data, "text/plain")},
    )


def save(client, form_token, preview, **fields: str):
    """Post the preview page's save form, as its "Save deck" button does (plus ``fields``)."""
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', preview.text))
    assert hidden["csrf_token"] == form_token(preview.text)
    data = {**hidden, "name": preview.context["name"], **fields}
    return client.post("/upload/save", data=data, follow_redirects=False)


def alert(page) -> str:
    match = re.search(r'<p class="alert" role="alert">([^<]*)</p>', page.text)
    assert match, "no error message on the page"
    return html.unescape(match.group(1))


# --- the form ---------------------------------------------------------------------------------


def test_upload_page_has_a_multipart_form_with_csrf_token(web_client, form_token):
    page = web_client.get("/upload")
    assert page.status_code == 200
    assert page.template.name == "upload.html"
    assert page.context["upload"] is None
    assert (
        '<form class="panel upload-form" method="post" action="/upload" '
        'enctype="multipart/form-data"'
    ) in page.text
    assert '<input id="deck-file" type="file" name="file" required' in page.text
    assert form_token(page.text)
    assert "up to 1,024 KB" in page.text


def test_home_page_offers_the_upload_form(web_client, form_token):
    page = web_client.get("/")
    assert page.template.name == "home.html"
    assert 'action="/upload" enctype="multipart/form-data"' in page.text
    assert page.context["csrf_token"] == form_token(page.text)
    for label in ("Detect", "flashgrade Markdown", "Brainscape export", "Anki text"):
        assert f">{label}</option>" in page.text


# --- the preview ------------------------------------------------------------------------------


def test_markdown_deck_preview_shows_cards_and_warnings_and_saves_nothing(
    web_client, decks_dir, form_token
):
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, "kitchen.md", KITCHEN)
    assert page.status_code == 200
    assert page.template.name == "upload.html"
    preview = page.context["upload"]
    assert (preview.format, preview.deck.title) == ("markdown", "Kitchen Basics")
    assert [c.id for c in preview.deck.cards] == ["boil-an-egg", "knife-safety"]
    assert page.context["name"] == "kitchen" and page.context["existing"] is None
    assert "Preview · nothing is saved yet" in page.text
    assert "<strong>2</strong> cards," in page.text and "4 reference points" in page.text
    assert "How do you hold a knife safely?" in page.text
    assert "Cut away from yourself." in page.text
    assert "kitchen.md:17: card &#39;empty-one&#39; has no reference points; skipped" in page.text
    assert deck_files(decks_dir) == before
    assert [d["id"] for d in web_client.get("/api/decks").json()] == ["mlops"]


def test_brainscape_export_preview_names_the_skipped_empty_card(web_client, decks_dir, form_token):
    before = deck_files(decks_dir)
    page = upload(
        web_client,
        form_token,
        "brainscape_mlops.txt",
        (FIXTURES / "brainscape_mlops.txt").read_bytes(),
    )
    assert page.status_code == 200
    preview = page.context["upload"]
    assert preview.format == "brainscape"
    assert preview.deck.title == "ML Ops Flashcards" and len(preview.deck.cards) == 7
    assert [f.message for f in preview.findings] == [
        "brainscape_mlops.txt:267: card 8 is empty; skipped"
    ]
    assert "read as a Brainscape export" in page.text
    assert "card 8 is empty; skipped" in page.text
    assert page.context["name"] == "brainscape-mlops"
    assert deck_files(decks_dir) == before
    # the same deck as mlops.md, by its title: the page says so before a twin is saved
    assert page.context["same_title"].id == "mlops"
    assert "already has the title “ML Ops Flashcards”" in page.text


def test_anki_text_export_preview(web_client, decks_dir, form_token):
    before = deck_files(decks_dir)
    page = upload(
        web_client, form_token, "anki_notes.txt", (FIXTURES / "anki_notes.txt").read_bytes()
    )
    assert page.status_code == 200
    preview = page.context["upload"]
    assert (preview.format, preview.deck.title) == ("anki-txt", "Deployment")
    assert [c.question for c in preview.deck.cards] == [
        "What is a canary release?",
        "Why use feature flags?",
        'How do you roll back a "bad" release?',
    ]
    assert "read as Anki text" in page.text
    assert "note 4 has no back (reference points); skipped" in page.text
    assert deck_files(decks_dir) == before


def test_chosen_format_overrides_detection(web_client, form_token):
    page = upload(web_client, form_token, "notes.txt", KITCHEN, format="markdown")
    assert page.status_code == 200
    assert page.context["upload"].format == "markdown"


def test_preview_of_a_deck_whose_name_is_taken_offers_a_free_name_and_replacing(
    web_client, form_token
):
    export = (FIXTURES / "brainscape_mlops.txt").read_bytes()
    page = upload(web_client, form_token, "mlops.txt", export)
    assert (page.context["name"], page.context["existing"]) == ("mlops-2", "mlops")
    assert "A deck named <strong>mlops</strong> already exists." in page.text
    assert '<button type="submit" name="replace" value="mlops" class="danger">' in page.text


def test_path_in_the_file_name_is_dropped(web_client, form_token):
    page = upload(web_client, form_token, "../../evil/kitchen.md", KITCHEN)
    assert page.status_code == 200
    assert page.context["upload"].filename == "kitchen.md"
    assert page.context["name"] == "kitchen"


# --- saving -----------------------------------------------------------------------------------


def test_save_writes_the_deck_and_it_appears_on_the_home_page(web_client, decks_dir, form_token):
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    saved = save(web_client, form_token, preview)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/decks/kitchen?added=1"
    assert sorted(deck_files(decks_dir)) == ["kitchen.md", "mlops.md"]
    assert (decks_dir / "kitchen.md").read_text(encoding="utf-8").startswith("# Kitchen Basics\n")

    deck_page = web_client.get(saved.headers["location"])
    assert deck_page.template.name == "deck.html"
    assert "Saved <strong>Kitchen Basics</strong> with 2 cards." in deck_page.text
    home = web_client.get("/")
    assert [c.deck.id for c in home.context["decks"]] == ["kitchen", "mlops"]
    assert '<a href="/decks/kitchen">Kitchen Basics</a>' in home.text
    assert web_client.get("/api/decks/kitchen/next").json()["id"] == "boil-an-egg"


def test_saved_brainscape_export_is_markdown_and_practisable(web_client, decks_dir, form_token):
    export = (FIXTURES / "brainscape_mlops.txt").read_bytes()
    preview = upload(web_client, form_token, "brainscape_mlops.txt", export)
    saved = save(web_client, form_token, preview, name="seed-copy")
    assert saved.headers["location"] == "/decks/seed-copy?added=1"
    assert (
        (decks_dir / "seed-copy.md").read_text(encoding="utf-8").startswith("# ML Ops Flashcards\n")
    )
    deck = web_client.get("/api/decks/seed-copy").json()
    assert len(deck["cards"]) == 7


def test_save_without_replace_over_an_existing_deck_is_409_and_changes_nothing(
    web_client, decks_dir, form_token
):
    before = deck_files(decks_dir)
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    page = save(web_client, form_token, preview, name="mlops")
    assert page.status_code == 409
    assert page.template.name == "upload.html"
    assert alert(page) == "Not saved: a deck named 'mlops' already exists. Nothing was changed."
    assert page.context["existing"] == "mlops" and page.context["name"] == "mlops-2"
    assert deck_files(decks_dir) == before
    # the preview is still there: saving under a free name works
    assert save(web_client, form_token, page).headers["location"] == "/decks/mlops-2?added=1"


def test_replace_button_overwrites_the_named_deck(web_client, decks_dir, form_token):
    preview = upload(web_client, form_token, "mlops.md", KITCHEN)
    assert preview.context["existing"] == "mlops"
    saved = save(web_client, form_token, preview, replace="mlops")
    assert saved.headers["location"] == "/decks/mlops?added=1"
    assert sorted(deck_files(decks_dir)) == ["mlops.md"]
    assert web_client.get("/api/decks/mlops").json()["title"] == "Kitchen Basics"


@pytest.mark.parametrize("name", ["Bad Name", "../escape", "a--b", "readme", "-x"])
def test_save_under_an_invalid_name_is_422_and_changes_nothing(
    web_client, decks_dir, form_token, name
):
    before = deck_files(decks_dir)
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    page = save(web_client, form_token, preview, name=name)
    assert page.status_code == 422
    assert alert(page).startswith("Not saved: ")
    assert page.context["upload"] is not None  # the preview is kept to try again
    assert deck_files(decks_dir) == before


def test_the_name_readme_beside_the_decks_readme_offers_no_replace_button(
    web_client, decks_dir, form_token
):
    (decks_dir / "README.md").write_text("# Deck files\n\nNotes.\n", encoding="utf-8")
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    page = save(web_client, form_token, preview, name="readme")
    assert page.status_code == 422
    assert alert(page) == (
        "Not saved: README is kept for notes about the decks; choose another name."
    )
    assert page.context["existing"] is None
    assert "Replace" not in page.text


def test_the_preview_is_a_page_of_its_own_that_back_and_reload_come_to(web_client, form_token):
    token = form_token(web_client.get("/upload").text)
    posted = web_client.post(
        "/upload",
        data={"csrf_token": token},
        files={"file": ("kitchen.md", KITCHEN, "text/plain")},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    url = posted.headers["location"]
    assert re.fullmatch(r"/upload/preview/[\w-]+", url)
    again = web_client.get(url)  # a reload, or Back from the deck page after saving
    assert again.template.name == "upload.html"
    assert again.context["upload"].deck.title == "Kitchen Basics"
    assert save(web_client, form_token, again).status_code == 303
    gone = web_client.get(url)
    assert gone.status_code == 410
    assert "expired or was already saved" in alert(gone)


@pytest.mark.parametrize(
    "content", ['{"created": 1e18}', "[1, 2]", '{"markdown": "# T", "created": 1e18}', "{"]
)
def test_a_damaged_preview_file_is_410_not_500(web_client, web_settings, form_token, content):
    posted = upload(web_client, form_token, "kitchen.md", KITCHEN)
    token = posted.url.path.rsplit("/", 1)[1]
    (web_settings.data_dir / "uploads" / f"{token}.json").write_text(content, encoding="utf-8")
    page = web_client.get(f"/upload/preview/{token}")
    assert page.status_code == 410
    assert "expired or was already saved" in alert(page)


def test_a_saved_preview_cannot_be_saved_twice(web_client, decks_dir, form_token):
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    assert save(web_client, form_token, preview).status_code == 303
    again = save(web_client, form_token, preview, name="kitchen-again")
    assert again.status_code == 410
    assert "expired or was already saved" in alert(again)
    assert sorted(deck_files(decks_dir)) == ["kitchen.md", "mlops.md"]


@pytest.mark.parametrize("token", ["", "no-such-token-0123456789", "../../etc/passwd"])
def test_unknown_stash_token_is_410_and_saves_nothing(web_client, decks_dir, form_token, token):
    before = deck_files(decks_dir)
    csrf = form_token(web_client.get("/upload").text)
    page = web_client.post(
        "/upload/save", data={"csrf_token": csrf, "upload_token": token, "name": "kitchen"}
    )
    assert page.status_code == 410
    assert page.template.name == "upload.html"
    assert alert(page) == "This preview has expired or was already saved; upload the file again."
    assert deck_files(decks_dir) == before


def test_expired_preview_is_410_and_saves_nothing(web_client, web_settings, decks_dir, form_token):
    before = deck_files(decks_dir)
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    [stashed] = (web_settings.data_dir / "uploads").glob("*.json")
    data = json.loads(stashed.read_text(encoding="utf-8"))
    data["created"] = time.time() - 2 * 3600
    stashed.write_text(json.dumps(data), encoding="utf-8")
    page = save(web_client, form_token, preview)
    assert page.status_code == 410
    assert "expired" in alert(page)
    assert deck_files(decks_dir) == before


# --- the stash of previews: capped -----------------------------------------------------------


def _stashed(number: int) -> Upload:
    from web.upload import read_upload

    return read_upload(
        KITCHEN.replace(b"Kitchen", f"Kitchen {number}".encode()), "k.md", limit=10**6
    )


def test_the_stash_keeps_at_most_max_files_previews_dropping_the_oldest(tmp_path):
    from web.upload import Stash, UploadError

    stash = Stash(tmp_path / "uploads", max_files=3)
    tokens = [stash.put(_stashed(n)) for n in range(5)]
    assert len(list((tmp_path / "uploads").glob("*.json"))) == 3
    for gone in tokens[:2]:
        with pytest.raises(UploadError, match="expired"):
            stash.get(gone)
    assert [stash.get(t).deck.title for t in tokens[2:]] == [
        "Kitchen 2 Basics",
        "Kitchen 3 Basics",
        "Kitchen 4 Basics",
    ]


def test_the_stash_keeps_at_most_max_bytes_in_all_dropping_the_oldest(tmp_path):
    from web.upload import Stash, UploadError

    probe = Stash(tmp_path / "probe")
    size = (probe.directory / f"{probe.put(_stashed(0))}.json").stat().st_size
    stash = Stash(tmp_path / "uploads", max_bytes=int(size * 2.5))
    tokens = [stash.put(_stashed(n)) for n in range(4)]
    files = list((tmp_path / "uploads").glob("*.json"))
    assert len(files) == 2 and sum(f.stat().st_size for f in files) <= size * 2.5
    with pytest.raises(UploadError, match="expired"):
        stash.get(tokens[1])
    assert stash.get(tokens[3]).deck.title == "Kitchen 3 Basics"


def test_the_stash_keeps_the_newest_preview_even_when_it_alone_passes_the_byte_cap(tmp_path):
    from web.upload import Stash

    stash = Stash(tmp_path / "uploads", max_bytes=100)  # less than any preview
    stash.put(_stashed(1))
    newest = stash.put(_stashed(2))
    assert [p.stem for p in (tmp_path / "uploads").glob("*.json")] == [newest]


def test_the_upload_form_drops_the_oldest_preview_past_the_configured_cap(
    web_client, web_settings, form_token
):
    web_settings.upload_stash_max_files = 2  # FLASHGRADE_UPLOAD_STASH_MAX_FILES
    first, second, third = (upload(web_client, form_token, "kitchen.md", KITCHEN) for _ in range(3))
    assert web_client.get(first.url.path).status_code == 410
    assert web_client.get(second.url.path).status_code == 200
    assert web_client.get(third.url.path).status_code == 200


# --- refusals of the preview ------------------------------------------------------------------


def test_preview_without_csrf_token_is_403_and_keeps_nothing(web_client, web_settings, decks_dir):
    before = deck_files(decks_dir)
    page = web_client.post("/upload", files={"file": ("kitchen.md", KITCHEN, "text/plain")})
    assert page.status_code == 403
    assert page.template.name == "error.html"
    assert deck_files(decks_dir) == before
    assert not (web_settings.data_dir / "uploads").exists()


def test_save_without_csrf_token_is_403_and_changes_nothing(web_client, decks_dir, form_token):
    before = deck_files(decks_dir)
    preview = upload(web_client, form_token, "kitchen.md", KITCHEN)
    token = preview.context["stash_token"]
    page = web_client.post("/upload/save", data={"upload_token": token, "name": "kitchen"})
    assert page.status_code == 403
    assert page.template.name == "error.html"
    assert deck_files(decks_dir) == before


def test_preview_without_a_file_asks_for_one(web_client, form_token):
    csrf = form_token(web_client.get("/upload").text)
    page = web_client.post("/upload", data={"csrf_token": csrf})
    assert page.status_code == 422
    assert page.template.name == "upload.html"
    assert alert(page) == "Choose a deck file to upload."


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("empty.md", b"", "empty.md is empty: a deck needs a title and cards."),
        (
            "latin1.txt",
            "# Café\n\n## crème\n\nQuoi?\n\n- brûlée\n".encode("latin-1"),
            "latin1.txt is not UTF-8 text (byte 5 cannot be read); "
            "save or export it as UTF-8 and upload it again.",
        ),
        ("binary.md", b"# T\x00\x01\x02", "binary.md looks like a binary file, not a text deck."),
        (
            "notitle.md",
            b"just some words\n",
            "notitle.md:1: a deck starts with its title: '# Title'",
        ),
        (
            "nocards.md",
            b"# A title only\n",
            "nocards.md: no cards: each card starts with '## card-id'",
        ),
        (
            "notes.txt",
            b"some notes\nthat are no deck\n",
            "notes.txt: cannot tell the deck's format; choose it under Format "
            "(a Brainscape export, Anki text or flashgrade Markdown) and upload it again.",
        ),
    ],
)
def test_file_that_is_no_deck_is_422_with_a_message_and_changes_nothing(
    web_client, web_settings, decks_dir, form_token, filename, data, message
):
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, filename, data)
    assert page.status_code == 422
    assert page.template.name == "upload.html" and page.context["upload"] is None
    assert alert(page) == message
    assert deck_files(decks_dir) == before
    assert not list((web_settings.data_dir / "uploads").glob("*.json"))


def test_deck_whose_cards_are_all_empty_is_refused(web_client, form_token):
    page = upload(web_client, form_token, "hollow.md", b"# Hollow\n\n## q\n\nA question?\n")
    assert page.status_code == 422
    assert alert(page).startswith("hollow.md: no card with reference points (card 'q' has no")


def test_unknown_format_is_422_naming_the_choices(web_client, form_token):
    page = upload(web_client, form_token, "kitchen.md", KITCHEN, format="docx")
    assert page.status_code == 422
    assert alert(page) == (
        "unknown format 'docx'; choose auto, markdown, brainscape, anki-txt, apkg."
    )


def test_file_just_over_the_limit_is_413_with_a_message(web_client, decks_dir, form_token):
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, "big.md", b"a" * (1_048_576 + 1))
    assert page.status_code == 413
    assert page.template.name == "upload.html"
    assert alert(page) == (
        "big.md is larger than 1,048,576 bytes, the largest deck that can be uploaded."
    )
    assert deck_files(decks_dir) == before


def test_file_far_over_the_limit_is_413_on_the_upload_page(web_client, decks_dir, form_token):
    before = deck_files(decks_dir)
    page = upload(web_client, form_token, "huge.md", b"a" * (5 * 1_048_576))
    assert page.status_code == 413
    assert page.template.name == "upload.html"
    assert alert(page) == "The file is too large: decks up to 1,048,576 bytes."
    assert deck_files(decks_dir) == before


def test_preview_of_a_big_deck_lists_the_first_cards_and_counts_the_rest(web_client, form_token):
    cards = "".join(f"## c{i}\n\nQuestion {i}?\n\n- point {i}\n\n" for i in range(250))
    page = upload(web_client, form_token, "big.md", f"# Big\n\n{cards}".encode())
    assert page.status_code == 200
    assert page.text.count('<li class="panel">') == 200
    assert "and 50 more cards" in page.text
