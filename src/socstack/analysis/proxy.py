"""``/notebook``: the reverse proxy in front of the JupyterLab child, HTTP and WebSockets.

The same proxy serves it in ``socstack up`` (embedded mode) and in ``socstack serve
notebook`` (the analysis container behind a cluster's ingress): one sign-in for both.

Every request is a door: its identity comes from the same credentials as the API's
(``Authorization: Bearer``, or the viz's ``socstack_token`` cookie), and the one
authorization function decides (:attr:`~socstack.access.service.Action.NOTEBOOK`:
signed-in users). Only then does it reach JupyterLab, with JupyterLab's own token in
the header; the user's credential is taken off (the header, the cookie) and goes no
further, except into the kernel a request starts (:mod:`socstack.analysis.kernels`).
Because the token authenticates every request upstream, JupyterLab skips its own
origin and XSRF checks; the proxy makes them instead: a WebSocket or a state-changing
request from another origin is refused (the cookie is ``SameSite=Strict`` besides).

Responses stream in both directions (a large download is not held in memory); a
child that has died answers 503 at once with what to do, not a hang.

One request passes without credentials: ``GET /notebook/api`` (:data:`HEALTH_PATH`), the
path Jupyter Server itself serves unauthenticated, is the health check of containers
and probes. The proxy answers it itself, after asking JupyterLab: 200 once JupyterLab
answers, 503 while it starts or after it stopped, and never JupyterLab's own answer
(its version) or anything else of it. With credentials, the same path is a request
like any other, checked and forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from urllib.parse import urlsplit

import httpx
import websockets
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect

from socstack._exceptions import AccessError
from socstack.access.credentials import COOKIE, credentials
from socstack.access.http import identity_of, refusal_headers, status_of
from socstack.access.service import Access, Action
from socstack.analysis.answers import NotebookUnavailable, plain
from socstack.analysis.lab import BASE_URL, Lab, credential_path

__all__ = ["HEALTH_PATH", "NotebookProxy"]

logger = logging.getLogger(__name__)

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Request paths (under ``/notebook``) that may start a kernel: they carry their user.
_KERNEL_STARTS = ("/api/sessions", "/api/kernels")
#: What a health check asks without credentials (Jupyter Server's unauthenticated path).
HEALTH_PATH = f"{BASE_URL}api"
_JSON = (b"content-type", b"application/json")


def _headers(scope: Scope) -> dict[str, str]:
    """Request headers by lower-case name (repeated ones joined, as HTTP allows)."""
    out: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out and name != "cookie" else value
    return out


def _is_probe(scope: Scope, headers: Mapping[str, str]) -> bool:
    """Whether this is a health check: ``GET`` of :data:`HEALTH_PATH`, no credentials."""
    return (
        scope["type"] == "http"
        and scope.get("method") == "GET"
        and scope["path"].rstrip("/") == HEALTH_PATH
        and "authorization" not in headers
        and COOKIE not in cookie_parser(headers.get("cookie", ""))
    )


def _cross_origin(headers: Mapping[str, str]) -> bool:
    """Whether the request names an origin other than the host it was sent to."""
    origin = headers.get("origin")
    if not origin:
        return False  # a script or curl: no browser page sent it
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def _upstream_headers(headers: Mapping[str, str], token: str) -> dict[str, str]:
    """The request's headers for JupyterLab: JupyterLab's token instead of the user's."""
    out = {k: v for k, v in headers.items() if k not in _HOP_BY_HOP and k != "authorization"}
    out.pop("sec-websocket-key", None)
    out.pop("sec-websocket-version", None)
    out.pop("sec-websocket-extensions", None)
    out.pop("sec-websocket-protocol", None)
    if "cookie" in headers:
        kept = {k: v for k, v in cookie_parser(headers["cookie"]).items() if k != COOKIE}
        out.pop("cookie")
        if kept:
            out["cookie"] = "; ".join(f"{k}={v}" for k, v in kept.items())
    out["authorization"] = f"token {token}"
    return out


