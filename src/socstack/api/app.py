"""The data-center API (FastAPI): files, quarantine, events, jobs; OpenAPI at ``/api/docs``.

``/metrics`` (Prometheus) sits beside it, outside ``/api``.

Routes carry their ``/api`` prefix themselves, so the app serves the same paths alone
(``socstack serve api``) as inside ``socstack up`` or behind the cluster's ingress.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from socstack import __version__
from socstack.api import errors
from socstack.api.routes import events, files, health, jobs, quarantine
from socstack.pipeline.celery_app import QUEUES, queue_name
from socstack.pipeline.metrics import broker_depths, render
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
    for router in (files.router, quarantine.router, events.router, jobs.router, health.router):
        app.include_router(router, prefix="/api")
    depths = broker_depths(tuple(queue_name(runtime.settings, q) for q in QUEUES))

    @app.get("/metrics", include_in_schema=False)
    def _metrics() -> Response:
        return Response(render(runtime, depths), media_type=CONTENT_TYPE_LATEST)

    errors.install(app)
    return app
