"""socstack's API as the viz's pages read it: over HTTP, as the page's user.

Every page that shows something of the API (quicklooks, the pipeline, event lists,
notebook runs) asks through :class:`PageApi`, with the credential of the request
(:data:`~socstack.viz.signin.CREDENTIAL`): it sees what its user may, and the API's one
authorization function decides. An answer that is not a success becomes an
:class:`ApiError` with the API's own ``detail``, for the page to show.
"""

from __future__ import annotations

from typing import Any

import httpx

from socstack.viz.links import Endpoints
from socstack.viz.signin import CREDENTIAL, headers_for

__all__ = ["ApiError", "PageApi"]


class ApiError(Exception):
    """socstack's API could not be read, or refused; the message is for the page."""

    def __init__(self, message: str, status: int | None = None, detail: str = ""):
        self.status = status
        self.detail = detail  # the API's own reason, when it gave one
        super().__init__(message)


def _detail(response: httpx.Response) -> str:
    """The API's ``detail`` of a refusal (a problem document), or nothing."""
    kind = response.headers.get("content-type", "")
    if not kind.startswith(("application/json", "application/problem+json")):
        return ""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return ""
    return str(detail) if detail else ""


class PageApi:
    """socstack's API (``/api``), asked as the page's user."""

    def __init__(self, endpoints: Endpoints, timeout: float):
        self.endpoints = endpoints
        self.http = httpx.Client(timeout=timeout, follow_redirects=True)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to the API (``path`` below ``/api``); ApiError if unreachable."""
        base = self.endpoints.api().rstrip("/")
        try:
            return self.http.request(
                method, f"{base}{path}", headers=headers_for(CREDENTIAL.get()), **kwargs
            )
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach socstack's API at {base}: {exc}") from exc

    def checked(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A successful answer; an ApiError with the API's reason otherwise."""
        response = self.call(method, path, **kwargs)
        if response.status_code in (200, 201, 202, 204):
            return response
        base = self.endpoints.api().rstrip("/")
        detail = _detail(response)
        message = f"{base}{path} answered HTTP {response.status_code}"
        raise ApiError(f"{message}: {detail}" if detail else message, response.status_code, detail)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a successful answer; an ApiError with the API's reason otherwise."""
        return self.checked(method, path, **kwargs).json()

    def get(self, path: str, **params: Any) -> Any:
        """``GET path?params`` as JSON."""
        return self.json("GET", path, params=params)
