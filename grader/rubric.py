"""The LLM rubric: the prompt, the reply's validation, and its verification against the answer.

The model is a second reader whose claims are checked in code: a verdict earns credit only
where its quote occurs in the answer, relates to that point and is not text that addresses
the grader. It may add credit to the fuzzy statuses, never take any away, and never sets the
score: that is computed from the merged points with the fuzzy grader's own thresholds.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from grader.cards import Card
from grader.text import INVISIBLE

# Inside an installed package the templates are grader/prompts/ (the wheel maps the top-level
# prompts/ there); in a checkout they are the top-level prompts/ itself.
_INSTALLED = files("grader") / "prompts"
PROMPTS_DIR = (
    Path(str(_INSTALLED))
    if _INSTALLED.is_dir()
    else Path(__file__).resolve().parent.parent / "prompts"
)
TEMPLATES = ("rubric.system.j2", "rubric.user.j2")
VERDICTS = ("covered", "partial", "missing")
# Bounds on what a reply may cost to check: a real one is a few kilobytes.
MAX_REPLY_CHARS = 1_000_000
MAX_OBJECT_STARTS = 32  # places tried as the start of the reply's object
MAX_STATEMENTS = 20  # "incorrect" statements looked for in the answer
# Model text quoted in a warning (shown on the page, stored with the attempt) is cut to this
MAX_QUOTED_CHARS = 300

# The reply format of DESIGN.md, strict enough for OpenAI's structured outputs.
RESPONSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "points": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "verdict": {"type": "string", "enum": list(VERDICTS)},
                    "evidence": {"type": ["string", "null"]},
                },
                "required": ["id", "verdict", "evidence"],
                "additionalProperties": False,
            },
        },
        "incorrect": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["points", "incorrect"],
    "additionalProperties": False,
}


def _prompt_version() -> str:
    """The hand-kept version (prompts/VERSION) plus a hash of the templates and the reply
    schema, so that any edit to them changes every cache key."""
    digest = hashlib.sha256()
    for name in TEMPLATES:
        digest.update((PROMPTS_DIR / name).read_bytes())
    digest.update(json.dumps(RESPONSE_SCHEMA, sort_keys=True).encode("utf-8"))
    number = (PROMPTS_DIR / "VERSION").read_text(encoding="utf-8").strip()
    return f"{number}.{digest.hexdigest()[:10]}"


PROMPT_VERSION = _prompt_version()

_ENV = Environment(
    loader=FileSystemLoader(PROMPTS_DIR),
    undefined=StrictUndefined,  # a missing variable is an error, never an empty string
    autoescape=False,
    keep_trailing_newline=False,
)

# <answer>, </ answer >, ＜/ＡＮＳＷＥＲ＞, &lt;answer&gt;, <\/answer>, ‹/аnswer› (Cyrillic а) ...
# in any case and spacing; invisible characters are removed first.
_LETTERS = {"a": "aаɑαａ@", "n": "nｎп", "s": "sѕｓ$", "w": "wԝѡｗ", "e": "eеєｅ3", "r": "rгｒ"}
_OPEN = r"(?:<|＜|﹤|〈|〈|⟨|‹|«|˂|ᐸ|&lt;?|&#0*60;|&#x0*3c;|\\u003c)"
_CLOSE = r"(?:>|＞|﹥|〉|〉|⟩|›|»|˃|ᐳ|&gt;?|&#0*62;|&#x0*3e;|\\u003e)"
_TAG = re.compile(
    rf"{_OPEN}\s*([/／⁄∕⧸\\]{{0,3}})\s*"
    + r"\s*".join(f"[{_LETTERS[c]}]" for c in "answer")
    + rf"(?![a-z])[^>＞﹥〉〉⟩›»&]{{0,40}}?{_CLOSE}",
    re.IGNORECASE,
)


class ReplyError(ValueError):
    """The model's reply cannot be used; the message says why (for the fallback warning)."""


def quoted(text: str) -> str:
    """``text`` from the model, cut to ``MAX_QUOTED_CHARS`` for a warning."""
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 1] + "…"


def neutralise_tags(text: str) -> str:
    """Turn any ``<answer>``/``</answer>`` tag variant into inert ``[answer]``/``[/answer]``."""
    text = INVISIBLE.sub("", text)
    return _TAG.sub(lambda m: "[/answer]" if m.group(1) else "[answer]", text)


def render(template: str, **variables: Any) -> str:
    """Render one prompt template; an undefined variable raises ``jinja2.UndefinedError``."""
    return _ENV.get_template(template).render(**variables).strip()


