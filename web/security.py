"""CSRF tokens, the secret key, security headers and the request body limit."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

CSRF_COOKIE = "flashgrade_csrf"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'; frame-ancestors 'none'"
)
# Swagger UI sets inline style attributes; its page alone may use them.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


# --- the secret key ---------------------------------------------------------------------------


def load_or_create_secret(path: Path) -> bytes:
    """The secret kept in ``path``; a new random one is written there (mode 600) when missing."""
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if len(text) >= 32:
        return text.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_urlsafe(48)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    try:
        os.link(tmp, path)  # atomic create: if another process won the race, use its key
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip().encode()
    finally:
        tmp.unlink(missing_ok=True)
    log.info("generated a new secret key in %s", path)
    return text.encode()


# --- CSRF: a signed double-submit token ------------------------------------------------------


class Csrf:
    """The cookie holds a random nonce; the form field holds ``nonce.hmac(secret, nonce)``.

    A post is accepted only when the field's signature is valid for the cookie's nonce, so a
    cross-site form can neither read the token nor forge one for a cookie it planted.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @staticmethod
    def new_nonce() -> str:
        return secrets.token_urlsafe(24)

    def _sign(self, nonce: str) -> str:
        return hmac.new(self._secret, b"csrf:" + nonce.encode(), hashlib.sha256).hexdigest()

    def token_for(self, nonce: str) -> str:
        return f"{nonce}.{self._sign(nonce)}"

    def is_valid(self, cookie: str | None, token: str | None) -> bool:
        if not cookie or not token or "." not in token:
            return False
        nonce, _, signature = token.rpartition(".")
        return hmac.compare_digest(nonce, cookie) and hmac.compare_digest(
            signature, self._sign(nonce)
        )


# --- middleware -------------------------------------------------------------------------------


class SecurityHeadersMiddleware:
    """Adds the CSP and the other security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, docs_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = (
            DOCS_CONTENT_SECURITY_POLICY
            if scope["path"] in self.docs_paths
            else CONTENT_SECURITY_POLICY
        ).encode()

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", csp))
                headers.extend(SECURITY_HEADERS)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)


class RequestGuardMiddleware:
    """Refuses, before any parsing: bodies over ``max_bytes`` (413, whether announced by
    Content-Length or only found while streaming), and API posts that are not JSON (415).

    Browsers cannot send a cross-site JSON post without a CORS preflight, which is why the
    JSON API needs no CSRF token; refusing form posts to it keeps that true.

    ``json_posts`` are the path patterns of the API's POST routes; ``json_paths`` the path
    prefixes answered in JSON, where a body announced as too large is refused at once.
    Elsewhere (pages) such a body reaches the route, whose first read raises the 413, so that
    the page can say what is wrong; ``path_limits`` gives some paths (the deck upload form) a
    limit of their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        json_posts: Sequence[re.Pattern[str]] = (),
        json_paths: tuple[str, ...] = ("/api/",),
        path_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_posts = tuple(json_posts)  # paths of the API's POST routes
        self.json_paths = json_paths
        self.path_limits = path_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        # a page answers a 413 with its own HTML page, on its first read of the body
        on_read = scope["path"] in self.path_limits or not scope["path"].startswith(self.json_paths)
        detail = f"request body too large (at most {limit:,} bytes)"
        # only where the API takes a POST: elsewhere the router answers 404 or 405
        check_json = scope["method"] == "POST" and any(
            p.match(scope["path"]) for p in self.json_posts
        )
        content_type = b""
        refuse_on_read = False
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_large = int(value) > limit
                except ValueError:
                    too_large = False
                if too_large and on_read:
                    refuse_on_read = True  # the route's first read of the body raises the 413
                elif too_large:
                    await _send_json(send, 413, detail)
                    return
            elif name == b"content-type":
                content_type = value
        if check_json and not _is_json(content_type):
            await _send_json(send, 415, "send the body as JSON (Content-Type: application/json)")
            return

        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            if refuse_on_read:
                raise _too_large(detail)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # an HTTPException passes through FastAPI's body parsing untouched and is
                    # answered by the app's handler like any other 413
                    raise _too_large(detail)
            return message

        await self.app(scope, receive_limited, send)


def _too_large(detail: str) -> HTTPException:
    # the connection is closed after it, or the server would read all the body it announced
    return HTTPException(413, detail, headers={"Connection": "close"})


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


async def _send_json(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
