"""FastAPI dependencies, as ``Annotated`` aliases; tests swap them via ``dependency_overrides``.

Every dependency here is ``async def`` on purpose: none blocks, and FastAPI would otherwise
run each one in a worker thread.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from web.accounts import LOCAL, Accounts, Person
from web.metrics import Metrics
from web.practice import Practice
from web.security import CSRF_COOKIE, CSRF_FIELD, Csrf
from web.settings import Settings
from web.storage.database import LLMCache, Store

log = logging.getLogger(__name__)


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SESSION_COOKIE = "flashgrade_session"


class SignInRequired(Exception):
    """No person for a request that needs one: 401 for the API, the sign-in page for people."""


async def current_person(request: Request) -> Person:
    """Who the request acts for: local mode's person until the first account exists, then
    the holder of the Bearer token or of the session cookie (one indexed lookup, inline:
    cheaper than a hop to a thread)."""
    accounts: Accounts = request.app.state.accounts
    if not accounts.exist():
        person: Person | None = LOCAL
    else:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            person = accounts.by_token(credential.strip()[:200])
        else:
            cookie = request.cookies.get(SESSION_COOKIE, "")
            person = accounts.by_session(cookie[:200]) if cookie else None
    if person is None:
        raise SignInRequired("sign in first")
    request.state.person = person  # for the pages' header
    return person


PersonDep = Annotated[Person, Depends(current_person)]


async def require_admin(person: PersonDep) -> Person:
    if not person.is_admin:
        raise HTTPException(403, "only an admin can do this")
    return person


async def get_practice(request: Request, person: PersonDep) -> Practice:
    practice: Practice = request.app.state.practice
    return practice.for_person(person.id)


async def get_accounts(request: Request) -> Accounts:
    return request.app.state.accounts  # type: ignore[no-any-return]


async def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics  # type: ignore[no-any-return]


def build_llm(settings: Settings, store: Store) -> Any | None:
    """The app-lifetime ``grader.llm.AsyncLLMClient`` with a database cache, or None when no
    model is configured or the client cannot be loaded (logged once)."""
    if not settings.llm_model:
        return None
    try:
        from grader.llm import AsyncLLMClient
    except ImportError as exc:
        log.warning("LLM grading is off: grader.llm cannot be imported (%s)", exc)
        return None
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    try:
        return AsyncLLMClient(
            model=settings.llm_model,
            base_url=settings.openai_base_url,
            api_key=key,
            timeout=settings.llm_timeout,
            cache=LLMCache(store),
            skip_after_failures=settings.llm_skip_after_failures,
            skip_seconds=settings.llm_skip_seconds,
        )
    except Exception as exc:  # a misconfigured client must not stop the app: grade fuzzily
        log.warning("LLM grading is off: the client could not be created (%s)", exc)
        return None


# --- CSRF -------------------------------------------------------------------------------------


async def csrf_token(request: Request) -> str:
    """The token for this page's forms; a new cookie nonce is issued when there is none."""
    csrf: Csrf = request.app.state.csrf
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or len(nonce) > 64:
        nonce = Csrf.new_nonce()
        request.state.csrf_cookie = nonce  # set on the response by the page renderer
    return csrf.token_for(nonce)


async def verify_csrf(request: Request) -> None:
    """403 unless the form's ``csrf_token`` is signed for the request's CSRF cookie."""
    csrf: Csrf = request.app.state.csrf
    form = await request.form()
    token = form.get(CSRF_FIELD)
    if not csrf.is_valid(
        request.cookies.get(CSRF_COOKIE), token if isinstance(token, str) else None
    ):
        raise HTTPException(
            403, "The form's security token is missing or expired. Reload the page and try again."
        )


SettingsDep = Annotated[Settings, Depends(get_settings)]
AdminDep = Annotated[Person, Depends(require_admin)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]
PracticeDep = Annotated[Practice, Depends(get_practice)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
CsrfToken = Annotated[str, Depends(csrf_token)]
