"""``/api/health``: liveness and readiness for probes and healthchecks."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from socstack import __version__
from socstack._exceptions import CatalogError
from socstack.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness")
def health() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok", "version": __version__}


@router.get("/ready", summary="Readiness")
def ready(runtime: RuntimeDep) -> JSONResponse:
    """The catalog answers (503 otherwise)."""
    try:
        runtime.catalog.ping()
    except CatalogError as exc:
        return JSONResponse({"status": "unavailable", "detail": str(exc)}, status_code=503)
    return JSONResponse({"status": "ok"})
