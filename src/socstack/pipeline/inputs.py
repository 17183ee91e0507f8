"""Which archived files a rule needs for a partition: its inputs' time windows resolved.

A ``days`` window takes the newest archived version of each daily file from ``start``
to ``stop`` days around the partition; ``latest_valid`` takes the newest calibration
whose valid-from day is on or before the partition. A required input with no file in
its window is missing, and the job waits (blocked) until one arrives.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from socstack.catalog.models import File, FileStatus
from socstack.mission.model import Mission, Rule, RuleInput

__all__ = ["ResolvedInputs", "dependency_hash", "resolve_inputs"]


@dataclass
class ResolvedInputs:
    """The files each input of a rule resolves to, and what is missing."""

    files: dict[str, list[File]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """True when every required input has at least one file."""
        return not self.missing

    def all_files(self) -> list[File]:
        """Every resolved file, sorted by name."""
        return sorted((f for files in self.files.values() for f in files), key=lambda f: f.name)


def _window_files(
    session: Session, mission: str, item: RuleInput, partition: dt.date
) -> list[File]:
    archived = (
        (File.mission == mission)
        & (File.product == item.product)
        & (File.status == FileStatus.ARCHIVED)
    )
    if item.window.kind == "latest_valid":
        row = session.scalar(
            select(File)
            .where(archived & (File.partition <= partition.isoformat()))
            .order_by(File.partition.desc())
            .limit(1)
        )
        return [row] if row is not None else []
    first = (partition + dt.timedelta(days=item.window.start)).isoformat()
    last = (partition + dt.timedelta(days=item.window.stop)).isoformat()
    statement = select(File).where(archived & (File.partition >= first) & (File.partition <= last))
    return list(session.scalars(statement.order_by(File.partition)))


def resolve_inputs(
    session: Session, mission: Mission, rule: Rule, partition: dt.date
) -> ResolvedInputs:
    """Resolve every input of ``rule`` for ``partition`` against the catalog."""
    resolved = ResolvedInputs()
    for item in rule.inputs:
        files = _window_files(session, mission.name, item, partition)
        resolved.files[item.product] = files
        if item.required and not files:
            if item.window.kind == "latest_valid":
                resolved.missing.append(f"{item.product} valid on {partition.isoformat()}")
            else:
                first = partition + dt.timedelta(days=item.window.start)
                last = partition + dt.timedelta(days=item.window.stop)
                span = first.isoformat() if first == last else f"{first} to {last}"
                resolved.missing.append(f"{item.product} for {span}")
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
