"""The HAPI 3.3 endpoints under ``/hapi``, for GET and HEAD.

Landing page, about, capabilities, catalog, info and data. Request handling follows
the specification's status table: unknown endpoints and unknown query parameters are
errors (1400, 1401); every error is a JSON body with the HTTP status of section 4.2; an
empty time range is HTTP 200 with status 1201. A trailing slash redirects (301); every
response carries ``Access-Control-Allow-Origin: *``; responses are gzipped when the
client asks; metadata and data carry ``Last-Modified`` and answer ``If-Modified-Since``
with 304. An error after a data stream has started aborts the connection, so a client
never mistakes a truncated response for a whole one.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socstack.hapi.encoders import Encoder, media_type
from socstack.hapi.landing import landing_page
from socstack.hapi.metadata import HapiDataset, HapiParameter, about, capabilities
from socstack.hapi.source import ArchiveSource, HapiSource
from socstack.hapi.status import HAPI_VERSION, HapiError, HapiStatus
from socstack.runtime import Runtime
from socstack.times import duration_ns, parse_time

__all__ = ["create_app", "hapi_routes"]

logger = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9_.:+-]{1,64}$")
_ALLOWED = {
    "about": set(),
    "capabilities": set(),
    "catalog": {"depth", "resolve_references"},
    "info": {"dataset", "id", "parameters", "resolve_references"},
    "data": {
        "dataset",
        "id",
        "start",
        "time.min",
        "stop",
        "time.max",
        "parameters",
        "include",
        "format",
    },
}


def _echo(value: str) -> str:
    """A user-supplied value fit to quote in a message (never raw input)."""
    return repr(value) if _SAFE.match(value) else "(the value given)"


def _http_date(value: dt.datetime) -> str:
    return email.utils.format_datetime(value.astimezone(dt.UTC), usegmt=True)


def _not_modified(request: Request, modified: dt.datetime) -> bool:
    header = request.headers.get("if-modified-since")
    if not header:
        return False
    try:
        since = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return modified <= since


def _json(
    document: dict[str, Any], modified: dt.datetime | None = None, status: int = 200
) -> Response:
    headers = {"Last-Modified": _http_date(modified)} if modified else None
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _error(status: HapiStatus, detail: str | None = None) -> Response:
    document = {"HAPI": HAPI_VERSION, "status": status.body(detail)}
    return _json(document, status=status.http)


class _Handlers:
    """The endpoint functions, bound to one data source."""

    def __init__(
        self, source: HapiSource, runtime: Runtime, base_url: Callable[[], str] | None = None
    ):
        self.source = source
        self.runtime = runtime
        # Where clients reach this server, known once it is bound (``about`` names it).
        self.base_url = base_url or (lambda: runtime.settings.public_url)

    # -- request checking ----------------------------------------------------------------------
    @staticmethod
    def _query(request: Request, endpoint: str) -> dict[str, str]:
        pairs = request.query_params.multi_items()
        allowed = _ALLOWED[endpoint]
        seen: dict[str, str] = {}
        for key, value in pairs:
            if key not in allowed:
                raise HapiError(
                    HapiStatus.UNKNOWN_PARAMETER_NAME, f"{endpoint} takes no parameter {_echo(key)}"
                )
            if key in seen:
                raise HapiError(HapiStatus.BAD_REQUEST, f"parameter {key!r} is given twice")
            seen[key] = value
        return seen

    @staticmethod
    def _pick(query: dict[str, str], new: str, old: str) -> str | None:
        if new in query and old in query:
            raise HapiError(HapiStatus.BAD_REQUEST, f"give either {new!r} or {old!r}, not both")
        return query.get(new, query.get(old))

    def _dataset(self, query: dict[str, str]) -> HapiDataset:
        name = self._pick(query, "dataset", "id")
        if not name:
            raise HapiError(HapiStatus.BAD_REQUEST, "the dataset parameter is required")
        dataset = self._find(name)
        if dataset is None:
            raise HapiError(HapiStatus.UNKNOWN_DATASET, f"no dataset {_echo(name)}")
        return dataset

    def _find(self, name: str) -> HapiDataset | None:
        finder = getattr(self.source, "dataset", None)
        if finder is not None:
            return finder(name)
        return next((d for d in self.source.datasets() if d.id == name), None)

    @staticmethod
    def _parameters(dataset: HapiDataset, text: str | None) -> list[HapiParameter]:
        if text is None or text == "":
            return list(dataset.parameters)
        names = text.split(",")
        order = {"Time": -1, **{p.name: k for k, p in enumerate(dataset.parameters)}}
        unknown = [n for n in names if n not in order]
        if unknown:
            shown = ", ".join(_echo(n) for n in unknown[:3])
            raise HapiError(HapiStatus.UNKNOWN_PARAMETER, f"{dataset.id} has no parameter {shown}")
        positions = [order[n] for n in names]
        if len(set(positions)) != len(positions) or positions != sorted(positions):
            raise HapiError(
                HapiStatus.BAD_PARAMETER_ORDER,
                "list each parameter once, in the order of the info response",
            )
        return [dataset.parameters[k] for k in positions if k >= 0]

    def _time_range(self, query: dict[str, str]) -> tuple[int, int]:
        start_text = self._pick(query, "start", "time.min")
        stop_text = self._pick(query, "stop", "time.max")
        if not start_text:
            raise HapiError(HapiStatus.BAD_REQUEST, "the start parameter is required")
        if not stop_text:
            raise HapiError(HapiStatus.BAD_REQUEST, "the stop parameter is required")
        try:
            start = parse_time(start_text)
        except ValueError as exc:
            raise HapiError(HapiStatus.BAD_START, str(exc)) from None
        try:
            stop = parse_time(stop_text)
        except ValueError as exc:
            raise HapiError(HapiStatus.BAD_STOP, str(exc)) from None
        if start >= stop:
            raise HapiError(HapiStatus.START_NOT_BEFORE_STOP)
        return start, stop

    @staticmethod
    def _resolve_references(query: dict[str, str]) -> None:
        if query.get("resolve_references", "true") not in ("true", "false"):
            raise HapiError(HapiStatus.BAD_RESOLVE_REFERENCES, "use true or false")

    def _info(
        self, dataset: HapiDataset, chosen: list[HapiParameter] | None = None
    ) -> dict[str, Any]:
        coverage = self.source.coverage(dataset)
        if coverage is None:
            raise HapiError(HapiStatus.UNKNOWN_DATASET, f"no data yet in {dataset.id}")
        return dataset.info(coverage, self.source.support(dataset), chosen)

    # -- endpoints ---------------------------------------------------------------------------------
    def landing(self, request: Request) -> Response:
        datasets = []
        for dataset in self.source.datasets():
            coverage = self.source.coverage(dataset)
            if coverage is not None:
                datasets.append((dataset, coverage))
        return HTMLResponse(landing_page(str(request.url_for("hapi_landing")), datasets))

    def about(self, request: Request) -> Response:
        self._query(request, "about")
        settings = self.runtime.settings
        modified = self.source.last_modified()
        if _not_modified(request, modified):
            return Response(status_code=304, headers={"Last-Modified": _http_date(modified)})
        return _json(about(self.base_url(), settings.hapi_contact), modified)

    def capabilities(self, request: Request) -> Response:
        self._query(request, "capabilities")
        modified = self.source.last_modified()
        if _not_modified(request, modified):
            return Response(status_code=304, headers={"Last-Modified": _http_date(modified)})
        return _json(capabilities(), modified)

    def catalog(self, request: Request) -> Response:
        query = self._query(request, "catalog")
        depth = query.get("depth", "dataset")
        if depth not in ("dataset", "all"):
            raise HapiError(HapiStatus.BAD_DEPTH, "use dataset or all")
        self._resolve_references(query)
        modified = self.source.last_modified()
        if _not_modified(request, modified):
            return Response(status_code=304, headers={"Last-Modified": _http_date(modified)})
        entries = []
        for dataset in self.source.datasets():
            entry: dict[str, Any] = {"id": dataset.id, "title": dataset.title}
            if depth == "all":
                entry["info"] = self._info(dataset)
            entries.append(entry)
        document = {"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), "catalog": entries}
        return _json(document, modified)

    def info(self, request: Request) -> Response:
        query = self._query(request, "info")
        dataset = self._dataset(query)
        chosen = self._parameters(dataset, query.get("parameters"))
        self._resolve_references(query)
        info = self._info(dataset, chosen)
        coverage = self.source.coverage(dataset)
        modified = coverage.modified if coverage else self.source.last_modified()
        if _not_modified(request, modified):
            return Response(status_code=304, headers={"Last-Modified": _http_date(modified)})
        return _json({"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), **info}, modified)

    def data(self, request: Request) -> Response:
        query = self._query(request, "data")
        dataset = self._dataset(query)
        start, stop = self._time_range(query)
        chosen = self._parameters(dataset, query.get("parameters"))
        fmt = query.get("format", "csv")
        if fmt not in ("csv", "binary", "json"):
            raise HapiError(HapiStatus.BAD_FORMAT, "use csv, binary or json")
        include = query.get("include")
        if include not in (None, "header"):
            raise HapiError(HapiStatus.BAD_INCLUDE, "the only include value is header")
        info = self._info(dataset, chosen)
        coverage = self.source.coverage(dataset)
        assert coverage is not None  # noqa: S101 - _info checked it
        if start < coverage.start or stop > coverage.stop:
            raise HapiError(
                HapiStatus.OUTSIDE_RANGE,
                f"{dataset.id} covers {info['startDate']} to {info['stopDate']}",
            )
        limit = duration_ns(dataset.config.max_request_duration or "")
        if limit is not None and stop - start > limit:
            raise HapiError(
                HapiStatus.TOO_MUCH,
                f"ask for at most {dataset.config.max_request_duration} at a time",
            )
        modified = self.source.data_modified(dataset, start, stop)
        headers = {"Last-Modified": _http_date(modified)} if modified else {}
        if modified and _not_modified(request, modified):
            return Response(status_code=304, headers=headers)
        if request.method == "HEAD":
            return Response(status_code=200, media_type=media_type(fmt), headers=headers)
        encoder = Encoder(dataset, chosen, fmt)
        blocks = self.source.records(dataset, chosen, start, stop)
        first = next(blocks, None)
        if first is None:
            empty = {**info, "status": HapiStatus.NO_DATA.body()}
            if fmt == "json":
                body = encoder.empty_json({"HAPI": HAPI_VERSION, **empty})
            else:
                body = encoder.header({"HAPI": HAPI_VERSION, **empty}) if include else b""
            return Response(body, media_type=media_type(fmt), headers=headers)
        document = {"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), **info}
        stream = _stream(encoder, first, blocks, document if (include or fmt == "json") else None)
        return StreamingResponse(stream, media_type=media_type(fmt), headers=headers)

    def unknown(self, request: Request) -> Response:
        raise HapiError(HapiStatus.BAD_REQUEST, "unknown endpoint; see /hapi for the API")


def _stream(
    encoder: Encoder, first: Any, rest: Iterator[Any], header: dict[str, Any] | None
) -> Iterator[bytes]:
    try:
        if header is not None:
            yield encoder.header(header)
        yield encoder.encode(first)
        for block in rest:
            yield encoder.encode(block)
        yield encoder.end()
    except Exception:
        logger.exception("HAPI data stream failed after it started; aborting the response")
        raise


class _HapiEdges:
    """ASGI middleware: CORS headers on every response; 301 for trailing slashes."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith("/hapi") and len(path) > 1 and path.endswith("/"):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path.rstrip("/") + (f"?{query}" if query else "")
            response = RedirectResponse(target, status_code=301)
            await self._with_cors(response, scope, receive, send)
            return
        await self._with_cors(self.app, scope, receive, send)

    @staticmethod
    async def _with_cors(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", b"*"))
                headers.append((b"access-control-allow-methods", b"GET, HEAD"))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_cors)