class NotebookProxy:
    """The ASGI app at ``/notebook``: sign-in required, then JupyterLab, streamed."""

    def __init__(self, access: Access, lab: Lab):
        self.access = access
        self.lab = lab
        self._http: httpx.AsyncClient | None = None
        self._kernel_start: asyncio.Lock | None = None

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No read timeout: a kernel's long output or a large download streams on.
            timeout = httpx.Timeout(connect=5.0, read=None, write=60.0, pool=30.0)
            self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
            self._kernel_start = asyncio.Lock()
        return self._http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check who asks, then hand the request (or the WebSocket) to JupyterLab."""
        if scope["type"] not in ("http", "websocket"):
            return
        headers = _headers(scope)
        if _is_probe(scope, headers):
            await self._health(send)
            return
        refusal = await self._refusal(scope, headers)
        if refusal is not None:
            status, text, extra = refusal
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": text[:120]})
            else:
                await plain(send, status, text, extra)
            return
        stopped = self.lab.stopped()
        if stopped is not None:
            reason = f"{stopped}. Restart socstack up (or the analysis service) to start it again."
            await NotebookUnavailable(reason)(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send, headers)
        else:
            await self._forward(scope, receive, send, headers)

    async def _health(self, send: Send) -> None:
        """Answer a health check: whether JupyterLab answers behind this proxy.

        JupyterLab's own answer is not passed on (it names its version, which nobody
        signed in needs); the status says it all, the body says it in a word.
        """
        if self.lab.stopped() is not None:
            status, state = 503, "stopped"
        else:
            try:
                answer = await self._client().get(
                    f"{self.lab.upstream}{HEALTH_PATH}",
                    headers={"authorization": f"token {self.lab.token}"},
                    timeout=5.0,
                )
            except httpx.HTTPError:
                status, state = 503, "starting"
            else:
                status, state = (200, "ok") if answer.status_code == 200 else (503, "starting")
        body = f'{{"status": "{state}"}}\n'.encode()
        headers = [_JSON, (b"content-length", str(len(body)).encode())]
        headers.append((b"cache-control", b"no-store"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _refusal(
        self, scope: Scope, headers: Mapping[str, str]
    ) -> tuple[int, str, dict[str, str]] | None:
        """Why this request may not pass (status, message, headers), or None."""
        client = (scope.get("client") or ("unknown", 0))[0]
        cookies = cookie_parser(headers.get("cookie", ""))
        try:
            identity = await run_in_threadpool(identity_of, self.access, headers, cookies, client)
        except AccessError as exc:
            return status_of(exc), str(exc), refusal_headers(exc)
        decision = self.access.authorize(identity, Action.NOTEBOOK)
        if not decision:
            return decision.status, decision.reason, refusal_headers(decision)
        unsafe = scope["type"] == "websocket" or scope.get("method", "GET") not in _SAFE_METHODS
        if unsafe and _cross_origin(headers):
            return 403, "a request from another site may not reach JupyterLab", {}
        return None

    def _target(self, scope: Scope, websocket: bool = False) -> str:
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
        base = self.lab.upstream.replace("http://", "ws://") if websocket else self.lab.upstream
        return f"{base}{path}" + (f"?{query}" if query else "")

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]
    ) -> None:
        client = self._client()

        async def body() -> AsyncIterator[bytes]:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        method = scope["method"]
        request = client.build_request(
            method,
            self._target(scope),
            headers=_upstream_headers(headers, self.lab.token),
            content=body() if method not in ("GET", "HEAD") else None,
        )
        path = scope["path"].rstrip("/")
        starts_kernel = (method == "POST" and path.endswith(_KERNEL_STARTS)) or (
            method == "PATCH" and "/api/sessions/" in path  # a session given another kernel
        )
        if starts_kernel:
            credential = credentials(headers, cookie_parser(headers.get("cookie", "")))
            assert self._kernel_start is not None  # noqa: S101 - made with the client
            async with self._kernel_start:
                await self._send_with_credential(request, send, credential or "")
            return
        await self._send(request, send)

    async def _send_with_credential(
        self, request: httpx.Request, send: Send, credential: str
    ) -> None:
        """Forward a kernel-starting request while its user's credential waits for it."""
        path = credential_path(self.lab.settings)

        def leave() -> None:
            path.unlink(missing_ok=True)
            with open(path, "w", encoding="utf-8", opener=_private) as out:
                out.write(credential)

        await run_in_threadpool(leave)
        try:
            await self._send(request, send)
        finally:
            path.unlink(missing_ok=True)

    async def _send(self, request: httpx.Request, send: Send) -> None:
        try:
            response = await self._client().send(request, stream=True)
        except httpx.ConnectError:
            await plain(
                send,
                503,
                "JupyterLab is starting; this page tries again in a moment.",
                {"Retry-After": "2"},
                refresh=True,
            )
            return
        except httpx.HTTPError as exc:
            logger.warning("notebook proxy: JupyterLab did not answer: %s", type(exc).__name__)
            await plain(send, 502, "JupyterLab did not answer; try again.")
            return
        try:
            headers = [
                (k, v)
                for k, v in response.headers.raw
                if k.lower().decode("latin-1") not in _HOP_BY_HOP - {"content-length"}
            ]
            if response.headers.get("content-type", "").startswith("text/html"):
                await self._send_page(response, headers, send)
                return
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": headers}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _send_page(
        self, response: httpx.Response, headers: list[tuple[bytes, bytes]], send: Send
    ) -> None:
        """An HTML page, JupyterLab's own token taken out of it.

        JupyterLab writes its server's token into the page's configuration, for its
        scripts to send back; here that would hand the browser a way around the proxy.
        Without it the scripts send the page's cookies, the proxy its token.
        """
        body = (await response.aread()).replace(self.lab.token.encode(), b"")
        kept = [
            (k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-encoding")
        ]
        kept.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": kept})
        await send({"type": "http.response.body", "body": body})

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]
    ) -> None:
        first = await receive()
        if first["type"] != "websocket.connect":
            return
        upstream_headers = _upstream_headers(headers, self.lab.token)
        upstream_headers.pop("origin", None)
        try:
            upstream = await connect(
                self._target(scope, websocket=True),
                additional_headers=upstream_headers,
                subprotocols=scope.get("subprotocols") or None,  # type: ignore[arg-type]
                max_size=None,
                compression=None,
                open_timeout=10,
                ping_interval=None,  # the browser and JupyterLab keep it alive themselves
            )
        except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
            await send(
                {"type": "websocket.close", "code": 1011, "reason": "JupyterLab is not ready"}
            )
            return
        await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
        async with upstream:
            await _pump(upstream, receive, send)


