"""What every response of socstack's web services carries, set once, where they are served.

``X-Content-Type-Options: nosniff`` (a browser takes a file for what its type says),
``Content-Security-Policy: frame-ancestors 'none'`` (no other site frames the pages),
``Referrer-Policy: no-referrer`` (links out do not carry the page's URL); and no
``server`` banner naming the software and its version (uvicorn's is turned off where it
is started). HAPI keeps its ``Access-Control-Allow-Origin: *`` for public data, as the
specification asks; the headers here add to it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["SECURITY_HEADERS", "SecurityHeaders"]

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, the headers added to its response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
                message["headers"] = [
                    *[(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"],
                    *extra,
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
