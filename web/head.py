"""HEAD wherever GET is answered, as HTTP requires (FastAPI's routes answer GET alone).

Uptime monitors and link checkers send HEAD. The route runs as a GET and only its headers,
Content-Length included, go out.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGetMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        inner = {**scope, "method": "GET"}
        try:
            await self.app(inner, receive, send_headers_only)
        finally:  # what routing found (the route, for the metrics) belongs to the request
            scope.update({k: v for k, v in inner.items() if k != "method"})
