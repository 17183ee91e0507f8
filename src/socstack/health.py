"""Health checks for containers: ``socstack health`` behind every image's HEALTHCHECK.

Web services are checked over HTTP at their own paths (what the ingress and a user
see); workers and the planner have no port, so their check is that the broker (and, if
asked, the catalog) answers from inside the container, with the container's settings.
A check either passes or raises :class:`~socstack._exceptions.SocError` with one line
saying what did not answer, which the CLI prints and turns into exit status 1.

Slim images have no curl, and an inline ``python -c`` would hide the reason a check
failed; one typed command serves Compose, ``docker run`` and Kubernetes exec probes.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit

from socstack._exceptions import CatalogError, SocError
from socstack.config import Settings
from socstack.runtime import Runtime

__all__ = ["check_broker", "check_catalog", "check_url"]


def check_url(url: str, *, timeout: float) -> str:
    """GET ``url`` and require a 2xx answer; return a short description.

    Raises
    ------
    SocError
        If the URL is not http(s), does not answer within ``timeout``, or answers
        with another status.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise SocError(f"{url}: only http and https URLs can be checked")
    request = urllib.request.Request(url, headers={"User-Agent": "socstack-health"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raise SocError(f"{url} answered {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SocError(f"{url} did not answer: {reason}") from exc
    if not 200 <= status < 300:
        raise SocError(f"{url} answered {status}")
    return f"{url} answered {status}"


def check_catalog(runtime: Runtime) -> str:
    """The catalog database answers a trivial query."""
    try:
        runtime.catalog.ping()
    except CatalogError as exc:
        raise SocError(f"catalog did not answer: {exc}") from exc
    return "catalog answered"


def check_broker(settings: Settings, *, timeout: float) -> str:
    """The Celery broker of ``SOC_BROKER_URL`` accepts a connection."""
    from kombu import Connection

    from socstack.pipeline.broker import celery_broker

    url, transport = celery_broker(settings.broker_url)
    connection = Connection(url, transport=transport, connect_timeout=timeout)
    try:
        connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:  # every transport raises its own; the reason is what counts
        raise SocError(f"broker {connection.as_uri()} did not answer: {exc}") from exc
    finally:
        connection.release()
    return f"broker {connection.as_uri()} answered"
