"""Signing in to the viz, and reading socstack as the person signed in.

The viz reads HAPI and the API over HTTP like any client, so what a page shows is what
its user may see only if the viz asks as that user. Signing in (``/viz/signin``: a
token, checked against ``/api/whoami``) puts the token in a cookie (``HttpOnly``,
``SameSite=Strict``, ``Secure`` over https): scripts cannot read it, other sites cannot
send it. Each request's token is the viz's credential for that request only
(:data:`CREDENTIAL`), forwarded to this socstack's HAPI and API and to no other server,
and the download cache is keyed by it, so nobody is served what someone else
downloaded. The cookie also goes with the page's own links to ``/api`` and ``/hapi``
(quicklook images, *Open in HAPI*), which accept it.
"""

from __future__ import annotations

import contextvars
import hashlib
from typing import Any

import flask
import httpx
from dash import Input, Output, dcc, html

from socstack.access.credentials import COOKIE
from socstack.viz.links import Endpoints

__all__ = [
    "CREDENTIAL",
    "fingerprint",
    "headers_for",
    "register_signin",
    "signin_layout",
    "whoami",
]

#: The credential of the request being served (None: anonymous).
CREDENTIAL: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "socstack_viz_credential", default=None
)
_SESSION_SECONDS = 12 * 3600


def fingerprint(credential: str | None) -> str:
    """A key for what one credential may see (never the credential itself)."""
    if not credential:
        return "anonymous"
    return hashlib.sha256(credential.encode()).hexdigest()[:24]


def headers_for(credential: str | None) -> dict[str, str]:
    """The headers that ask this socstack as the credential's holder."""
    return {"Authorization": f"Bearer {credential}"} if credential else {}


def whoami(endpoints: Endpoints, credential: str | None, timeout: float) -> dict[str, Any] | None:
    """Who the credential is, by this socstack's API (None: not valid, or none given)."""
    if not credential:
        return None
    try:
        response = httpx.get(
            f"{endpoints.api().rstrip('/')}/whoami",
            headers=headers_for(credential),
            timeout=timeout,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    body = response.json()
    return body if isinstance(body, dict) and body.get("user") else None


def signin_layout() -> html.Div:
    """The sign-in page: a token, posted (never put in a URL)."""
    return html.Div(
        [
            html.H2("Sign in"),
            html.P(
                "Paste a socstack token (socstack tokens create, or your team's admin)."
                " Without one you see what is public.",
                className="hint",
            ),
            html.Form(
                [
                    html.Label("Token", htmlFor="signin-token"),
                    dcc.Input(
                        id="signin-token",
                        name="token",
                        type="password",
                        autoComplete="off",
                        className="wide",
                    ),
                    html.Button("Sign in", type="submit", id="signin-submit"),
                ],
                action="/viz/session",
                method="POST",
            ),
            html.Div(id="signin-message", role="alert", className="message", hidden=True),
        ]
    )


def register_signin(app: Any, endpoints: Endpoints, timeout: float) -> None:
    """The sign-in and sign-out routes, and the request hook that reads the cookie."""
    server: flask.Flask = app.server

    @server.before_request
    def _credential() -> None:
        CREDENTIAL.set(flask.request.cookies.get(COOKIE) or None)

    @server.post("/viz/session")
    def _sign_in() -> flask.Response:
        token = (flask.request.form.get("token") or "").strip()
        if whoami(endpoints, token, timeout) is None:
            return flask.redirect("/viz/signin?failed=1", code=303)
        response = flask.redirect("/viz/", code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=_SESSION_SECONDS,
            path="/",
            secure=flask.request.scheme == "https",
            httponly=True,
            samesite="Strict",
        )
        return response

    @server.post("/viz/session/end")
    def _sign_out() -> flask.Response:
        response = flask.redirect("/viz/", code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
        return response

    @app.callback(
        Output("who", "children"),
        Output("nav-signin", "style"),
        Output("signout-form", "style"),
        Output("signin-message", "children"),
        Output("signin-message", "hidden"),
        Input("url", "pathname"),
        Input("url", "search"),
    )
    def _who(_: str | None, search: str | None) -> tuple[Any, ...]:
        found = whoami(endpoints, CREDENTIAL.get(), timeout)
        failed = "failed=1" in (search or "")
        message = "That token is not valid here (expired, revoked, or mistyped)."
        hidden, shown = {"display": "none"}, {}
        if found is None:
            return "", shown, hidden, message if failed else "", not failed
        groups = ", ".join(found.get("groups") or []) or "no groups"
        return f"{found['user']} ({groups})", hidden, shown, "", True
