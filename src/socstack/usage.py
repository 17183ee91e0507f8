"""What each web service of this process used: requests, bytes sent, time busy, CPU.

Why: moving a service to a cloud is priced by what it uses (core-hours, bytes sent
out), and the deployment measures that itself rather than guessing: ``/metrics``
carries these counters and ``socstack placement`` turns them into a monthly cost.
They count since the process started (``socstack_process_start_time_seconds``); a
process serving several services (``socstack up``) shares its CPU time among them in
proportion to the time each spent on requests.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from threading import Lock

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["METER", "Metered", "UsageMeter"]


@dataclass
class Use:
    """One service's use so far."""

    requests: int = 0
    sent: int = 0  # response body bytes, as sent (compressed when gzipped)
    busy: float = 0.0  # seconds from a request's arrival to its response's end, summed


class UsageMeter:
    """Counters of every metered service in this process (one meter per process)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._use: dict[str, Use] = {}
        self.started = time.time()

    def add(self, service: str, sent: int, seconds: float) -> None:
        """Count one request of ``service``."""
        with self._lock:
            use = self._use.setdefault(service, Use())
            use.requests += 1
            use.sent += sent
            use.busy += seconds

    def snapshot(self) -> dict[str, Use]:
        """A copy of the counters, by service."""
        with self._lock:
            return {name: Use(u.requests, u.sent, u.busy) for name, u in self._use.items()}

    def collect(self) -> Iterator[Metric]:
        """The counters in Prometheus' terms (a collector for a registry)."""
        use = self.snapshot()
        families = (
            ("socstack_http_requests", "Requests served", lambda u: u.requests),
            ("socstack_http_sent_bytes", "Response bytes sent", lambda u: u.sent),
            ("socstack_http_busy_seconds", "Seconds spent on requests", lambda u: u.busy),
        )
        for name, text, value in families:
            family = CounterMetricFamily(name, text, labels=["service"])
            for service in sorted(use):
                family.add_metric([service], value(use[service]))
            yield family
        times = os.times()
        yield CounterMetricFamily(
            "socstack_process_cpu_seconds",
            "CPU seconds of this process (user and system)",
            value=times.user + times.system,
        )
        yield GaugeMetricFamily(
            "socstack_process_start_time_seconds",
            "When this process started (seconds since 1970): what the counters count since",
            value=self.started,
        )


#: This process's meter.
METER = UsageMeter()


class Metered:
    """An ASGI app counted as ``service``: each HTTP request's bytes and time."""

    def __init__(self, app: ASGIApp, service: str, meter: UsageMeter = METER):
        self.app = app
        self.service = service
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, counting what its response sent and how long it took."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        sent = 0

        async def counting(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            self.meter.add(self.service, sent, time.perf_counter() - began)
