"""Map socstack's exception tree to HTTP problem details (RFC 9457).

Every error body is ``application/problem+json`` with ``title``, ``status`` and
``detail``; no traceback ever reaches a client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from socstack._exceptions import (
    CatalogError,
    ConfigError,
    ConflictError,
    FileRejected,
    NotFoundError,
    SocError,
    StorageError,
)
from socstack.api.vocabulary import InvalidParameter

__all__ = ["install", "problem"]

logger = logging.getLogger(__name__)

_STATUS: list[tuple[type[SocError], int, str]] = [
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (FileRejected, 422, "File rejected"),
    (CatalogError, 503, "Catalog unavailable"),
    (StorageError, 503, "Storage unavailable"),
    (ConfigError, 500, "Configuration error"),
    (SocError, 500, "Server error"),
]


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    """A problem-details response."""
    headers = {"Retry-After": "5"} if status == 503 else None
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, object]]]:
    errors = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        errors.append({"field": where, "message": error.get("msg", "invalid")})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    return f"{first['field']}: {first['message']}" if first["field"] else str(
        first["message"]
    ), errors


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(SocError)
    async def _soc_error(_request: Request, exc: SocError) -> JSONResponse:
        for kind, status, title in _STATUS:
            if isinstance(exc, kind):
                if status >= 500:
                    logger.error("%s: %s", title, exc)
                return problem(status, title, str(exc))
        return problem(500, "Server error", "internal error")  # pragma: no cover

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, errors = _validation_detail(exc)
        return problem(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(InvalidParameter)
    async def _unknown_value(_request: Request, exc: InvalidParameter) -> JSONResponse:
        error = {"field": exc.field, "message": str(exc), "allowed": exc.allowed}
        return problem(422, "Invalid request", f"{exc.field}: {exc}", errors=[error])

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail), str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Server error", "internal error; the server log has the details")
