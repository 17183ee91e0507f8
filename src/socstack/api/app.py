"""The data-center API (FastAPI): files, quarantine, events; OpenAPI at ``/api/docs``.

Routes carry their ``/api`` prefix themselves, so the app serves the same paths alone
(``socstack serve api``) as inside ``socstack up`` or behind the cluster's ingress.
"""

from __future__ import annotations

from fastapi import FastAPI

from socstack import __version__
from socstack.api import errors
from socstack.api.routes import events, files, health, quarantine
from socstack.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> FastAPI:
    """Build the API app on ``runtime``."""
    app = FastAPI(
        title="socstack data-center API",
        version=__version__,
        description=(
            "Files, quarantine and events of a socstack science operations center. "
            "HAPI lives at /hapi."
        ),
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.runtime = runtime
    for router in (files.router, quarantine.router, events.router, health.router):
        app.include_router(router, prefix="/api")
    errors.install(app)
    return app
