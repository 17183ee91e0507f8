"""The viz as an ASGI app at ``/viz``: alone (``socstack serve viz``) or inside ``up``.

Dash runs on Flask (WSGI); a2wsgi runs it in a thread pool under uvicorn, so a slow
HAPI download in one callback never blocks the event loop that serves ``/hapi`` in the
same process (the viz reads this very server over HTTP, like any other).
"""

from __future__ import annotations

from collections.abc import Callable

from a2wsgi import WSGIMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from socstack.config import Settings
from socstack.viz.app import PREFIX, create_dash
from socstack.viz.links import Endpoints

__all__ = ["create_viz_app", "endpoints_for"]


def endpoints_for(settings: Settings, base_url: Callable[[], str]) -> Endpoints:
    """The HAPI and API URLs the viz reads: the settings' own, else this server's."""
    return Endpoints(
        hapi=lambda: settings.viz_hapi_url or f"{base_url()}/hapi",
        api=lambda: settings.viz_api_url or f"{base_url()}/api",
        api_for_browser="/api",  # browsers reach the API where they reach the viz
    )


class _Viz:
    """Redirect ``/viz`` to ``/viz/``; hand everything else to Dash."""

    def __init__(self, wsgi: ASGIApp):
        self.wsgi = wsgi

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in ("", "/", PREFIX.rstrip("/")):
            await send(
                {
                    "type": "http.response.start",
                    "status": 307,
                    "headers": [(b"location", PREFIX.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self.wsgi(scope, receive, send)


def create_viz_app(settings: Settings, base_url: Callable[[], str]) -> ASGIApp:
    """The Dash app behind ``/viz/``, reading the servers the settings name."""
    dash_app = create_dash(
        endpoints_for(settings, base_url),
        cache_bytes=settings.viz_cache_mb * 2**20,
        timeout=settings.viz_timeout,
        default_view=settings.viz_default_view,
    )
    app = _Viz(WSGIMiddleware(dash_app.server, workers=8))  # type: ignore[arg-type]
    app.dash = dash_app  # type: ignore[attr-defined] - for tests and the benchmark
    return app
