"""Templates: the Jinja2 environment, ``render`` for the pages, and the filters they use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from web.security import CSRF_COOKIE


def templates() -> Jinja2Templates:
    """The pages' Jinja2 environment: autoescaped, strict about undefined names, with filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["due_in"] = due_in
    env.filters["duration"] = duration
    env.filters["local"] = local_time
    env.filters["percent"] = lambda x: f"{round(100 * float(x))}%"
    # Starlette's url_for gives absolute URLs built from the Host header; links stay relative
    env.globals["url_for"] = _path_for
    return Jinja2Templates(env=env)


@jinja2.pass_context
def _path_for(context: dict[str, Any], name: str, /, **params: Any) -> str:
    request: Request = context["request"]
    return str(request.app.url_path_for(name, **params))


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    cache: str = "no-store",
) -> HTMLResponse:
    """A template response; sets the CSRF cookie when this request issued a new nonce.
    Every page gets ``me``: the signed-in person (None in local mode or before sign-in)."""
    person = getattr(request.state, "person", None)
    context = {**context, "me": person if person is not None and person.id else None}
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, name, context, status_code=status_code
    )
    response.headers["Cache-Control"] = cache
    nonce = getattr(request.state, "csrf_cookie", None)
    if nonce:
        response.set_cookie(
            CSRF_COOKIE,
            nonce,
            httponly=True,
            samesite="strict",
            secure=request.app.state.settings.secure_cookies,
            path="/",
        )
    return response


def cards_url(request: Request, deck_id: str) -> str:
    """The URL a card's id is appended to: one url_for for a page, not one per card."""
    return str(request.app.url_path_for("card", deck=deck_id, card="_")).rsplit("/", 1)[0]


def when(value: datetime | None, now: datetime | None = None) -> str:
    """A relative time: "now", "in 10 min", "in 3 days", "2 h ago"."""
    if value is None:
        return "new"
    now = now or datetime.now(UTC)
    seconds = (value - now).total_seconds()
    future = seconds > 0
    s = abs(seconds)
    if s < 60:
        return "in under a minute" if future else "just now"
    if s < 3600:
        text = f"{round(s / 60)} min"
    elif s < 86400:
        text = f"{round(s / 3600)} h"
    elif s < 86400 * 60:
        days = round(s / 86400)
        text = f"{days} day" + ("s" if days != 1 else "")
    else:
        months = round(s / (86400 * 30))
        text = f"{months} months"
    return f"in {text}" if future else f"{text} ago"


def duration(seconds: float) -> str:
    """A time taken, as a person says it: "45 s", "4 min 23 s", "1 h 5 min"."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")
    return f"{s // 3600} h" + (f" {s % 3600 // 60} min" if s % 3600 // 60 else "")


def due_in(value: datetime, now: datetime | None = None) -> str:
    """When a review is due: "now" once it is due (not "3 min ago"), else :func:`when`."""
    if value <= (now or datetime.now(UTC)):
        return "now"
    return when(value, now)


def local_time(value: datetime | None) -> str:
    # the server's zone, which is the person's where flashgrade runs on their own machine;
    # named, so that a server elsewhere does not pass its clock off as theirs
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M %Z")
