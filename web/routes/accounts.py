"""Signing in and out, and the admin's list of people (DESIGN.md "People and access").

The sign-in form answers an unknown name and a wrong password alike; the session cookie is
HttpOnly, SameSite=Lax (so a link from elsewhere arrives signed in) and Secure with
``FLASHGRADE_SECURE_COOKIES``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from web.accounts import AccountError, Throttled
from web.deps import (
    SESSION_COOKIE,
    AccountsDep,
    AdminDep,
    CsrfToken,
    PersonDep,
    SettingsDep,
    verify_csrf,
)
from web.templating import render

router = APIRouter(include_in_schema=False)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path of this site, never another site."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request, token: str, *, next_url: str, name: str = "", error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    context = {"csrf_token": token, "next": safe_next(next_url), "name": name, "error": error}
    return render(request, "login.html", context, status_code=status_code)


@router.get("/login", name="login")
def login_form(
    request: Request, accounts: AccountsDep, token: CsrfToken, next: str = "/"
) -> Response:
    if not accounts.exist():  # local mode: nobody signs in
        return RedirectResponse("/", status_code=303)
    return _login_page(request, token, next_url=next[:2000])


@router.post("/login", name="login_submit", dependencies=[Depends(verify_csrf)])
async def login(
    request: Request,
    accounts: AccountsDep,
    settings: SettingsDep,
    token: CsrfToken,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in: a new session and a 303 to ``next``; the form again, with one reply for every
    failure, or 429 once a name has failed too often."""
    try:
        # Argon2 takes tens of milliseconds of CPU: not on the event loop
        person = await run_in_threadpool(accounts.authenticate, username, password)
    except Throttled as exc:
        page = _login_page(
            request, token, next_url=next, name=username, error=f"Not signed in: {exc}.",
            status_code=429,
        )  # fmt: skip
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except AccountError:
        return _login_page(
            request, token, next_url=next, name=username,
            error="Not signed in: wrong name or password.", status_code=401,
        )  # fmt: skip
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # one session per sign-in: the browser's earlier one ends here
        await run_in_threadpool(accounts.end_session, previous[:200])
    session = await run_in_threadpool(accounts.start_session, person)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session,
        max_age=int(accounts.session_lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.get("/logout", name="logout_page")
def logout_page(request: Request, person: PersonDep, token: CsrfToken) -> HTMLResponse:
    """A page with the sign-out button (signing out changes state: a POST with its token)."""
    return render(request, "logout.html", {"csrf_token": token})


@router.post("/logout", name="logout", dependencies=[Depends(verify_csrf)])
def logout(request: Request, accounts: AccountsDep) -> RedirectResponse:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        accounts.end_session(cookie[:200])
    response = RedirectResponse("/login" if accounts.exist() else "/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/admin/people", name="people")
def people(request: Request, admin: AdminDep, accounts: AccountsDep) -> HTMLResponse:
    """Every account with its activity counts (never an answer)."""
    return render(request, "people.html", {"people": accounts.people()})