#: How a side going away shows: the upstream's close, or the ASGI server's "client
#: disconnected" (an OSError) when the browser left while a message was on its way.
_GONE = (websockets.exceptions.ConnectionClosed, OSError)


async def _pump(upstream: ClientConnection, receive: Receive, send: Send) -> None:
    """Copy messages both ways until either side closes; then close the other."""

    async def downstream_to_upstream() -> None:
        try:
            while True:
                message: Message = await receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close()
                    return
                if message.get("bytes") is not None:
                    await upstream.send(message["bytes"])
                elif message.get("text") is not None:
                    await upstream.send(message["text"])
        except _GONE:
            return  # JupyterLab closed (a kernel shut down): the other pump closes ours

    async def upstream_to_downstream() -> None:
        try:
            async for data in upstream:
                key = "bytes" if isinstance(data, bytes) else "text"
                await send({"type": "websocket.send", key: data})
        except _GONE:
            pass  # either side went away mid-message: an ending, not an error
        with contextlib.suppress(Exception):  # the browser may have gone already
            await send({"type": "websocket.close", "code": 1000})

    tasks = [
        asyncio.create_task(downstream_to_upstream()),
        asyncio.create_task(upstream_to_downstream()),
    ]
    _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def _private(path: str, flags: int) -> int:
    """Open a file readable by its owner only (the credential waits there)."""
    return os.open(path, flags, 0o600)
