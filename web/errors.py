"""Errors as replies: JSON ``{"detail"}`` for the API, a page for people; never a traceback."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from web.deps import SignInRequired
from web.practice import AnswerTooLong, NotFound
from web.security import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from web.storage.database import unavailable_reason
from web.templating import render

log = logging.getLogger("web")

JSON_PATHS = ("/api/", "/healthz", "/metrics", "/openapi.json")


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith(JSON_PATHS) or path == "/api"


def _error(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)
    response = render(
        request, "error.html", {"status": status, "detail": detail}, status_code=status
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def add_exception_handlers(app: FastAPI) -> None:
    """JSON errors for the API, an error page for people, a logged 500 for bugs."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"nothing at {request.url.path}"
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            # FastAPI's answer to a body that json.loads refused other than as bad syntax
            return _error(request, 422, f"malformed JSON: {_unparsable(exc.__cause__)}")
        return _error(request, exc.status_code, detail, dict(exc.headers or {}))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return _error(request, 422, validation_detail(exc.errors()))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(request, 404, str(exc))

    async def too_long(request: Request, exc: Exception) -> Response:
        return _error(request, 413, str(exc))

    async def database_down(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OperationalError)
        reason = unavailable_reason(exc)
        if reason is None:  # a fault in the SQL or the schema: a bug, logged with its trace
            return await server_error(request, exc)
        log.error("database unavailable on %s %s: %s", request.method, request.url.path, reason)
        return _error(request, 503, f"the database cannot be used just now ({reason}); try again")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        detail = "internal error; it has been logged"
        if _wants_json(request):
            response: Response = JSONResponse({"detail": detail}, status_code=500)
        else:
            response = Response(
                "<!doctype html><title>Error · flashgrade</title><h1>Something went wrong</h1>"
                "<p>The error has been logged. <a href='/'>Back to the decks</a></p>",
                status_code=500,
                media_type="text/html",
            )
        response.headers["content-security-policy"] = CONTENT_SECURITY_POLICY
        for name, value in SECURITY_HEADERS:
            response.headers[name.decode()] = value.decode()
        return response

    async def sign_in(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            detail = "sign in first: send Authorization: Bearer <token> (flashgrade users token)"
            return _error(request, 401, detail, {"WWW-Authenticate": "Bearer"})
        if request.method == "POST":
            # a form sent after the session ended (expired, signed out elsewhere): what was
            # typed stays on the page, to copy and send again once signed in
            form = await request.form()
            answer = form.get("answer")
            context = {
                "status": 401,
                "detail": "Your sign-in has ended. Sign in again (in a new tab), then send this "
                "again.",
                "kept_answer": answer if isinstance(answer, str) else "",
            }
            return render(request, "error.html", context, status_code=401)
        # back to this page after signing in (a form's target cannot be fetched again)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = "?" + urlencode({"next": target}) if request.method in ("GET", "HEAD") else ""
        return RedirectResponse("/login" + query, status_code=303)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(NotFound, not_found)
    app.add_exception_handler(AnswerTooLong, too_long)
    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(Exception, server_error)


def _unparsable(cause: BaseException | None) -> str:
    """Why a JSON body could not be read, where it was not its syntax."""
    if isinstance(cause, UnicodeDecodeError):
        return "the body is not UTF-8 text"
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        return "a number has too many digits"
    return "the body cannot be read as JSON"


def validation_detail(errors: Any) -> str:
    """One line from pydantic's errors: ``answer: Field required; score: ...``."""
    parts = []
    for error in list(errors)[:3]:
        loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path", "form")]
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            parts.append(f"malformed JSON: {reason}".rstrip(": "))
            continue
        where = ".".join(loc)
        message = str(error.get("msg", "invalid"))
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"
