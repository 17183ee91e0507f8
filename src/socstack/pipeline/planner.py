"""The planner: from ``file.archived`` events to jobs, and from jobs to the broker.

It follows the event log with a cursor kept in the catalog, so no arrival is ever
missed, even when the planner or the broker was down when the file arrived. For each
archived file it finds the rules with that product as an input, works out the partitions
the file touches, and resolves each partition's inputs:

- a partition missing a required input gets (or keeps) one ``blocked`` job listing what
  it waits for, re-evaluated whenever an input of the rule arrives;
- a complete partition gets a job unless one with the same rule, partition and
  dependency hash exists, so a duplicate or replayed event never makes a second job;
- a calibration (an input with a ``latest_valid`` window) re-plans every partition it is
  valid for.

It then dispatches queued jobs to Celery (again, later, if no worker took them) and
reaps jobs whose worker stopped beating: timed out past their deadline, else requeued.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socstack._exceptions import SocError
from socstack.catalog.events import append_event
from socstack.catalog.models import (
    BLOCKED_HASH,
    Event,
    File,
    FileStatus,
    Job,
    JobStatus,
    PlannerState,
    utcnow,
)
from socstack.catalog.queries import events_after
from socstack.mission.model import Mission, Rule, RuleInput
from socstack.pipeline.inputs import dependency_hash, resolve_inputs
from socstack.runtime import Runtime

__all__ = ["PlanResult", "Planner"]

logger = logging.getLogger(__name__)

PLANNER = "default"
#: Passes an event may fail before the planner records it and moves on.
MAX_TRIES = 5
#: Seconds between warnings that the broker is unreachable (one per pass would flood).
BROKER_WARNING_EVERY = 60.0
Sender = Callable[[Job], None]


def made_by(mission: Mission) -> dict[str, str]:
    """The rule that makes each product the mission's rules output."""
    return {o.product: r.id for r in mission.rules.values() for o in r.outputs}


def upstream_rules(mission: Mission, rule_id: str) -> dict[str, set[int]]:
    """Every rule upstream of ``rule_id``, with the day offsets whose output it reads.

    Upstream means making its inputs, or their inputs, and so on; offsets add up along
    the way (a previous-day input of a previous-day input is two days back).
    """
    makers = made_by(mission)
    found: dict[str, set[int]] = {}

    def visit(current: str, shift: int, path: frozenset[str]) -> None:
        for item in mission.rules[current].inputs:
            producer = makers.get(item.product)
            if producer is None or producer in path or item.window.kind != "days":
                continue
            for k in range(item.window.start, item.window.stop + 1):
                if shift + k not in found.setdefault(producer, set()):
                    found[producer].add(shift + k)
                    visit(producer, shift + k, path | {producer})

    visit(rule_id, 0, frozenset({rule_id}))
    return found


@dataclass
class PlanResult:
    """What planning one partition did."""

    job: Job | None
    created: bool


