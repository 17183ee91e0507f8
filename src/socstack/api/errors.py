"""Map socstack's exception tree, and every refusal, to HTTP problem details (RFC 9457).

Every error body is ``application/problem+json`` with ``title``, ``status`` and
``detail``; no traceback and no credential ever reaches a client (details pass through
:func:`~socstack.access.redact.redact` on their way out).

Refusals are said here and nowhere else, the same way at every door
(:mod:`socstack.access.http`): a request without credentials that a token could let
through gets **401** with ``WWW-Authenticate: Bearer``; credentials that do not hold get
**401** with ``error="invalid_token"``; a known identity that may not gets **403**; too
many failed authentications get **429** with ``Retry-After``. Every refusal is written to
the audit log (outcome ``denied``) with who, what and where, never the credential.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from socstack._exceptions import (
    AccessDenied,
    AccessError,
    CatalogError,
    ConfigError,
    ConflictError,
    FileRejected,
    NotFoundError,
    ParameterError,
    SocError,
    StorageError,
)
from socstack.access import Decision, Identity
from socstack.access.audit import audit
from socstack.access.http import challenge, refusal_headers, status_of
from socstack.access.redact import redact
from socstack.api.vocabulary import InvalidParameter

__all__ = ["ApiProblem", "Refused", "install", "problem", "translate"]

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
_TITLES = {401: "Unauthorized", 403: "Forbidden", 429: "Too many requests"}
_SIGN_IN = " (send a token: 'Authorization: Bearer <token>')"


class Refused(Exception):  # noqa: N818 - a refusal, as AccessDenied
    """A door's :class:`~socstack.access.Decision` said no.

    Raised by :meth:`socstack.api.deps.Guard.require`; the handler below answers it
    (401 or 403, with the challenge a 401 carries) and audits it.
    """

    def __init__(self, decision: Decision, action: str):
        self.decision = decision
        self.action = action
        super().__init__(decision.reason)


class ApiProblem(Exception):  # noqa: N818 - an answer, rendered as problem details
    """A request's mistake that a route names itself (a status, a title and a detail)."""

    def __init__(self, status: int, title: str, detail: str):
        self.status = status
        self.title = title
        self.detail = detail
        super().__init__(detail)


@contextmanager
def translate(status: int, title: str, *, not_found: int | None = None) -> Iterator[None]:
    """Turn the core's plain :class:`SocError` (a bad request, a state conflict) into ``status``.

    The core raises a plain ``SocError`` for a request it will not do as asked (an empty
    reason, a release that is not pending, a user name taken); unmapped it would be a
    500. Subclasses keep their own mapping, except :class:`NotFoundError` when
    ``not_found`` says what a missing thing named in a request body is (422: the body
    names something that is not there, not the URL).
    """
    try:
        yield
    except NotFoundError as exc:
        if not_found is None:
            raise
        raise ApiProblem(not_found, "Invalid request", str(exc)) from exc
    except SocError as exc:
        if type(exc) is not SocError:
            raise
        raise ApiProblem(status, title, str(exc)) from exc


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: object,
) -> JSONResponse:
    """A problem-details response (its detail redacted: no credential leaves in a body)."""
    sent = dict(headers or {})
    if status == 503:
        sent.setdefault("Retry-After", "5")
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": redact(detail),
        **extra,
    }
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=sent or None
    )


def _validation_detail(exc: RequestValidationError) -> tuple[str, list[dict[str, object]]]:
    errors = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body"))
        errors.append({"field": where, "message": redact(str(error.get("msg", "invalid")))})
    first = errors[0] if errors else {"field": "", "message": "invalid request"}
    return f"{first['field']}: {first['message']}" if first["field"] else str(
        first["message"]
    ), errors


def _audit_refusal(request: Request, actor: str, action: str, status: int, reason: str) -> None:
    """Write a refusal to the audit log; a catalog that is away does not change the answer."""
    runtime = request.app.state.runtime
    client = request.client.host if request.client else "unknown"
    try:
        audit(
            runtime.catalog,
            actor,
            action,
            f"{request.method} {request.url.path}",
            "denied",
            status=status,
            reason=reason,
            client=client,
        )
    except SocError as exc:
        logger.warning("could not audit a refused request: %s", exc)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        decision = exc.decision
        status = decision.status
        await run_in_threadpool(
            _audit_refusal,
            request,
            decision.identity.label,
            f"api.{exc.action}",
            status,
            decision.reason,
        )
        detail = decision.reason + (_SIGN_IN if status == 401 else "")
        return problem(status, _TITLES[status], detail, headers=refusal_headers(decision))

    @app.exception_handler(AccessError)
    async def _access_error(request: Request, exc: AccessError) -> JSONResponse:
        status = status_of(exc)
        headers = refusal_headers(exc)
        detail = str(exc)
        identity: Identity | None = getattr(request.state, "identity", None)
        if isinstance(exc, AccessDenied):
            # The core (releases) audits its own refusals; here only the status is chosen.
            if identity is not None and identity.anonymous:
                status, headers, detail = 401, {"WWW-Authenticate": challenge()}, detail + _SIGN_IN
        else:  # credentials that do not hold, or a client that failed too often
            action = "api.authenticate"
            await run_in_threadpool(_audit_refusal, request, "anonymous", action, status, detail)
        return problem(status, _TITLES[status], detail, headers=headers)

    @app.exception_handler(ParameterError)
    async def _parameters(_request: Request, exc: ParameterError) -> JSONResponse:
        return problem(422, "Invalid parameters", str(exc), parameters=exc.parameters)

    @app.exception_handler(ApiProblem)
    async def _api_problem(_request: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail)

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


async def read_form_file(form: Any, field: str, limit: int, what: str) -> tuple[bytes, str]:
    """The one file of a multipart ``field``, at most ``limit`` bytes, and its name.

    Why one place: each upload door must answer a missing file with 422 and an oversize
    one with 413 before anything is kept, the same way. Reading ``limit + 1`` bytes tells
    an oversize file without holding more of it.
    """
    upload = form.get(field)
    if upload is None or isinstance(upload, str):
        raise ApiProblem(422, "Invalid request", f"send the {what} as the {field!r} file")
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise ApiProblem(413, "Payload too large", f"a {what} of at most {limit // 2**20} MB")
    return content, upload.filename or ""
