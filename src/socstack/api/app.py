"""The data-center API (FastAPI): files, quarantine, events, jobs; OpenAPI at ``/api/docs``.

``/api`` itself is an index of the API; the docs' assets are served under
``/api/docs/static`` from a package, so they need no network.

``/metrics`` (Prometheus) sits beside it, outside ``/api``; it is for operators (a
scraper sends an operator's read token).

Every route but ``/api`` itself, the docs, ``/api/health``, ``/api/ready`` and
``/api/whoami`` asks :meth:`socstack.access.Access.authorize` first (see
:mod:`socstack.api.deps` and, for how a refusal is said, :mod:`socstack.api.errors`).

Routes carry their ``/api`` prefix themselves, so the app serves the same paths alone
(``socstack serve api``) as inside ``socstack up`` or behind the cluster's ingress.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST

from socstack import __version__
from socstack.access import Action
from socstack.api import errors
from socstack.api.deps import requires
from socstack.api.routes import (
    audit,
    eventlists,
    events,
    files,
    harvest,
    health,
    index,
    jobs,
    quarantine,
    releases,
    runs,
    tokens,
    users,
    whoami,
)
from socstack.api.routes.index import DOCS_ASSETS_URL, DOCS_URL, OPENAPI_URL
from socstack.pipeline.metrics import broker_depths, render
from socstack.runtime import Runtime

__all__ = ["create_app"]


def create_app(runtime: Runtime) -> FastAPI:
    """Build the API app on ``runtime``."""
    # Swagger UI's script, style sheet and icon come from the fastapi-offline package and
    # are served here, never from a CDN: the docs work on an air-gapped network.
    app = FastAPIOffline(
        title="socstack data-center API",
        version=__version__,
        description=(
            "Files, quarantine, events, jobs, notebook runs, event lists, releases, users,"
            " tokens and the"
            " audit log of a"
            " socstack science operations center. HAPI lives at /hapi. Send a token as"
            " 'Authorization: Bearer <token>' (or HTTP Basic, the token as password):"
            " without one you see what is public; 401 means a token would help, 403 that"
            " yours does not allow it."
        ),
        docs_url=DOCS_URL,
        static_url=DOCS_ASSETS_URL,
        openapi_url=OPENAPI_URL,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=f"{DOCS_URL}/oauth2-redirect",
        # No spec validator badge: it would send the OpenAPI document to swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.runtime = runtime
    routers = (
        index.router,
        whoami.router,
        files.router,
        quarantine.router,
        events.router,
        eventlists.router,
        harvest.router,
        jobs.router,
        releases.router,
        runs.router,
        users.router,
        tokens.router,
        audit.router,
    )
    for router in (*routers, health.router):
        app.include_router(router, prefix="/api")
    depths = broker_depths(runtime.settings)

    @app.get("/metrics", include_in_schema=False, dependencies=[requires(Action.OPERATE)])
    def _metrics() -> Response:
        return Response(render(runtime, depths), media_type=CONTENT_TYPE_LATEST)

    errors.install(app)
    return app
