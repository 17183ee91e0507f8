"""The HAPI 3.3 endpoints under ``/hapi``, for GET and HEAD.

Landing page, about, capabilities, catalog, info and data. Request handling follows
the specification's status table: unknown endpoints and unknown query parameters are
errors (1400, 1401); every error is a JSON body with the HTTP status of section 4.2; an
empty time range is HTTP 200 with status 1201. A trailing slash redirects (301); every
response carries ``Access-Control-Allow-Origin: *``; responses are gzipped when the
client asks; metadata and data carry ``Last-Modified`` and answer ``If-Modified-Since``
with 304. An error after a data stream has started aborts the connection, so a client
never mistakes a truncated response for a whole one.

**Access.** Every request is identified first (a token as Bearer, as HTTP Basic's
password or the ``socstack_token`` cookie; none is anonymous), and every dataset is
shown through the one access rule, :meth:`socstack.access.Access.authorize`: the
catalog lists the datasets the asker may see some of; ``info`` and ``data`` of one it
may see none of answer 1406, word for word as for a dataset that does not exist; what
it may see of the others is served as if the archive held nothing else (coverage, bins,
modification times and records). Credentials that do not hold get HTTP 401 with
``WWW-Authenticate``, too many failures HTTP 429 with ``Retry-After``, both with a HAPI
body of status 1400: HAPI has no code for credentials (its specification leaves
identity to HTTP), and HTTP's own statuses are what clients' authentication handling
acts on. A token never appears in a body or a log line.

CORS stays ``*``, as the specification asks, so any page may read what anyone may
read. A browser on another origin never sends its cookies with credentials mode
against ``*`` and no ``Access-Control-Allow-Credentials`` (there is none), so a page
elsewhere cannot read what its visitor's sign-in would show; a script holding a token
may send it as ``Authorization`` (the preflight allows that header). Responses carry
``Vary: Authorization, Cookie``, and those to a request with credentials
``Cache-Control: private``, so a shared cache never hands one asker's view to another.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import re
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from socstack._exceptions import AccessError
from socstack.access import ANONYMOUS, Action, Identity
from socstack.access.credentials import COOKIE
from socstack.access.http import identity_of, refusal_headers, status_of
from socstack.access.intervals import ALL, NONE, Intervals, intersect
from socstack.access.redact import redact
from socstack.access.tokens import TOKEN_PATTERN
from socstack.hapi.encoders import Encoder, media_type
from socstack.hapi.freshness import ViewStamps
from socstack.hapi.landing import landing_page
from socstack.hapi.metadata import (
    Coverage,
    HapiDataset,
    HapiParameter,
    about,
    capabilities,
    iso,
)
from socstack.hapi.source import ArchiveSource, HapiSource
from socstack.hapi.status import HAPI_VERSION, HapiError, HapiStatus
from socstack.runtime import Runtime
from socstack.times import duration_ns, parse_time_any

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
    """A user-supplied value fit to quote in a message (never raw input, never a token)."""
    if _SAFE.match(value) and not TOKEN_PATTERN.search(value):
        return repr(value)
    return "(the value given)"


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
    document: dict[str, Any],
    modified: dt.datetime | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    sent = dict(headers or {})
    if modified:
        sent["Last-Modified"] = _http_date(modified)
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(body, status_code=status, media_type="application/json", headers=sent)


def _error(
    status: HapiStatus,
    detail: str | None = None,
    http: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    document = {"HAPI": HAPI_VERSION, "status": status.body(detail)}
    return _json(document, status=http or status.http, headers=headers)


def _not_modified_response(modified: dt.datetime) -> Response:
    return Response(status_code=304, headers={"Last-Modified": _http_date(modified)})


@dataclass(frozen=True)
class _Shown:
    """A dataset as one asker sees it: the ranges it may see, and what the archive holds there."""

    dataset: HapiDataset
    seen: Intervals
    coverage: Coverage

    @property
    def whole(self) -> bool:
        """True if the asker sees all of the product (nothing of it is held back)."""
        return self.seen == ALL


class _Handlers:
    """The endpoint functions, bound to one data source and the runtime's access rule."""

    def __init__(
        self, source: HapiSource, runtime: Runtime, base_url: Callable[[], str] | None = None
    ):
        self.source = source
        self.runtime = runtime
        self.access = runtime.access
        # Where clients reach this server, known once it is bound (``about`` names it).
        self.base_url = base_url or (lambda: runtime.settings.public_url)
        # about and capabilities change only with the server (its version, its settings).
        self.started = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.stamps = ViewStamps()

    # -- who is asking, and what they see -------------------------------------------------------
    def _identity(self, request: Request) -> Identity:
        """The asker (anonymous without credentials); 401 or 429 when credentials fail."""
        client = request.client.host if request.client else None
        try:
            return identity_of(self.access, request.headers, request.cookies, client)
        except AccessError as exc:
            raise HapiError(
                HapiStatus.BAD_REQUEST,
                f"credentials not accepted: {redact(str(exc))}",
                http=status_of(exc),
                headers=refusal_headers(exc),
            ) from None

    def _seen(self, identity: Identity, dataset: HapiDataset) -> Intervals:
        decision = self.access.authorize(
            identity, Action.READ, mission=dataset.mission.name, product=dataset.product.id
        )
        return decision.intervals if decision.allowed else NONE

    def _listing(self, identity: Identity) -> tuple[list[_Shown], bool]:
        """The datasets ``identity`` sees data of; True if nothing is held back from it."""
        shown, whole = [], True
        for dataset in self.source.datasets():
            seen = self._seen(identity, dataset)
            whole = whole and seen == ALL
            coverage = self.source.coverage(dataset, seen) if seen else None
            if coverage is not None:
                shown.append(_Shown(dataset, seen, coverage))
        return shown, whole

    @staticmethod
    def _view(identity: Identity) -> Hashable:
        """What the access rule's answer depends on, of the asker."""
        return (identity.anonymous, identity.groups, identity.scopes)

    def _modified(
        self,
        identity: Identity,
        whole: bool,
        scope: Hashable,
        shown: Hashable,
        ingested: dt.datetime | None,
    ) -> dt.datetime | None:
        """Last-Modified: the last ingest; for a partial view, also when the view changed."""
        if whole:
            return ingested
        changed = self.stamps.changed((scope, self._view(identity)), shown)
        return changed if ingested is None else max(ingested, changed)

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

    def _dataset(self, query: dict[str, str], identity: Identity) -> _Shown:
        """The dataset asked for as ``identity`` sees it; 1406 if it sees none of it.

        A dataset someone may not see is answered exactly as one that does not exist, so
        its existence is not given away; the team, who see all of it, are told when it
        merely holds no data yet.
        """
        name = self._pick(query, "dataset", "id")
        if not name:
            raise HapiError(HapiStatus.BAD_REQUEST, "the dataset parameter is required")
        dataset = self._find(name)
        unknown = HapiError(HapiStatus.UNKNOWN_DATASET, f"no dataset {_echo(name)}")
        if dataset is None:
            raise unknown
        seen = self._seen(identity, dataset)
        coverage = self.source.coverage(dataset, seen) if seen else None
        if coverage is None:
            if seen == ALL:
                raise HapiError(HapiStatus.UNKNOWN_DATASET, f"no data yet in {dataset.id}")
            raise unknown
        return _Shown(dataset, seen, coverage)

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
        # Any valid time (2999-01-01Z too): outside the coverage is 1405, not a syntax error.
        try:
            start = parse_time_any(start_text)
        except ValueError as exc:
            raise HapiError(HapiStatus.BAD_START, str(exc)) from None
        try:
            stop = parse_time_any(stop_text)
        except ValueError as exc:
            raise HapiError(HapiStatus.BAD_STOP, str(exc)) from None
        if start >= stop:
            raise HapiError(HapiStatus.START_NOT_BEFORE_STOP)
        return start, stop

    @staticmethod
    def _resolve_references(query: dict[str, str]) -> None:
        if query.get("resolve_references", "true") not in ("true", "false"):
            raise HapiError(HapiStatus.BAD_RESOLVE_REFERENCES, "use true or false")

    def _described(self, identity: Identity, shown: _Shown) -> Coverage:
        """The coverage an info document gives: its modificationDate is Last-Modified's."""
        coverage = shown.coverage
        modified = self._modified(
            identity, shown.whole, ("info", shown.dataset.id), coverage, coverage.modified
        )
        return coverage if modified == coverage.modified else replace(coverage, modified=modified)

    def _info(
        self, shown: _Shown, coverage: Coverage, chosen: list[HapiParameter] | None = None
    ) -> dict[str, Any]:
        support = self.source.support(shown.dataset, shown.seen)
        return shown.dataset.info(coverage, support, chosen, self.base_url())

    # -- endpoints ---------------------------------------------------------------------------------
    def landing(self, request: Request) -> Response:
        identity = self._identity(request)
        shown, _ = self._listing(identity)
        datasets = [(s.dataset, s.coverage) for s in shown]
        return HTMLResponse(landing_page(str(request.url_for("hapi_landing")), datasets))

    def about(self, request: Request) -> Response:
        self._identity(request)
        self._query(request, "about")
        if _not_modified(request, self.started):
            return _not_modified_response(self.started)
        document = about(self.runtime.settings, self.base_url())
        test = self._data_test()
        if test is not None:
            document["dataTest"] = test
        return _json(document, self.started)

    def _data_test(self) -> dict[str, Any] | None:
        """A request anyone can make to see that the server works (HAPI 3.3 ``dataTest``).

        The first public dataset's sample range, in its first parameter.
        """
        for dataset in self.source.datasets():
            seen = self._seen(ANONYMOUS, dataset)
            coverage = self.source.coverage(dataset, seen) if seen else None
            if coverage is None or not dataset.parameters:
                continue
            return {
                "name": f"a sample of {dataset.id}",
                "query": {
                    "dataset": dataset.id,
                    "start": iso(coverage.sample_start),
                    "stop": iso(coverage.sample_stop),
                    "parameters": dataset.parameters[0].name,
                },
            }
        return None

    def capabilities(self, request: Request) -> Response:
        self._identity(request)
        self._query(request, "capabilities")
        if _not_modified(request, self.started):
            return _not_modified_response(self.started)
        return _json(capabilities(), self.started)

    def catalog(self, request: Request) -> Response:
        identity = self._identity(request)
        query = self._query(request, "catalog")
        depth = query.get("depth", "dataset")
        if depth not in ("dataset", "all"):
            raise HapiError(HapiStatus.BAD_DEPTH, "use dataset or all")
        self._resolve_references(query)
        shown, whole = self._listing(identity)
        described = [self._described(identity, s) for s in shown]
        # What the listing shows: the ids, and at depth=all each one's info.
        if depth == "all":
            ingested = max((c.modified for c in described), default=self.started)
            pairs = zip(shown, described, strict=True)
            listing: Hashable = tuple((s.dataset.id, c) for s, c in pairs)
        else:
            ingested = max((s.coverage.modified for s in shown), default=self.started)
            listing = tuple(s.dataset.id for s in shown)
        modified = self._modified(identity, whole, ("catalog", depth), listing, ingested)
        assert modified is not None  # noqa: S101 - ingested is never None
        if _not_modified(request, modified):
            return _not_modified_response(modified)
        entries = []
        for found, coverage in zip(shown, described, strict=True):
            entry: dict[str, Any] = {"id": found.dataset.id, "title": found.dataset.title}
            if depth == "all":
                entry["info"] = self._info(found, coverage)
            entries.append(entry)
        document = {"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), "catalog": entries}
        return _json(document, modified)

    def info(self, request: Request) -> Response:
        identity = self._identity(request)
        query = self._query(request, "info")
        shown = self._dataset(query, identity)
        chosen = self._parameters(shown.dataset, query.get("parameters"))
        self._resolve_references(query)
        coverage = self._described(identity, shown)
        if _not_modified(request, coverage.modified):
            return _not_modified_response(coverage.modified)
        info = self._info(shown, coverage, chosen)
        document = {"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), **info}
        return _json(document, coverage.modified)

    def data(self, request: Request) -> Response:
        identity = self._identity(request)
        query = self._query(request, "data")
        shown = self._dataset(query, identity)
        dataset = shown.dataset
        start, stop = self._time_range(query)
        chosen = self._parameters(dataset, query.get("parameters"))
        fmt = query.get("format", "csv")
        if fmt not in ("csv", "binary", "json"):
            raise HapiError(HapiStatus.BAD_FORMAT, "use csv, binary or json")
        include = query.get("include")
        if include not in (None, "header"):
            raise HapiError(HapiStatus.BAD_INCLUDE, "the only include value is header")
        coverage = self._described(identity, shown)
        # Too long first: otherwise a request longer than the limit is nearly always
        # outside a coverage shorter than it too, and 1408 is never said.
        limit = duration_ns(dataset.config.max_request_duration or "")
        if limit is not None and stop - start > limit:
            raise HapiError(
                HapiStatus.TOO_MUCH,
                f"ask for at most {dataset.config.max_request_duration} at a time",
            )
        if start < coverage.start or stop > coverage.stop:
            raise HapiError(
                HapiStatus.OUTSIDE_RANGE,
                f"{dataset.id} covers {iso(coverage.start)} to {iso(coverage.stop)}",
            )
        window = intersect(shown.seen, ((start, stop),))
        modified = self._modified(
            identity,
            shown.whole,
            ("data", dataset.id, start, stop),
            window,
            self.source.data_modified(dataset, start, stop, shown.seen),
        )
        headers = {"Last-Modified": _http_date(modified)} if modified else {}
        if modified and _not_modified(request, modified):
            return Response(status_code=304, headers=headers)
        info = self._info(shown, coverage, chosen)
        encoder = Encoder(dataset, chosen, fmt)
        blocks = self.source.records(dataset, chosen, start, stop, shown.seen)
        first = next(blocks, None)
        if first is None:
            empty = {**info, "status": HapiStatus.NO_DATA.body()}
            if fmt == "json":
                body = encoder.empty_json({"HAPI": HAPI_VERSION, **empty})
            else:
                body = encoder.header({"HAPI": HAPI_VERSION, **empty}) if include else b""
            return Response(body, media_type=media_type(fmt), headers=headers)
        if request.method == "HEAD":
            # The headers GET sends (a stream: chunked, gzipped when asked), without
            # reading more than the first block to know there is data at all.
            return StreamingResponse(iter([b""]), media_type=media_type(fmt), headers=headers)
        document = {"HAPI": HAPI_VERSION, "status": HapiStatus.OK.body(), **info}
        stream = _stream(encoder, first, blocks, document if (include or fmt == "json") else None)
        return StreamingResponse(stream, media_type=media_type(fmt), headers=headers)

    def unknown(self, request: Request) -> Response:
        self._identity(request)
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


def _carries_credentials(scope: Scope) -> bool:
    """True if a request sends an Authorization header or the sign-in cookie."""
    for name, value in scope.get("headers", []):
        if name == b"authorization" or (name == b"cookie" and _COOKIE in value):
            return True
    return False


_COOKIE = COOKIE.encode() + b"="


class _HapiEdges:
    """ASGI middleware: CORS and cache headers on every response, 500s too; 301s.

    A path with a trailing slash is redirected to the one without.

    ``OPTIONS`` is a CORS preflight: GET and HEAD from any origin, with an
    ``Authorization`` header (a script's token). Never ``Allow-Credentials``: a browser
    does not send a visitor's cookies to another origin's ``*``.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        private = _carries_credentials(scope)
        if scope["method"] == "OPTIONS":
            preflight = Response(
                status_code=204,
                headers={
                    "Allow": "GET, HEAD",
                    "Access-Control-Allow-Headers": "Authorization",
                    "Access-Control-Max-Age": "86400",
                },
            )
            await self._with_cors(preflight, scope, receive, send, private)
            return
        if path.startswith("/hapi") and len(path) > 1 and path.endswith("/"):
            query = scope.get("query_string", b"").decode("latin-1")
            target = path.rstrip("/") + (f"?{query}" if query else "")
            response = RedirectResponse(target, status_code=301)
            await self._with_cors(response, scope, receive, send, private)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._with_cors(self.app, scope, receive, tracked, private)
        except Exception:
            # Starlette answers an unexpected error outside every middleware, so its 500
            # would lack CORS (a page's script could not read even the status): answer
            # it here, unless the response has begun (then the stream is cut, as HAPI
            # allows, and the server's handler logs it).
            if started:
                raise
            logger.exception("HAPI request failed: %s %s", scope["method"], path)
            failed = _error(HapiStatus.INTERNAL, "the server log has the details")
            await self._with_cors(failed, scope, receive, send, private)

    @staticmethod
    async def _with_cors(
        app: ASGIApp, scope: Scope, receive: Receive, send: Send, private: bool
    ) -> None:
        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"access-control-allow-origin", b"*"))
                headers.append((b"access-control-allow-methods", b"GET, HEAD"))
                # What is served depends on who asks: caches keep one answer per asker.
                headers.append((b"vary", b"Authorization, Cookie"))
                if private:
                    headers.append((b"cache-control", b"private"))
                message["headers"] = headers
            await send(message)

        await app(scope, receive, send_with_cors)


def _error_handlers() -> dict[Any, Any]:
    async def hapi_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HapiError)  # noqa: S101
        return _error(exc.status, exc.detail, exc.http, exc.headers)

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
        source = ArchiveSource(runtime)
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
