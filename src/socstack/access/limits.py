"""Failed authentications per client: past a limit a minute, the client waits.

Past ``SOC_AUTH_FAILURES_PER_MINUTE`` failures in the last minute a client gets
:class:`TooManyFailures` (HTTP 429 with ``Retry-After``), whatever it sends, until the
oldest of them is a minute old: guessing tokens is slow, and a broken client is told.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from socstack._exceptions import TooManyFailures

__all__ = ["FailureLimiter"]

_WINDOW = 60.0


class FailureLimiter:
    """Failed authentications per client over the last minute."""

    def __init__(self, per_minute: int):
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> None:
        """Raise :class:`TooManyFailures` if ``client`` failed too often lately."""
        now = time.monotonic()
        with self._lock:
            recent = self._failures.get(client)
            if recent is None:
                return
            while recent and now - recent[0] > _WINDOW:
                recent.popleft()
            if len(recent) >= self.per_minute:
                wait = int(_WINDOW - (now - recent[0])) + 1
                raise TooManyFailures(
                    f"too many failed authentications; try again in {wait} s", retry_after=wait
                )

    def failed(self, client: str) -> None:
        """Count one failure of ``client``."""
        with self._lock:
            if len(self._failures) > 10_000:
                self._failures.clear()
            self._failures.setdefault(client, deque()).append(time.monotonic())
