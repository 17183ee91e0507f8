"""The next ``vX.Y.Z`` of an output, decided from what made the previous one.

X is the rule output's declared interface. Y goes up when a calibration input (an input
of a ``valid_from`` product) or the rule's quality level changed; Z when any other input
or the code version changed. The same inputs and code make no new version at all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from socstack.catalog.models import File, FileStatus, Provenance
from socstack.mission.model import Mission, Rule, RuleOutput
from socstack.mission.versions import Version
from socstack.pipeline.inputs import ResolvedInputs

__all__ = ["VersionDecision", "next_version"]


@dataclass(frozen=True)
class VersionDecision:
    """The version to write, or None with the file that already covers these inputs."""

    version: Version | None
    reason: str
    current: str | None = None


def next_version(
    session: Session,
    *,
    mission: Mission,
    rule: Rule,
    output: RuleOutput,
    partition: dt.date,
    inputs: ResolvedInputs,
) -> VersionDecision:
    """Decide the version of ``output`` for ``partition`` from ``inputs``."""
    previous = session.scalar(
        select(File).where(
            (File.mission == mission.name)
            & (File.product == output.product)
            & (File.partition == partition.isoformat())
            & (File.status == FileStatus.ARCHIVED)
        )
    )
    first = Version(output.interface, 0, 0)
    if previous is None:
        return VersionDecision(first, "first version")
    before = Version(previous.version_major, previous.version_minor, previous.version_patch)
    rows = session.execute(
        select(File.name, File.product)
        .join(Provenance, Provenance.input_id == File.id)
        .where(Provenance.output_id == previous.id)
    ).all()
    calibration = {p for p, spec in mission.products.items() if spec.partition == "valid_from"}
    old_cal = {name for name, product in rows if product in calibration}
    old_other = {name for name, product in rows if product not in calibration}
    new_cal = {f.name for f in inputs.all_files() if f.product in calibration}
    new_other = {f.name for f in inputs.all_files() if f.product not in calibration}
    if output.interface != before.major:
        return VersionDecision(first, f"interface {before.major} -> {output.interface}")
    if old_cal != new_cal or previous.quality != rule.quality:
        what = (
            "calibration" if old_cal != new_cal else f"quality {previous.quality} -> {rule.quality}"
        )
        return VersionDecision(before.bump("quality"), f"{what} changed")
    if old_other != new_other or previous.code_version != rule.code_version:
        what = (
            "inputs"
            if old_other != new_other
            else f"code {previous.code_version} -> {rule.code_version}"
        )
        return VersionDecision(before.bump("revision"), f"{what} changed")
    return VersionDecision(None, "same inputs and code", current=previous.name)