def one_line(text: str) -> str:
    """The text on a single line, so that each point is one ``[id] text`` line."""
    return " ".join(neutralise_tags(text).split())


def messages(card: Card, answer: str) -> list[dict[str, str]]:
    """The chat messages (system, user) asking for per-point verdicts on ``answer``."""
    points = [{"id": p.id, "text": one_line(p.text)} for p in card.points]
    user = render(
        "rubric.user.j2",
        question=neutralise_tags(card.question).strip(),
        points=points,
        point_ids=[p.id for p in card.points],
        answer=neutralise_tags(answer).strip(),
    )
    return [
        {"role": "system", "content": render("rubric.system.j2")},
        {"role": "user", "content": user},
    ]


def cache_key(card: Card, answer: str, *, model: str, endpoint: str | None = None) -> str:
    """sha256 of everything that decides the reply: card content, answer, model, endpoint
    (another server may serve another model under the same name) and prompt version."""
    content = {
        "question": card.question,
        "points": [
            [p.id, p.section, p.text, [[a.term, list(a.alternatives)] for a in p.aliases]]
            for p in card.points
        ],
        "answer": answer,
        "model": model,
        "endpoint": (endpoint or "").rstrip("/"),
        "prompt": PROMPT_VERSION,
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"))  # ASCII: never fails
    return hashlib.sha256(blob.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The model's claim about one point."""

    id: str
    verdict: str
    evidence: str | None


@dataclass(frozen=True, slots=True)
class Reply:
    """A validated reply: one verdict per point of the card, and contradicting statements."""

    verdicts: dict[str, Verdict]
    incorrect: tuple[str, ...]


_REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i can(?:no|')t|i am unable|i'm unable|i won'?t|as an ai)\b", re.I
)


def first_object(text: str, *, key: str | None = None) -> Any:
    """The first JSON object in ``text`` (whole, in a code fence, or after some prose); with
    ``key``, the first that has it, if any does ("use `{}` as the default" comes first)."""
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyError(f"the reply is too long ({len(text):,} characters)")
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
        pass
    decoder = json.JSONDecoder()
    # A failed try costs the length of the text before it (the error's line and column), so
    # only the first few places where an object can begin are tried ("{" then '"' or "}"):
    # braces of code or LaTeX in a preamble are not among them.
    starts = itertools.islice(re.finditer(r'\{\s*["}]', stripped), MAX_OBJECT_STARTS)
    first = None
    for match in starts:
        try:
            obj, _ = decoder.raw_decode(stripped, match.start())
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            if key is None or key in obj:
                return obj
            if first is None:
                first = obj
    if first is not None:
        return first
    if _REFUSAL.search(stripped):
        raise ReplyError(f"the model refused: {stripped[:80]!r}")
    raise ReplyError("the reply is not JSON")


def parse_reply(text: str, card: Card) -> Reply:
    """Validate the model's reply against the schema and the card's point ids."""
    obj = first_object(text, key="points")
    if not isinstance(obj, dict) or not isinstance(obj.get("points"), list):
        raise ReplyError('the reply does not follow the schema (no "points" list)')
    incorrect = obj.get("incorrect", [])
    if not isinstance(incorrect, list) or not all(isinstance(s, str) for s in incorrect):
        raise ReplyError('the reply does not follow the schema ("incorrect" is not a list)')
    verdicts: dict[str, Verdict] = {}
    for item in obj["points"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ReplyError("the reply does not follow the schema (a point without an id)")
        verdict, evidence = item.get("verdict"), item.get("evidence")
        if verdict not in VERDICTS:
            raise ReplyError(
                f"the reply does not follow the schema (verdict {quoted(repr(verdict))})"
            )
        if evidence is not None and not isinstance(evidence, str):
            raise ReplyError("the reply does not follow the schema (evidence is not text)")
        point_id = item["id"].strip().strip("[]")
        if point_id in verdicts:
            raise ReplyError(f"the reply gives two verdicts for point {quoted(point_id)}")
        verdicts[point_id] = Verdict(point_id, str(verdict), evidence)
    known = [p.id for p in card.points]
    unknown = [i for i in verdicts if i not in known]
    if unknown:
        raise ReplyError(f"the reply names unknown point ids: {quoted(', '.join(unknown[:5]))}")
    absent = [i for i in known if i not in verdicts]
    if absent:
        raise ReplyError(f"the reply has no verdict for points {', '.join(absent[:5])}")
    # a model names a few; checking each against the answer costs time that the grade has not
    return Reply(verdicts, tuple(incorrect[:MAX_STATEMENTS]))
