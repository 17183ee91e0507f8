"""One ASGI app with every web service at its contract path, on one port.

``/api`` (the data-center API), ``/hapi`` (HAPI 3.3), ``/viz`` (the Dash app, which
reads ``/hapi`` and ``/api`` over HTTP like any other client), ``/notebook`` (``up``'s
JupyterLab behind its sign-in proxy, or a page saying why there is none).
Each service keeps its own middleware and error handling: requests are dispatched by
path prefix, so HAPI's error bodies never leak into the API or the other way round.
``socstack up`` serves this app; the containers serve each service alone at the same
paths behind an ingress (``/notebook`` alone: :func:`create_notebook_app`).
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from socstack.api.app import create_app as create_api_app
from socstack.hapi.app import create_app as create_hapi_app
from socstack.runtime import Runtime
from socstack.usage import Metered

__all__ = ["create_notebook_app", "create_web_app"]


class _ByPrefix:
    """Send each request to the app whose path prefix it starts with."""

    def __init__(self, default: ASGIApp, prefixed: dict[str, ASGIApp]):
        self.default = default
        self.prefixed = prefixed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            for prefix, app in self.prefixed.items():
                if path == prefix or path.startswith(prefix + "/"):
                    await app(scope, receive, send)
                    return
        await self.default(scope, receive, send)


def create_web_app(
    runtime: Runtime,
    base_url: Callable[[], str] | None = None,
    notebook: ASGIApp | None = None,
) -> ASGIApp:
    """The API app at ``/api`` and ``/``, HAPI at ``/hapi``, the viz at ``/viz``.

    ``notebook`` serves ``/notebook`` (``up`` gives its JupyterLab proxy); without it,
    ``/notebook`` says where JupyterLab runs, or how to install it.

    ``base_url`` gives where clients reach this server (known only once it is bound):
    HAPI's ``about`` names it, and the viz reads this server's HAPI and API there
    unless the settings name others.
    """
    settings = runtime.settings
    base = base_url or (lambda: settings.public_url)
    api: FastAPI = create_api_app(runtime)
    hapi = create_hapi_app(runtime, base_url=base)
    prefixed: dict[str, ASGIApp] = {"/hapi": Metered(hapi, "hapi")}
    try:
        from socstack.viz.service import create_viz_app
    except ImportError:  # installed without the viz extra
        pass
    else:
        prefixed["/viz"] = Metered(create_viz_app(settings, base), "viz")
    prefixed["/notebook"] = Metered(notebook or _no_notebook(), "analysis")

    @api.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse("/hapi")

    return _ByPrefix(Metered(api, "api"), prefixed)


async def _nothing_here(scope: Scope, receive: Receive, send: Send) -> None:
    """What a server of ``/notebook`` alone answers elsewhere: 404, or a closed socket."""
    if scope["type"] == "http":
        await PlainTextResponse("Not Found: this server serves /notebook only", 404)(
            scope, receive, send
        )
    elif scope["type"] == "websocket":
        await WebSocketClose(code=1008)(scope, receive, send)
    elif scope["type"] == "lifespan":  # nothing to set up or tear down
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_notebook_app(notebook: ASGIApp) -> ASGIApp:
    """``notebook`` at ``/notebook`` and nothing else: what ``socstack serve notebook`` serves.

    Dispatched as in :func:`create_web_app`, so a path reaches the notebook app here
    exactly when it would in ``up``; any other path is 404 (the ingress sends only
    ``/notebook`` here).
    """
    return _ByPrefix(_nothing_here, {"/notebook": notebook})


def _no_notebook() -> ASGIApp:
    """``/notebook`` of a server that runs no JupyterLab itself."""
    from socstack.analysis.answers import NotebookUnavailable
    from socstack.analysis.lab import lab_installed

    if not lab_installed():
        return NotebookUnavailable.not_installed()
    return NotebookUnavailable(
        "JupyterLab runs beside `socstack up`, or as the analysis service of a cluster;"
        " this server does not run it."
    )
