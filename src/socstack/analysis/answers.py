"""What ``/notebook`` answers when it cannot serve JupyterLab: why, and what to do.

Kept apart from the proxy so that a socstack without the analysis extra (no httpx, no
JupyterLab) still says how to install it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from starlette.types import Receive, Scope, Send

from socstack.analysis.lab import INSTALL_HINT

__all__ = ["NotebookUnavailable", "plain"]


async def plain(
    send: Send,
    status: int,
    text: str,
    headers: Mapping[str, str] | None = None,
    *,
    refresh: bool = False,
) -> None:
    """A short HTML answer (a person reads it in a browser; curl reads it too)."""
    meta = '<meta http-equiv="refresh" content="2">' if refresh else ""
    body = (
        f"<!doctype html><html><head><title>socstack notebook</title>{meta}</head>"
        f"<body><p>{html.escape(text, quote=False)}</p></body></html>\n"
    ).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class NotebookUnavailable:
    """``/notebook`` where no JupyterLab runs: says why and what to do."""

    def __init__(self, reason: str):
        self.reason = reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 503 (HTTP) or close (WebSocket) with the reason."""
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1011, "reason": self.reason[:120]})
        elif scope["type"] == "http":
            await plain(send, 503, self.reason)

    @classmethod
    def not_installed(cls) -> NotebookUnavailable:
        """The ``analysis`` extra is missing."""
        return cls(f"JupyterLab is not installed with this socstack: {INSTALL_HINT}")
