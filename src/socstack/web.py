"""One ASGI app with every web service at its contract path, on one port.

``/api`` now; ``/hapi`` and ``/viz`` join as they land. ``socstack up`` serves it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from socstack.api.app import create_app as create_api_app
from socstack.runtime import Runtime

__all__ = ["create_web_app"]


def create_web_app(runtime: Runtime) -> FastAPI:
    """The API app, with the other services mounted beside it."""
    app = create_api_app(runtime)

    @app.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse("/api/docs")

    return app
