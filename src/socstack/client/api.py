"""The data center's REST API (``/api``) as the client uses it: files, jobs, events, runs.

Thin on purpose: each call is one request whose JSON is returned as the API documents
it (``/api/docs``), so the client never lags behind the API. Failures become one-line
:class:`~socstack._exceptions.ClientError` s that say which token was refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from socstack._exceptions import ClientError

__all__ = ["FINAL", "NO_TOKEN", "Api", "Runs", "refusal"]

#: How messages name the absence of a token.
NO_TOKEN = "no token"  # noqa: S105 - words for a message, not a credential
#: Where a run's status ends (anything else is still queued or running).
FINAL = frozenset({"succeeded", "failed", "timed_out", "skipped"})


def refusal(url: str, status: int, detail: str, token: str) -> str:
    """The one line of a 401/403: which token (by its description), and the server's reason."""
    if status == 401 and token == NO_TOKEN:
        return f"{url} wants a token for this (none was given: pass token= or set SOC_TOKEN)"
    verb = "refused" if status == 401 else "does not let"
    tail = "" if status == 401 else " do this"
    return f"{url} {verb} {token}{tail}: {detail}"


class Api:
    """``/api`` of one data center, as the holder of one token."""

    def __init__(self, url: str, token: str | None, describe: str, *, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.describe = describe
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(timeout=timeout, headers=headers, follow_redirects=True)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; any failure as a ClientError of one line."""
        url = f"{self.url}{path}"
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            reason = (str(exc) or type(exc).__name__).splitlines()[0]
            raise ClientError(f"cannot reach {self.url}: {reason}") from exc
        if response.status_code >= 400:
            detail = _detail(response)
            if response.status_code in (401, 403):
                message = refusal(url, response.status_code, detail, self.describe)
            else:
                message = f"{url} answered {response.status_code}: {detail}"
            raise ClientError(message, response.status_code)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON body of one request."""
        return self.request(method, path, **kwargs).json()

    def download(self, name: str, dest: Path) -> Path:
        """Stream ``/api/files/{name}`` into ``dest`` (a folder, or the file's path)."""
        target = dest / name if dest.is_dir() else dest
        partial = target.with_name(target.name + ".part")
        url = f"{self.url}/files/{name}"
        try:
            with self.http.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    detail = _detail(response)
                    code = response.status_code
                    text = (
                        refusal(url, code, detail, self.describe)
                        if code in (401, 403)
                        else f"{url} answered {code}: {detail}"
                    )
                    raise ClientError(text, code)
                with partial.open("wb") as out:
                    for chunk in response.iter_bytes(1 << 20):
                        out.write(chunk)
        except httpx.HTTPError as exc:
            partial.unlink(missing_ok=True)
            raise ClientError(f"cannot download {name} from {self.url}: {exc}") from exc
        partial.replace(target)  # never a half file under the real name
        return target

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()


def _detail(response: httpx.Response) -> str:
    """The API's problem detail (RFC 9457) or HAPI status message, else the status text."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no reason given"
    if isinstance(body, dict):
        for key in ("detail", "title"):
            if isinstance(body.get(key), str):
                return body[key]
        status = body.get("status")
        if isinstance(status, dict) and status.get("message"):
            return str(status["message"])
    return response.reason_phrase or "no reason given"


class Runs:
    """Notebook runs (``/api/runs``): submit one, look at it, list them, wait for one."""

    def __init__(self, api: Callable[[], Api]):
        self._api = api

    def submit(
        self, notebook: str, parameters: dict[str, Any] | None = None, *, force: bool = False
    ) -> dict[str, Any]:
        """Ask for a run of ``notebook``; the answer (202) carries its ``id`` and ``status``."""
        body = {"notebook": notebook, "parameters": parameters or {}, "force": force}
        return dict(self._api().json("POST", "/runs", json=body))

    def get(self, run_id: str | int) -> dict[str, Any]:
        """A run: status, progress, log tail, outputs and error."""
        return dict(self._api().json("GET", f"/runs/{run_id}"))

    def list(self, **filters: Any) -> Any:
        """Runs, filtered as ``GET /api/runs`` allows."""
        return self._api().json("GET", "/runs", params=_params(filters))

    def wait(self, run_id: str | int, timeout: float = 600.0, poll: float = 1.0) -> dict[str, Any]:
        """Poll the run until its status is final; ClientError if ``timeout`` s pass first."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.get(run_id)
            if run.get("status") in FINAL:
                return run
            if time.monotonic() >= deadline:
                raise ClientError(f"run {run_id} is still {run.get('status')} after {timeout:g} s")
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))


def _params(filters: dict[str, Any]) -> dict[str, Any]:
    """Query parameters: None dropped, dates and times in ISO form."""
    out = {}
    for key, value in filters.items():
        if value is None:
            continue
        out[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
