"""Prometheus metrics, computed from the catalog and the broker at each scrape.

Every metric about a mission's data or work carries a ``mission`` label, so one
socstack serving several missions shows each one's backlog, failures and latency:

- ``socstack_jobs{mission,status}``: jobs by status (every status of every loaded
  mission, zeros included);
- ``socstack_job_latency_seconds{mission}``: time from a job's last input arriving to
  its end, over jobs that ended in the last day (a histogram);
- ``socstack_files{mission,level,status}``: the archive;
- ``socstack_queue_depth{queue}``: messages waiting in each broker queue. A queue is
  shared by every mission's rules of that kind, so it has no mission; the queued jobs
  of each mission are ``socstack_jobs{status="queued"}``;
- ``socstack_events``: the last id of the event log (one log for all missions);
- what a placement is priced by (``socstack placement``): each web service's requests,
  bytes sent and busy time and the process's CPU (:mod:`socstack.usage`), the seconds
  jobs ran per queue over the last day, and the archive's bytes.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

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
from socstack.config import Settings
from socstack.runtime import Runtime
from socstack.usage import METER

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


def broker_depths(settings: Settings) -> DepthProbe:
    """A probe of the broker's queue lengths (cached for 5 s; {} if the broker is away).

    The broker is the one ``settings`` name (the app's runtime's), not the process's
    environment: an app built on other settings than the environment's reports its own
    queues.
    """
    from socstack.pipeline.celery_app import QUEUES, make_celery, queue_name

    queues = tuple(queue_name(settings, q) for q in QUEUES)
    cache: dict[str, Any] = {"at": 0.0, "value": {}, "app": None}

    def probe() -> dict[str, int]:
        if time.monotonic() - cache["at"] < 5:
            return dict(cache["value"])
        depths: dict[str, int] = {}
        try:
            if cache["app"] is None:
                cache["app"] = make_celery(settings)
            with cache["app"].connection_for_read() as connection:
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
            statuses = session.execute(
                select(Job.mission, Job.status, func.count()).group_by(Job.mission, Job.status)
            ).all()
            files = session.execute(
                select(File.mission, File.level, File.status, func.count()).group_by(
                    File.mission, File.level, File.status
                )
            ).all()
            events = session.scalar(select(func.max(Event.id))) or 0
            since = utcnow() - dt.timedelta(days=1)
            ended = session.execute(
                select(Job.mission, Job.finished_at, Job.input_arrival).where(
                    (Job.finished_at >= since) & Job.input_arrival.is_not(None)
                )
            ).all()
        # Every loaded mission shows every status (zeros too), so a dashboard's series
        # exist from the start; a mission found only in the catalog is shown as well.
        missions = sorted({m.name for m in self.runtime.missions} | {m for m, _, _ in statuses})
        counts = {(mission, status): n for mission, status, n in statuses}
        jobs = GaugeMetricFamily("socstack_jobs", "Jobs by status", labels=["mission", "status"])
        for mission in missions:
            for status in JobStatus:
                jobs.add_metric([mission, status.value], counts.get((mission, status), 0))
        yield jobs
        archive = GaugeMetricFamily(
            "socstack_files", "Catalogued files", labels=["mission", "level", "status"]
        )
        for mission, level, status, count in files:
            archive.add_metric([mission, level, status.value], count)
        yield archive
        yield GaugeMetricFamily("socstack_events", "Events in the log (the last id)", value=events)
        latency = HistogramMetricFamily(
            "socstack_job_latency_seconds",
            "Time from a job's last input arriving to the job's end (jobs ended in the last day)",
            labels=["mission"],
        )
        latencies: dict[str, list[float]] = {mission: [] for mission in missions}
        for mission, end, start in ended:
            latencies.setdefault(mission, []).append((end - start).total_seconds())
        for mission, values in sorted(latencies.items()):
            buckets = [[str(b), sum(1 for v in values if v <= b)] for b in LATENCY_BUCKETS]
            buckets.append(["+Inf", len(values)])
            latency.add_metric([mission], buckets, sum(values))
        yield latency
        if self.depths is not None:
            depth = GaugeMetricFamily(
                "socstack_queue_depth",
                "Messages waiting in the broker (a queue is shared by every mission)",
                labels=["queue"],
            )
            for queue, count in self.depths().items():
                depth.add_metric([queue], count)
            yield depth


class _Resources:
    """What the work and the archive use, for pricing a placement (``socstack placement``).

    ``socstack_job_run_seconds_day{queue}``: seconds jobs of each queue ran, over the jobs
    that ended in the last day (a worker's core-hours, whichever process ran them);
    ``socstack_archive_bytes{mission,level}``: what the archive stores, every version.
    """

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        since = utcnow() - dt.timedelta(days=1)
        with self.runtime.catalog.session() as session:
            runs = session.execute(
                select(Job.queue, Job.started_at, Job.finished_at).where(
                    (Job.finished_at >= since) & Job.started_at.is_not(None)
                )
            ).all()
            stored = session.execute(
                select(File.mission, File.level, func.sum(File.size)).group_by(
                    File.mission, File.level
                )
            ).all()
        seconds: dict[str, float] = {}
        for queue, began, ended in runs:
            seconds[queue] = seconds.get(queue, 0.0) + max(0.0, (ended - began).total_seconds())
        ran = GaugeMetricFamily(
            "socstack_job_run_seconds_day",
            "Seconds jobs ran, over the jobs that ended in the last day",
            labels=["queue"],
        )
        for queue, total in sorted(seconds.items()):
            ran.add_metric([queue], total)
        yield ran
        archive = GaugeMetricFamily(
            "socstack_archive_bytes", "Bytes the archive stores", labels=["mission", "level"]
        )
        for mission, level, size in stored:
            archive.add_metric([mission, level], int(size or 0))
        yield archive


def render(runtime: Runtime, depths: DepthProbe | None = None) -> bytes:
    """The metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(runtime, depths))
    registry.register(_Resources(runtime))
    registry.register(METER)
    return generate_latest(registry)
