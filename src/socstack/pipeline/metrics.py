"""Prometheus metrics, computed from the catalog and the broker at each scrape.

- ``socstack_jobs{status}``: jobs by status;
- ``socstack_queue_depth{queue}``: messages waiting in each broker queue;
- ``socstack_job_latency_seconds``: time from a job's last input arriving to its end,
  over jobs that ended in the last day (a histogram);
- ``socstack_files{level,status}`` and ``socstack_events``: the archive and the event log.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator

from kombu import Connection
from prometheus_client.core import (
    CollectorRegistry,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import generate_latest
from sqlalchemy import func, select

from socstack.catalog.models import Event, File, Job, JobStatus, utcnow
from socstack.runtime import Runtime

__all__ = ["LATENCY_BUCKETS", "broker_depths", "queue_depths", "render"]

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
DepthProbe = Callable[[], dict[str, int]]


def queue_depths(connection: Connection, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (0 for a queue nobody declared yet).

    On Redis the lists are measured directly: with a key prefix, kombu's passive
    declare looks for the unprefixed key (EXISTS is not among the commands it prefixes)
    and would report every queue missing.
    """
    depths: dict[str, int] = {}
    channel = connection.channel()
    redis = connection.transport.driver_type == "redis"
    try:
        for queue in queues:
            try:
                if redis:
                    depths[queue] = int(channel.client.llen(queue))  # type: ignore[attr-defined]
                else:
                    reply = channel.queue_declare(queue=queue, passive=True)
                    depths[queue] = int(reply.message_count)
            except Exception:  # not declared yet: AMQP closes the channel, so open another
                depths[queue] = 0
                channel = connection.channel()
    finally:
        channel.close()
    return depths


def broker_depths(queues: tuple[str, ...]) -> DepthProbe:
    """A probe of the broker's queue lengths (cached for 5 s; {} if the broker is away)."""
    cache: dict[str, object] = {"at": 0.0, "value": {}}

    def probe() -> dict[str, int]:
        if time.monotonic() - float(cache["at"]) < 5:  # type: ignore[arg-type]
            return dict(cache["value"])  # type: ignore[call-overload]
        from socstack.pipeline.celery_app import celery_app

        depths: dict[str, int] = {}
        try:
            with celery_app().connection_for_read() as connection:
                depths = queue_depths(connection, queues)
        except Exception as exc:  # the broker is away: report no depths rather than fail
            logger.warning("metrics: broker unreachable: %s", exc)
        cache.update(at=time.monotonic(), value=depths)
        return depths

    return probe


class _Collector:
    def __init__(self, runtime: Runtime, depths: DepthProbe | None):
        self.runtime = runtime
        self.depths = depths

    def collect(self) -> Iterator[Metric]:
        with self.runtime.catalog.session() as session:
            statuses = dict(
                session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
            )
            files = session.execute(
                select(File.level, File.status, func.count()).group_by(File.level, File.status)
            ).all()
            events = session.scalar(select(func.max(Event.id))) or 0
            since = utcnow() - dt.timedelta(days=1)
            ended = session.execute(
                select(Job.finished_at, Job.input_arrival).where(
                    (Job.finished_at >= since) & Job.input_arrival.is_not(None)
                )
            ).all()
        jobs = GaugeMetricFamily("socstack_jobs", "Jobs by status", labels=["status"])
        for status in JobStatus:
            jobs.add_metric([status.value], statuses.get(status, 0))
        yield jobs
        archive = GaugeMetricFamily(
            "socstack_files", "Catalogued files", labels=["level", "status"]
        )
        for level, status, count in files:
            archive.add_metric([level, status.value], count)
        yield archive
        yield GaugeMetricFamily("socstack_events", "Events in the log (the last id)", value=events)
        latencies = [(end - start).total_seconds() for end, start in ended]
        buckets = [[str(b), sum(1 for v in latencies if v <= b)] for b in LATENCY_BUCKETS]
        buckets.append(["+Inf", len(latencies)])
        yield HistogramMetricFamily(
            "socstack_job_latency_seconds",
            "Time from a job's last input arriving to the job's end (jobs ended in the last day)",
            buckets=buckets,
            sum_value=sum(latencies),
        )
        if self.depths is not None:
            depth = GaugeMetricFamily(
                "socstack_queue_depth", "Messages waiting in the broker", labels=["queue"]
            )
            for queue, count in self.depths().items():
                depth.add_metric([queue], count)
            yield depth


def render(runtime: Runtime, depths: DepthProbe | None = None) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(runtime, depths))
    return generate_latest(registry)
