"""Reprocessing: re-plan a selection of rules over a date range.

Only jobs whose dependency hash changed run: a rule's code version bumped in the YAML,
a newer input version, or a new calibration. Everything else finds its job made already.
Only the selected rules are planned; the levels after them follow by themselves, because
their new outputs are archived through the same path and plan the next rules through the
event log. So a mission-year reprocessing is one call.

A selected rule whose inputs are about to be remade by a job planned in the same call is
not planned now but left to follow those new inputs: planned now, it would run once on the
old inputs and again when the new ones arrive.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import func, select

from socstack._exceptions import NotFoundError, SocError
from socstack.catalog.models import JOB_ENDED, Event, File, FileStatus, Job, JobStatus, PlannerState
from socstack.mission.model import Mission, Rule
from socstack.pipeline.planner import PLANNER, Planner
from socstack.runtime import Runtime

__all__ = ["Progress", "Selection", "Summary", "progress", "reprocess"]


@dataclass(frozen=True)
class Selection:
    """Which rules to re-plan; every field narrows the selection."""

    mission: str | None = None
    instrument: str | None = None
    product: str | None = None
    rule: str | None = None

    def rules(self, runtime: Runtime) -> list[tuple[Mission, Rule]]:
        """The selected rules, inputs before outputs."""
        chosen = []
        for mission in runtime.missions:
            if self.mission and mission.name != self.mission:
                continue
            for rule in _ordered(mission):
                outputs = [mission.products[o.product] for o in rule.outputs]
                if self.rule and rule.id != self.rule:
                    continue
                if self.product and all(p.id != self.product for p in outputs):
                    continue
                if self.instrument and all(p.instrument != self.instrument for p in outputs):
                    continue
                chosen.append((mission, rule))
        if not chosen:
            raise NotFoundError(f"no rule matches {self.describe()}")
        return chosen

    def describe(self) -> str:
        """The selection in words."""
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return ", ".join(parts) or "everything"


def _ordered(mission: Mission) -> list[Rule]:
    """Rules sorted so that every rule comes after the rules making its inputs."""
    made_by = {o.product: r.id for r in mission.rules.values() for o in r.outputs}
    order: list[Rule] = []
    seen: set[str] = set()

    def visit(rule: Rule) -> None:
        if rule.id in seen:
            return
        seen.add(rule.id)
        for item in rule.inputs:
            if item.product in made_by:
                visit(mission.rules[made_by[item.product]])
        order.append(rule)

    for rule in mission.rules.values():
        visit(rule)
    return order


@dataclass
class Summary:
    """What a reprocessing request planned."""

    selection: str
    start: dt.date
    stop: dt.date
    jobs: list[int] = field(default_factory=list)
    unchanged: int = 0
    blocked: int = 0
    following: int = 0
    rules: list[str] = field(default_factory=list)


def _candidate_partitions(
    runtime: Runtime, mission: Mission, rule: Rule, start: dt.date, stop: dt.date
) -> list[dt.date]:
    daily = [i for i in rule.inputs if i.window.kind == "days"]
    if not daily:
        return []
    low = start + dt.timedelta(days=min(i.window.start for i in daily))
    high = stop + dt.timedelta(days=max(i.window.stop for i in daily))
    with runtime.catalog.session() as session:
        partitions = session.scalars(
            select(File.partition)
            .where(
                (File.mission == mission.name)
                & (File.product.in_([i.product for i in daily]))
                & (File.status == FileStatus.ARCHIVED)
                & (File.partition >= low.isoformat())
                & (File.partition <= high.isoformat())
            )
            .distinct()
        )
        days = {dt.date.fromisoformat(p) for p in partitions}
    # Files near the range's edges may feed partitions inside it (windows of several days).
    spread = {
        d - dt.timedelta(days=k)
        for d in days
        for i in daily
        for k in range(i.window.start, i.window.stop + 1)
    }
    return sorted(p for p in spread if start <= p <= stop)


def _waits_for_remade(
    mission: Mission, rule: Rule, partition: dt.date, remade: set[tuple[str, str, dt.date]]
) -> bool:
    """Whether an input of ``rule`` for ``partition`` is among the outputs being remade."""
    for item in rule.inputs:
        if item.window.kind != "days":
            continue
        for k in range(item.window.start, item.window.stop + 1):
            if (mission.name, item.product, partition + dt.timedelta(days=k)) in remade:
                return True
    return False


def reprocess(
    runtime: Runtime,
    selection: Selection,
    start: dt.date,
    stop: dt.date,
    *,
    reason: str = "reprocess",
) -> Summary:
    """Re-plan the selected rules for every day from ``start`` to ``stop`` (inclusive)."""
    if stop < start:
        raise SocError(f"the range ends ({stop}) before it starts ({start})")
    summary = Summary(selection.describe(), start, stop)
    planner = Planner(runtime)
    remade: set[tuple[str, str, dt.date]] = set()  # (mission, product, partition) to come
    for mission, rule in selection.rules(runtime):
        summary.rules.append(rule.id)
        for partition in _candidate_partitions(runtime, mission, rule, start, stop):
            if _waits_for_remade(mission, rule, partition, remade):
                summary.following += 1
                remade.update((mission.name, o.product, partition) for o in rule.outputs)
                continue
            with runtime.catalog.transaction() as session:
                result = planner.plan_partition(session, mission, rule, partition, reason=reason)
                if result.job is None:
                    continue
                session.flush()
                if result.job.status == JobStatus.BLOCKED:
                    summary.blocked += 1
                elif result.created:
                    summary.jobs.append(result.job.id)
                    remade.update((mission.name, o.product, partition) for o in rule.outputs)
                else:
                    summary.unchanged += 1
    return summary


@dataclass
class Progress:
    """Where a reprocessing and the levels following it stand."""

    counts: dict[JobStatus, int]
    planned_up_to_now: bool

    @property
    def total(self) -> int:
        """Jobs made so far (blocked ones excluded)."""
        return sum(n for s, n in self.counts.items() if s != JobStatus.BLOCKED)

    @property
    def ended(self) -> int:
        """Jobs that succeeded, failed, timed out or were superseded."""
        return sum(self.counts.get(s, 0) for s in JOB_ENDED)

    @property
    def settled(self) -> bool:
        """Every event planned and every job ended: nothing more will follow."""
        return self.planned_up_to_now and self.ended == self.total


def progress(runtime: Runtime, summary: Summary) -> Progress:
    """Jobs of the reprocessing's missions made since it began, the levels after it included."""
    if not summary.jobs:
        return Progress({}, planned_up_to_now=True)
    with runtime.catalog.session() as session:
        missions = set(
            session.scalars(select(Job.mission).where(Job.id.in_(summary.jobs[:1000])).distinct())
        )
        counts = dict(
            session.execute(
                select(Job.status, func.count())
                .where((Job.id >= min(summary.jobs)) & Job.mission.in_(missions))
                .group_by(Job.status)
            ).all()
        )
        last_event = session.scalar(select(func.max(Event.id))) or 0
        state = session.get(PlannerState, PLANNER)
    return Progress(counts, planned_up_to_now=state is not None and state.cursor >= last_event)
