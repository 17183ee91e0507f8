"""How socstack asks a peer: named, at a polite pace, and patient with its troubles.

The harvester reads peers through the project's one HAPI client
(:class:`socstack.client.hapi.HapiServer`); this transport under its HTTP client is what
makes it a good citizen of someone else's server:

- every request says who asks (``User-Agent: socstack/VERSION (+contact)``), so the
  peer's operator can reach this one;
- at most ``concurrency`` requests at once and ``rate`` a second, per peer;
- ``429`` and ``503`` are waited out for the ``Retry-After`` they give (capped), other
  ``5xx`` and connection troubles and time-outs are tried again with exponential
  backoff and jitter, up to ``retries`` times; then the peer's answer stands.

A stall inside a response body (the peer stops sending) is the HTTP client's read
time-out: the day fails with that reason and a later pass fetches it again.
"""

from __future__ import annotations

import email.utils
import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from functools import lru_cache

import httpx

from socstack import __version__

__all__ = ["PoliteTransport", "user_agent"]

logger = logging.getLogger(__name__)

#: The longest wait a Retry-After may ask of a harvest (a peer asking for more is
#: tried again on the next pass instead).
MAX_RETRY_AFTER = 120.0
_RETRIED = frozenset({429, 500, 502, 503, 504})


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's roots), built once per process.

    Building it reads and parses the CA bundle, 30 to 50 ms of every pass here (a few
    percent of a month's harvest from a fast peer); one context serves every
    connection and thread.
    """
    return httpx.create_ssl_context()


def user_agent(contact: str) -> str:
    """``socstack/VERSION (+contact)``: who asks, and how to reach them."""
    return f"socstack/{__version__} (+{contact})" if contact else f"socstack/{__version__}"


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class PoliteTransport(httpx.BaseTransport):
    """An httpx transport that paces, identifies and retries, for one peer."""

    def __init__(
        self,
        *,
        rate: float,
        concurrency: int,
        retries: int,
        contact: str = "",
        inner: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: float = 0.5,
    ):
        self.inner = inner or httpx.HTTPTransport(verify=_tls_context())
        self.interval = 1.0 / rate
        self.retries = retries
        self.agent = user_agent(contact)
        self.sleep = sleep
        self.backoff = backoff
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next = 0.0
        #: Requests sent (tries included), for tests and the harvest's report.
        self.sent = 0
        #: Whether a data response carried Last-Modified (the peer answers conditionals).
        self.saw_last_modified = False

    def _pace(self) -> None:
        with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            self.sleep(wait)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` when its turn comes; try again while the peer says so."""
        request.headers["User-Agent"] = self.agent
        attempt = 0
        while True:
            with self._slots:
                self._pace()
                self.sent += 1
                try:
                    response = self.inner.handle_request(request)
                except (httpx.TimeoutException, httpx.NetworkError) as exc:
                    if attempt >= self.retries:
                        raise
                    wait = self._backoff(attempt)
                    logger.info("harvest: %s: %s; again in %.1f s", request.url, exc, wait)
                else:
                    if response.status_code not in _RETRIED or attempt >= self.retries:
                        if request.url.path.endswith("/data") and (
                            response.status_code in (200, 304)
                            and "last-modified" in response.headers
                        ):
                            self.saw_last_modified = True
                        return response
                    asked = _retry_after(response.headers.get("Retry-After"))
                    response.close()
                    if asked is not None and asked > MAX_RETRY_AFTER:
                        return httpx.Response(
                            response.status_code, headers=response.headers, request=request
                        )
                    wait = asked if asked is not None else self._backoff(attempt)
                    logger.info(
                        "harvest: %s answered %d; again in %.1f s",
                        request.url,
                        response.status_code,
                        wait,
                    )
            self.sleep(wait)
            attempt += 1

    def _backoff(self, attempt: int) -> float:
        return self.backoff * 2**attempt * (0.5 + random.random())  # noqa: S311 - jitter

    def close(self) -> None:
        """Close the connections to the peer."""
        self.inner.close()
