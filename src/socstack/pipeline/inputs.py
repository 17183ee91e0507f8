"""Which archived files a rule needs for a partition: each input's time window resolved.

Each input is resolved on its own, under its name, so one product may be an input
several times (the day before, the day itself and the day after). A ``days`` window
takes the newest archived version of each daily file from ``start`` to ``stop`` days
around the partition; what must be there is the input's ``required``: every day of the
window (``all``), at least one (``any``), or the partition's own day (``same_day``).
Days outside the span of the input's instrument (before launch, after the end) are
never waited for. A ``latest_valid`` window takes the newest calibration whose validity
holds the partition: valid from its day, until its end of validity if it has one. A job
missing a required file waits (blocked) until it arrives, with each missing file named.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from socstack.catalog.models import File, FileStatus
from socstack.mission.model import Mission, Rule, RuleInput

__all__ = ["ResolvedInputs", "dependency_hash", "resolve_inputs", "window_days"]


@dataclass
class ResolvedInputs:
    """The files each input of a rule resolves to (by input name), and what is missing."""

    files: dict[str, list[File]] = field(default_factory=dict)
    products: dict[str, str] = field(default_factory=dict)  # input name -> product
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every required input has its files."""
        return not self.missing

    def all_files(self) -> list[File]:
        """Every resolved file once (an input may share files with another), by name."""
        unique = {f.id: f for files in self.files.values() for f in files}
        return sorted(unique.values(), key=lambda f: f.name)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def window_days(item: RuleInput, partition: dt.date) -> list[dt.date]:
    """The days a ``days`` window spans around ``partition``."""
    return [
        partition + dt.timedelta(days=k) for k in range(item.window.start, item.window.stop + 1)
    ]


def valid_on(mission: str, product: str, day: dt.date):
    """Calibrations of ``product`` whose validity holds ``day`` (a SQL condition)."""
    return (
        (File.mission == mission)
        & (File.product == product)
        & (File.status == FileStatus.ARCHIVED)
        & (File.partition <= day.isoformat())
        & or_(File.stop.is_(None), File.stop > _midnight(day))
    )


def _calibration(session: Session, mission: Mission, item: RuleInput, day: dt.date) -> list[File]:
    row = session.scalar(
        select(File)
        .where(valid_on(mission.name, item.product, day))
        .order_by(File.partition.desc())
        .limit(1)
    )
    return [row] if row is not None else []


def _days(session: Session, mission: Mission, item: RuleInput, days: list[dt.date]) -> list[File]:
    statement = select(File).where(
        (File.mission == mission.name)
        & (File.product == item.product)
        & (File.status == FileStatus.ARCHIVED)
        & (File.partition >= days[0].isoformat())
        & (File.partition <= days[-1].isoformat())
    )
    return list(session.scalars(statement.order_by(File.partition)))


def _missing_days(
    mission: Mission, item: RuleInput, partition: dt.date, files: list[File]
) -> list[str]:
    """What a ``days`` input still waits for, one entry per missing day."""
    requirement = item.requirement
    if requirement == "optional":
        return []
    expected = [d for d in window_days(item, partition) if mission.expects(item.product, d)]
    if requirement == "same_day":
        expected = [d for d in expected if d == partition]
    have = {f.partition for f in files}
    absent = [d for d in expected if d.isoformat() not in have]
    if not expected or not absent:
        return []
    if requirement == "any":
        if len(absent) < len(expected):
            return []
        first, last = expected[0], expected[-1]
        span = first.isoformat() if first == last else f"{first} to {last}"
        return [f"{item.product} for any day of {span}"]
    return [f"{item.product} for {d.isoformat()}" for d in absent]


def resolve_inputs(
    session: Session, mission: Mission, rule: Rule, partition: dt.date
) -> ResolvedInputs:
    """Resolve every input of ``rule`` for ``partition`` against the catalog."""
    resolved = ResolvedInputs()
    for item in rule.inputs:
        resolved.products[item.name] = item.product
        if item.window.kind == "latest_valid":
            files = _calibration(session, mission, item, partition)
            if item.requirement != "optional" and not files:
                instrument = mission.products[item.product].instrument
                article = "an" if instrument[0] in "aeiou" else "a"
                resolved.missing.append(
                    f"{article} {instrument} calibration ({item.product}) valid on"
                    f" {partition.isoformat()}"
                )
        else:
            files = _days(session, mission, item, window_days(item, partition))
            for entry in _missing_days(mission, item, partition, files):
                if entry not in resolved.missing:
                    resolved.missing.append(entry)
        resolved.files[item.name] = files
    return resolved


def dependency_hash(rule: Rule, inputs: ResolvedInputs) -> str:
    """The job's identity: its inputs (names carry versions), code and output interfaces.

    Equal hashes mean the same work: re-planning or a replayed event finds the job made
    already and makes no second one.
    """
    signature = {
        "rule": rule.id,
        "code_version": rule.code_version,
        "quality": rule.quality,
        "outputs": sorted((o.product, o.interface) for o in rule.outputs),
        "inputs": sorted(f.name for f in inputs.all_files()),
    }
    return hashlib.sha256(json.dumps(signature, sort_keys=True).encode()).hexdigest()