def _error_handlers() -> dict[Any, Any]:
    async def hapi_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HapiError)  # noqa: S101
        return _error(exc.status, exc.detail)

    async def unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("HAPI request failed: %s %s", request.method, request.url.path)
        return _error(HapiStatus.INTERNAL, "the server log has the details")

    return {HapiError: hapi_error, Exception: unexpected}


def hapi_routes(
    runtime: Runtime,
    source: HapiSource | None = None,
    base_url: Callable[[], str] | None = None,
) -> list[Route]:
    """The HAPI routes (paths start with ``/hapi``).

    ``base_url`` gives where clients reach this server (default: the settings'
    ``public_url``); a server bound to a port known only once it listens passes its own.
    """
    if source is None:
        source = ArchiveSource(runtime, include_unreleased=runtime.settings.hapi_include_unreleased)
    handlers = _Handlers(source, runtime, base_url)
    get = ["GET", "HEAD"]
    return [
        Route("/hapi", handlers.landing, methods=get, name="hapi_landing"),
        Route("/hapi/about", handlers.about, methods=get),
        Route("/hapi/capabilities", handlers.capabilities, methods=get),
        Route("/hapi/catalog", handlers.catalog, methods=get),
        Route("/hapi/info", handlers.info, methods=get),
        Route("/hapi/data", handlers.data, methods=get),
        Route("/hapi/{rest:path}", handlers.unknown, methods=get),
    ]


def create_app(
    runtime: Runtime,
    source: HapiSource | None = None,
    *,
    base_url: Callable[[], str] | None = None,
) -> Starlette:
    """The HAPI server on its own (``socstack serve hapi``), at ``/hapi``."""
    return Starlette(
        routes=hapi_routes(runtime, source, base_url),
        middleware=[
            Middleware(_HapiEdges),
            Middleware(
                GZipMiddleware, minimum_size=1000, compresslevel=runtime.settings.hapi_gzip_level
            ),
        ],
        exception_handlers=_error_handlers(),
    )