class Planner:
    """Plans jobs from events, dispatches them, and reaps lost ones."""

    def __init__(self, runtime: Runtime, send: Sender | None = None, *, name: str = PLANNER):
        self.runtime = runtime
        self.catalog = runtime.catalog
        self.send = send
        self.name = name
        self._last_reap = 0.0
        self._broker_warned = -BROKER_WARNING_EVERY
        self._upstream: dict[tuple[str, str], dict[str, set[int]]] = {}
        self._makers: dict[str, dict[str, str]] = {}  # mission -> product -> making rule
        self._failures: dict[int, int] = {}

    # -- the loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Plan, dispatch and reap until ``stop`` is set."""
        interval = self.runtime.settings.planner_interval
        logger.info("planner %s running", self.name)
        while not stop.is_set():
            try:
                busy = self.step()
            except SocError as exc:
                logger.error("planner: %s", exc)
                busy = 0
            except Exception:  # keep planning: one bad pass must not stop the pipeline
                logger.exception("planner pass failed")
                busy = 0
            if not busy:
                stop.wait(interval)

    def step(self) -> int:
        """One pass; returns how many events and jobs it handled."""
        handled = self.plan_events()
        handled += self.dispatch()
        if time.monotonic() - self._last_reap > 1.0:
            handled += self.reap()
            self._last_reap = time.monotonic()
        return handled

    # -- planning ---------------------------------------------------------------------------
    def _cursor(self) -> int:
        with self.catalog.session() as session:
            return self._cursor_in(session)

    def _cursor_in(self, session: Session) -> int:
        state = session.get(PlannerState, self.name)
        return state.cursor if state else 0

    def plan_events(self, limit: int = 200) -> int:
        """Plan the events after the cursor; each event and its cursor step is one unit.

        An event that fails to plan is tried again on later passes; after
        :data:`MAX_TRIES` the planner moves past it and records a ``planner.failed``
        event naming it, rather than stalling every arrival behind it.
        """
        cursor = self._cursor()
        with self.catalog.session() as session:
            events = events_after(session, cursor, limit=limit)
        for event in events:
            try:
                with self.catalog.transaction() as session:
                    if event.kind == "file.archived":
                        self._plan_file(session, event)
                    self._advance(session, event.id)
            except SocError:
                raise  # the catalog is away: nothing to skip, try again later
            except Exception as exc:
                tries = self._failures.get(event.id, 0) + 1
                self._failures[event.id] = tries
                if tries < MAX_TRIES:
                    raise
                logger.exception("planner: skipping event %s after %d failures", event.id, tries)
                with self.catalog.transaction() as session:
                    payload = {"event": event.id, "kind": event.kind, "error": repr(exc)[:500]}
                    append_event(self.catalog, session, "planner.failed", event.subject, payload)
                    self._advance(session, event.id)
        return len(events)

    def _advance(self, session: Session, event_id: int) -> None:
        state = session.get(PlannerState, self.name)
        if state is None:
            session.add(PlannerState(name=self.name, cursor=event_id))
        else:
            state.cursor = event_id
            state.updated_at = utcnow()

    def _plan_file(self, session: Session, event: Event) -> None:
        payload: dict[str, Any] = event.payload
        mission = self.runtime.missions.missions.get(str(payload.get("mission")))
        if mission is None or payload.get("status") != FileStatus.ARCHIVED.value:
            return  # another mission's file, or a late delivery of an older version
        product = str(payload["product"])
        day = dt.date.fromisoformat(str(payload["partition"]))
        for rule in mission.rules.values():
            for item in rule.inputs:
                if item.product != product:
                    continue
                for partition in self._partitions(session, mission, rule, item, day):
                    self.plan_partition(
                        session,
                        mission,
                        rule,
                        partition,
                        reason=f"{payload['name']} arrived",
                        new=item.triggers,
                    )

    def _partitions(
        self, session: Session, mission: Mission, rule: Rule, item: RuleInput, day: dt.date
    ) -> list[dt.date]:
        """The partitions of ``rule`` that a file of ``item``'s product for ``day`` touches."""
        if item.window.kind == "days":
            return [
                day - dt.timedelta(days=k) for k in range(item.window.start, item.window.stop + 1)
            ][::-1]
        # A calibration is valid from its day until its end of validity, if it has one,
        # and holds no day that a later calibration valid at least as long holds.
        this = session.execute(
            select(File.stop).where(
                (File.mission == mission.name)
                & (File.product == item.product)
                & (File.status == FileStatus.ARCHIVED)
                & (File.partition == day.isoformat())
            )
        ).first()
        until = this.stop if this is not None else None
        later = (
            (File.mission == mission.name)
            & (File.product == item.product)
            & (File.status == FileStatus.ARCHIVED)
            & (File.partition > day.isoformat())
        )
        later &= (
            File.stop.is_(None) if until is None else or_(File.stop.is_(None), File.stop >= until)
        )
        following = session.scalar(select(func.min(File.partition)).where(later))
        daily = [i.product for i in rule.inputs if i.window.kind == "days"]
        if not daily:
            return []
        query = select(File.partition).where(
            (File.mission == mission.name)
            & (File.product.in_(daily))
            & (File.status == FileStatus.ARCHIVED)
            & (File.partition >= day.isoformat())
        )
        if following is not None:
            query = query.where(File.partition < following)
        if until is not None:
            query = query.where(File.partition < until.date().isoformat())
        return sorted({dt.date.fromisoformat(p) for p in session.scalars(query.distinct())})

    def plan_partition(
        self,
        session: Session,
        mission: Mission,
        rule: Rule,
        partition: dt.date,
        *,
        reason: str,
        new: bool = True,
    ) -> PlanResult:
        """Make sure ``rule`` has the right job for ``partition`` (in ``session``).

        ``new`` False only updates an existing blocked job (non-triggering inputs).
        """
        if not any(mission.expects(o.product, partition) for o in rule.outputs):
            return PlanResult(None, False)  # outside the instrument's span: nothing to wait for
        where = (
            (Job.mission == mission.name)
            & (Job.rule == rule.id)
            & (Job.partition == partition.isoformat())
        )
        resolved = resolve_inputs(session, mission, rule, partition)
        blocked = session.scalar(select(Job).where(where & (Job.dependency_hash == BLOCKED_HASH)))
        present = [f.name for f in resolved.all_files()]
        if not resolved.complete:
            if blocked is None:
                if not new:
                    return PlanResult(None, False)
                blocked = self._job(
                    mission, rule, partition, BLOCKED_HASH, JobStatus.BLOCKED, reason=reason
                )
                session.add(blocked)
            blocked.missing = resolved.missing
            blocked.inputs = present
            return PlanResult(blocked, blocked.id is None)
        digest = dependency_hash(rule, resolved)
        existing = session.scalar(select(Job).where(where & (Job.dependency_hash == digest)))
        if existing is not None:
            if blocked is not None:
                session.delete(blocked)
            return PlanResult(existing, False)
        if blocked is None and not new:
            return PlanResult(None, False)
        job = blocked or self._job(
            mission, rule, partition, digest, JobStatus.QUEUED, reason=reason
        )
        job.dependency_hash = digest
        job.status = JobStatus.QUEUED
        job.missing = []
        job.inputs = present
        job.reason = reason
        job.queued_at = utcnow()
        job.dispatched_at = None
        arrivals = [f.ingested_at for f in resolved.all_files() if f.ingested_at]
        job.input_arrival = max(arrivals) if arrivals else None
        if blocked is None:
            session.add(job)
        try:
            session.flush()
        except IntegrityError:  # pragma: no cover - one planner at a time makes this rare
            raise SocError(f"job {rule.id} {partition} was planned concurrently") from None
        return PlanResult(job, True)

    @staticmethod
    def _job(
        mission: Mission,
        rule: Rule,
        partition: dt.date,
        digest: str,
        status: JobStatus,
        *,
        reason: str,
    ) -> Job:
        return Job(
            mission=mission.name,
            rule=rule.id,
            partition=partition.isoformat(),
            dependency_hash=digest,
            status=status,
            inputs=[],
            missing=[],
            outputs=[],
            code_version=rule.code_version,
            quality=rule.quality,
            queue=rule.queue,
            timeout=rule.timeout,
            reason=reason,
            attempts=0,
        )

    # -- dispatching --------------------------------------------------------------------------
    def dispatch(self, limit: int = 500) -> int:
        """Send queued jobs no worker has taken (again, after ``redispatch_after``).

        A job waits while a job of a rule upstream of it (making its inputs, or their
        inputs) is queued or running for the days it reads: that job's output will plan
        it again with the new input, and running it now would make a version that is
        superseded minutes later. A job replaced by a newer one for the same rule and
        day before it ran ends ``superseded``.
        """
        if self.send is None:
            return 0
        now = utcnow()
        again = now - dt.timedelta(seconds=self.runtime.settings.redispatch_after)
        due = (
            (Job.status == JobStatus.QUEUED)
            & or_(Job.dispatched_at.is_(None), Job.dispatched_at < again)
            & or_(Job.retry_at.is_(None), Job.retry_at <= now)
        )
        with self.catalog.session() as session:
            candidates = session.execute(
                select(Job.id, Job.mission, Job.rule, Job.partition).where(due).order_by(Job.id)
            ).all()
            if not candidates:
                return 0
            # Newer jobs of the candidates' rules and days: they replace the candidates.
            newest = {
                (m, r, p): int(i)
                for m, r, p, i in session.execute(
                    select(Job.mission, Job.rule, Job.partition, func.max(Job.id))
                    .where(
                        Job.status.in_(
                            (
                                JobStatus.QUEUED,
                                JobStatus.RUNNING,
                                JobStatus.SUCCEEDED,
                                JobStatus.SKIPPED,
                            )
                        )
                        & (Job.id > candidates[0].id)
                    )
                    .group_by(Job.mission, Job.rule, Job.partition)
                )
            }
            # Work that will remake inputs: jobs queued or running, then (read after them,
            # so a job that ends in between is seen here) outputs not planned yet.
            busy: set[tuple[str, str, str]] = {
                (m, r, p)
                for m, r, p in session.execute(
                    select(Job.mission, Job.rule, Job.partition).where(
                        Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING))
                    )
                )
            }
            busy |= self._unplanned_outputs(session)
        chosen: list[int] = []
        outdated: list[int] = []
        for c in candidates:
            if newest.get((c.mission, c.rule, c.partition), 0) > c.id:
                outdated.append(c.id)
            elif not self._upstream_busy(c.mission, c.rule, c.partition, busy):
                chosen.append(c.id)
            if len(chosen) >= limit:
                break
        if outdated:
            self._supersede(outdated, newest)
        return self._send(chosen, now)

    def _unplanned_outputs(self, session: Session) -> set[tuple[str, str, str]]:
        """(mission, making rule, partition) of archived files the planner has not read."""
        found = set()
        cursor = self._cursor_in(session)
        for event in events_after(session, cursor, limit=10_000, kind="file.archived"):
            payload: dict[str, Any] = event.payload or {}
            mission = self.runtime.missions.missions.get(str(payload.get("mission")))
            if mission is None:
                continue
            if mission.name not in self._makers:
                self._makers[mission.name] = made_by(mission)
            rule_id = self._makers[mission.name].get(str(payload.get("product")))
            if rule_id is not None:
                found.add((mission.name, rule_id, str(payload.get("partition"))))
        return found

    def _send(self, ids: list[int], now: dt.datetime) -> int:
        assert self.send is not None  # noqa: S101 - checked by dispatch
        with self.catalog.session() as session:
            jobs = list(session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))
        sent: list[int] = []
        for job in jobs:
            try:
                self.send(job)
            except Exception as exc:  # the broker is away: try again next pass
                quiet = time.monotonic() - self._broker_warned < BROKER_WARNING_EVERY
                if not quiet:
                    self._broker_warned = time.monotonic()
                logger.log(
                    logging.DEBUG if quiet else logging.WARNING,
                    "planner: cannot send job %s to the broker (%s); jobs wait in the catalog",
                    job.id,
                    exc,
                )
                break
            sent.append(job.id)
        if sent:
            with self.catalog.transaction() as session:
                for job in session.scalars(select(Job).where(Job.id.in_(sent))):
                    if job.status == JobStatus.QUEUED:
                        job.dispatched_at = now
        return len(sent)

    def _supersede(self, ids: list[int], newest: dict[tuple[str, str, str], int]) -> None:
        with self.catalog.transaction() as session:
            for job in session.scalars(select(Job).where(Job.id.in_(ids))):
                if job.status != JobStatus.QUEUED:
                    continue
                job.status = JobStatus.SUPERSEDED
                job.finished_at = utcnow()
                job.reason = f"replaced by job {newest[(job.mission, job.rule, job.partition)]}"
                logger.info("job %s (%s %s): %s", job.id, job.rule, job.partition, job.reason)

    def _upstream_busy(
        self, mission_name: str, rule_id: str, partition: str, busy: set[tuple[str, str, str]]
    ) -> bool:
        mission = self.runtime.missions.missions.get(mission_name)
        if mission is None or rule_id not in mission.rules:
            return False
        day = dt.date.fromisoformat(partition)
        key = (mission_name, rule_id)
        if key not in self._upstream:
            self._upstream[key] = upstream_rules(mission, rule_id)
        for upstream, offsets in self._upstream[key].items():
            for k in offsets:
                if (mission_name, upstream, (day + dt.timedelta(days=k)).isoformat()) in busy:
                    return True
        return False

    # -- reaping ------------------------------------------------------------------------------
    def reap(self) -> int:
        """Requeue running jobs whose worker stopped beating; time out those past deadline."""
        now = utcnow()
        stale = now - dt.timedelta(seconds=self.runtime.settings.job_stale)
        reaped = 0
        with self.catalog.transaction() as session:
            lost = list(
                session.scalars(
                    select(Job).where(
                        (Job.status == JobStatus.RUNNING) & (Job.heartbeat_at < stale)
                    )
                )
            )
            for job in lost:
                started = job.started_at or now
                if (now - started).total_seconds() > job.timeout:
                    job.status = JobStatus.TIMED_OUT
                    job.finished_at = now
                    job.error = (
                        f"timed out: no heartbeat from {job.worker} and past {job.timeout:g} s"
                    )
                    payload = {
                        "job": job.id,
                        "rule": job.rule,
                        "partition": job.partition,
                        "status": "timed_out",
                    }
                    append_event(
                        self.catalog,
                        session,
                        "job.timed_out",
                        f"{job.rule} {job.partition}",
                        payload,
                    )
                else:
                    logger.warning("job %s lost its worker %s; requeued", job.id, job.worker)
                    job.status = JobStatus.QUEUED
                    job.dispatched_at = None
                    job.reason = f"requeued: worker {job.worker} stopped"
                reaped += 1
        return reaped

    def forget_blocked(self, mission: Mission, rule: Rule) -> int:
        """Drop the blocked placeholders of a rule (after its configuration changed)."""
        with self.catalog.transaction() as session:
            result = session.execute(
                delete(Job).where(
                    (Job.mission == mission.name)
                    & (Job.rule == rule.id)
                    & (Job.status == JobStatus.BLOCKED)
                )
            )
            return int(result.rowcount or 0)
