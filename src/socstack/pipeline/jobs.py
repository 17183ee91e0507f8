"""A job's life: claimed by one worker, kept alive by a heartbeat, finished with an outcome.

The catalog is the system of record, so broker messages may be lost or duplicated
without harm. A worker runs a job only after claiming it in one transaction. A job whose
heartbeat stopped lost its worker (killed, or its machine gone): the planner requeues
it, or times it out once its deadline has passed. Transient errors (catalog or storage
unavailable, or a rule raising :class:`TransientError`) requeue with backoff, up to the
rule's retries. Anything else fails the job with its traceback. Every failed or
timed-out job appends an event for notifiers.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import logging
import os
import threading
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import select

from socstack._exceptions import CatalogError, SocError, StorageError
from socstack.access.redact import RedactTokens
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event
from socstack.catalog.models import JOB_ENDED, Job, JobStatus, utcnow
from socstack.pipeline.runner import run_rule
from socstack.runtime import Runtime

#: The rule name of a notebook run's job (see :mod:`socstack.analysis.runs`).
RUN_RULE = "@run"
#: The pseudo-rule of a similarity search (socstack.mining.search).
SEARCH_RULE = "@search"


def on_demand_job(
    *, mission: str, rule: str, key: str, code_version: str, queue: str, timeout: int, reason: str
) -> Job:
    """A queued job someone asked for (a notebook run, a search), not one the planner made.

    Its partition is unique, so no other job supersedes it; ``key`` (its request's hash)
    is the dependency hash that lets the same request be found again.
    """
    return Job(
        mission=mission,
        rule=rule,
        partition=uuid.uuid4().hex,
        dependency_hash=key,
        status=JobStatus.QUEUED,
        inputs=[],
        missing=[],
        outputs=[],
        code_version=code_version,
        quality=1,
        queue=queue,
        timeout=timeout,
        reason=reason,
        attempts=0,
        queued_at=utcnow(),
    )


__all__ = [
    "Outcome",
    "TransientError",
    "claim",
    "execute_job",
    "finish",
    "on_demand_job",
    "requeue",
    "retry",
]

logger = logging.getLogger(__name__)

MAX_BACKOFF = 300.0


class TransientError(SocError):
    """Raised by mission code for a failure worth retrying (a service briefly away)."""


class Outcome(enum.StrEnum):
    """What one execution came to."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    RETRYING = "retrying"
    SKIPPED = "skipped"  # the rule made nothing for its partition, and said why
    NOT_CLAIMED = "not_claimed"  # not ours to run: finished already, or running elsewhere


@dataclass(frozen=True)
class Claim:
    """A job this worker now runs."""

    id: int
    mission: str
    rule: str
    partition: str
    attempts: int
    timeout: float


def _alive_here(worker: str | None) -> bool:
    """False if ``worker`` (host:pid) is a process of this host that no longer exists."""
    if not worker or ":" not in worker:
        return True
    host, _, pid = worker.rpartition(":")
    if host != os.uname().nodename or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(catalog: Catalog, job_id: int, worker: str, *, stale: float) -> Claim | None:
    """Take ``job_id`` for ``worker``, or None if it is done or alive elsewhere."""
    now = utcnow()
    with catalog.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status in JOB_ENDED or job.status == JobStatus.BLOCKED:
            return None
        if job.status == JobStatus.RUNNING and job.worker != worker:
            beat = job.heartbeat_at or job.started_at or now
            if (now - beat).total_seconds() < stale and _alive_here(job.worker):
                return None  # another worker runs it; if that worker dies, it is requeued
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = now
        job.heartbeat_at = now
        job.worker = worker
        job.retry_at = None
        return Claim(job.id, job.mission, job.rule, job.partition, job.attempts, job.timeout)


def heartbeat(catalog: Catalog, job_id: int, worker: str) -> bool:
    """Renew the claim; False if the job is no longer this worker's."""
    with catalog.transaction() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != JobStatus.RUNNING or job.worker != worker:
            return False
        job.heartbeat_at = utcnow()
        return True


@contextmanager
def beating(catalog: Catalog, job_id: int, worker: str, interval: float) -> Iterator[None]:
    """Renew the claim every ``interval`` seconds while the body runs."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                heartbeat(catalog, job_id, worker)
            except CatalogError as exc:
                logger.warning("job %s: heartbeat failed: %s", job_id, exc)

    thread = threading.Thread(target=loop, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 5)


def finish(
    catalog: Catalog,
    job_id: int,
    worker: str,
    status: JobStatus,
    *,
    outputs: list[str] | None = None,
    inputs: list[str] | None = None,
    error: str | None = None,
    log_tail: str | None = None,
    rule_seconds: float | None = None,
    reason: str | None = None,
) -> bool:
    """Record a job's end (only by the worker holding it); append its end's event.

    Failures and time-outs append ``job.failed``/``job.timed_out`` for notifiers; a
    skipped partition appends ``job.skipped`` with the rule's reason.
    """
    with catalog.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.worker != worker or job.status != JobStatus.RUNNING:
            return False
        job.status = status
        job.finished_at = utcnow()
        job.error = error
        job.log_tail = log_tail
        job.rule_seconds = rule_seconds
        if outputs is not None:
            job.outputs = outputs
        if inputs is not None:
            job.inputs = inputs
        if reason is not None:
            job.reason = reason[:255]
        if status in (JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.SKIPPED):
            append_event(
                catalog,
                session,
                f"job.{status.value}",
                f"{job.rule} {job.partition}",
                _payload(job),
            )
        return True


def requeue(catalog: Catalog, job_id: int, worker: str, *, delay: float, error: str) -> bool:
    """Put a job back for another attempt after ``delay`` seconds."""
    with catalog.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.worker != worker or job.status != JobStatus.RUNNING:
            return False
        job.status = JobStatus.QUEUED
        job.dispatched_at = None
        job.retry_at = utcnow() + dt.timedelta(seconds=delay)
        job.error = error
        return True


def _payload(job: Job) -> dict[str, object]:
    return {
        "job": job.id,
        "mission": job.mission,
        "rule": job.rule,
        "partition": job.partition,
        "status": job.status.value,
        "attempts": job.attempts,
        "error": ((job.error or "").strip().splitlines() or [""])[-1],
    }


class _Tail(logging.Handler):
    """The last lines logged while a job runs (kept on the job for the API)."""

    def __init__(self, lines: int = 200):
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=lines)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.addFilter(RedactTokens())  # the tail is served by the API: no token in it

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def _capturing(tail: _Tail) -> Iterator[None]:
    """Send INFO and above to ``tail`` without making the console any chattier.

    The root logger's level gates every handler, so it goes down to INFO for the job,
    while handlers without a level of their own get the old threshold explicitly.
    """
    root = logging.getLogger()
    level = root.level
    quieted = [h for h in root.handlers if h.level == logging.NOTSET]
    for handler in quieted:
        handler.setLevel(level)
    root.addHandler(tail)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(tail)
        root.setLevel(level)
        for handler in quieted:
            handler.setLevel(logging.NOTSET)


def _timeout_types() -> tuple[type[BaseException], ...]:
    try:
        from billiard.exceptions import SoftTimeLimitExceeded
    except ImportError:  # pragma: no cover - celery brings billiard
        return ()
    return (SoftTimeLimitExceeded,)


def execute_job(runtime: Runtime, job_id: int, *, worker: str) -> Outcome:
    """Claim and run one job; record how it ended."""
    settings = runtime.settings
    taken = claim(runtime.catalog, job_id, worker, stale=settings.job_stale)
    if taken is None:
        return Outcome.NOT_CLAIMED
    tail = _Tail()
    with _capturing(tail):
        if taken.rule == RUN_RULE:  # a notebook run: the same claim, heartbeat and reaping
            from socstack.analysis.runs import execute_run

            return execute_run(runtime, taken, worker, tail)
        if taken.rule == SEARCH_RULE:  # a similarity search, on queue mining
            from socstack.mining.search import execute_search

            return execute_search(runtime, taken, worker, tail)
        return _run(runtime, taken, worker, tail)


def _run(runtime: Runtime, taken: Claim, worker: str, tail: _Tail) -> Outcome:
    catalog = runtime.catalog
    mission = runtime.missions.missions.get(taken.mission)
    rule = mission.rules.get(taken.rule) if mission else None
    if mission is None or rule is None:
        finish(
            catalog,
            taken.id,
            worker,
            JobStatus.FAILED,
            error=f"rule {taken.mission}/{taken.rule} is no longer configured",
        )
        return Outcome.FAILED
    logger.info("job %s: %s for %s, attempt %d", taken.id, rule.id, taken.partition, taken.attempts)
    try:
        with beating(catalog, taken.id, worker, runtime.settings.job_heartbeat):
            result = run_rule(
                runtime, mission, rule, dt.date.fromisoformat(taken.partition), job_id=taken.id
            )
    except _timeout_types():
        finish(
            catalog,
            taken.id,
            worker,
            JobStatus.TIMED_OUT,
            error=f"timed out after {taken.timeout:g} s",
            log_tail="\n".join(tail.lines),
        )
        return Outcome.TIMED_OUT
    except (CatalogError, StorageError, TransientError) as exc:
        if taken.attempts <= rule.retries:
            delay = min(MAX_BACKOFF, 2.0**taken.attempts)
            logger.warning("job %s: %s; retrying in %.0f s", taken.id, exc, delay)
            requeue(catalog, taken.id, worker, delay=delay, error=traceback.format_exc())
            return Outcome.RETRYING
        return _failed(catalog, taken, worker, tail)
    except Exception:  # the rule's own failure, missing inputs, a rejected output: permanent
        return _failed(catalog, taken, worker, tail)
    outputs = [r.name for r in result.archived] + result.current
    finish(
        catalog,
        taken.id,
        worker,
        JobStatus.SKIPPED if result.skipped is not None else JobStatus.SUCCEEDED,
        outputs=outputs,
        inputs=result.inputs,
        log_tail="\n".join(tail.lines),
        rule_seconds=result.seconds_in_rule,
        reason=result.skipped,
    )
    return Outcome.SKIPPED if result.skipped is not None else Outcome.SUCCEEDED


def _failed(catalog: Catalog, taken: Claim, worker: str, tail: _Tail) -> Outcome:
    """Record the exception being handled as the job's permanent failure."""
    finish(
        catalog,
        taken.id,
        worker,
        JobStatus.FAILED,
        error=traceback.format_exc(),
        log_tail="\n".join(tail.lines),
    )
    return Outcome.FAILED


def retry(catalog: Catalog, job_id: int) -> Job:
    """Queue a failed or timed-out job again (its attempts start over)."""
    from socstack._exceptions import NotFoundError

    with catalog.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        if job.status not in (JobStatus.FAILED, JobStatus.TIMED_OUT):
            raise SocError(
                f"job {job_id} is {job.status.value}; only failed or timed-out jobs are retried"
            )
        job.status = JobStatus.QUEUED
        job.attempts = 0
        job.queued_at = utcnow()
        job.dispatched_at = None
        job.retry_at = None
        job.finished_at = None
        job.reason = "retried by an operator"
        return job


def job_rows(catalog: Catalog, ids: list[int]) -> list[Job]:
    """Jobs by id (for tests and the CLI)."""
    with catalog.session() as session:
        return list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))
