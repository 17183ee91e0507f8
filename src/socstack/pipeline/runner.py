"""Run one rule for one partition: inputs in, versioned outputs archived with provenance.

This is the work of a pipeline job, kept free of Celery so that tests and the CLI call
it directly. Outputs enter the archive through the same ingest path as every delivery
(validation, atomic store, catalog row, ``file.archived`` event), so the next level is
planned from their events exactly as for telemetry arriving from the ground.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from socstack._exceptions import SocError
from socstack.catalog.models import FileSource
from socstack.ingest.results import IngestResult, Lineage, Outcome
from socstack.mission.code import load_callable
from socstack.mission.model import Mission, Rule
from socstack.mission.versions import Version
from socstack.pipeline.context import InputFile, NoOutput, RuleContext
from socstack.pipeline.inputs import ResolvedInputs, resolve_inputs
from socstack.pipeline.outputs import write_output
from socstack.pipeline.versions import VersionDecision, next_version
from socstack.runtime import Runtime

__all__ = ["MissingInputsError", "OutputRejectedError", "RunResult", "run_rule"]

logger = logging.getLogger(__name__)


class MissingInputsError(SocError):
    """A required input of the rule has no file for the partition (the job is blocked)."""

    def __init__(self, missing: list[str]):
        self.missing = missing
        super().__init__("missing inputs: " + "; ".join(missing))


class OutputRejectedError(SocError):
    """A rule's output failed the ingest checks (it is in quarantine with the reason)."""


@dataclass
class RunResult:
    """What one run archived, and what it found already current."""

    archived: list[IngestResult] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    seconds_in_rule: float = 0.0
    #: Why the rule made nothing for its partition (it raised NoOutput), else None.
    skipped: str | None = None


def _plan_versions(
    runtime: Runtime, mission: Mission, rule: Rule, partition: dt.date, inputs: ResolvedInputs
) -> dict[str, VersionDecision]:
    with runtime.catalog.session() as session:
        return {
            output.product: next_version(
                session,
                mission=mission,
                rule=rule,
                output=output,
                partition=partition,
                inputs=inputs,
            )
            for output in rule.outputs
        }


def _local_inputs(
    runtime: Runtime, inputs: ResolvedInputs, mission: Mission, folder: Path
) -> dict[str, list[InputFile]]:
    """Each input's files as local files (by input name); a file shared by two is fetched once."""
    folder.mkdir(parents=True, exist_ok=True)
    local: dict[str, list[InputFile]] = {}
    fetched: dict[int, Path] = {}
    for name, rows in inputs.files.items():
        product = mission.products[inputs.products[name]]
        local[name] = []
        for row in rows:
            if row.id not in fetched:
                fetched[row.id] = runtime.archive.fetch(row.uri, folder / row.name)
            local[name].append(
                InputFile(
                    name=row.name,
                    path=fetched[row.id],
                    product=product,
                    partition=dt.date.fromisoformat(row.partition),
                    version=Version(row.version_major, row.version_minor, row.version_patch),
                    file_id=row.id,
                )
            )
    return local


def _by_output(rule: Rule, produced: Any) -> Mapping[str, Any]:
    import xarray as xr

    # A Dataset is a Mapping too (of its variables): test for it first.
    if isinstance(produced, Mapping) and not isinstance(produced, xr.Dataset):
        return produced
    if len(rule.outputs) == 1:
        return {rule.outputs[0].product: produced}
    raise SocError(
        f"rule {rule.id} has {len(rule.outputs)} outputs; its function must return a mapping"
    )


def run_rule(
    runtime: Runtime,
    mission: Mission,
    rule: Rule,
    partition: dt.date,
    *,
    job_id: int | None = None,
    inputs: ResolvedInputs | None = None,
) -> RunResult:
    """Run ``rule`` for ``partition`` and archive its new output versions.

    Raises
    ------
    MissingInputsError
        A required input has no file for the partition.
    OutputRejectedError
        An output failed the ingest checks (it was quarantined with the reason).
    """
    if inputs is None:
        with runtime.catalog.session() as session:
            inputs = resolve_inputs(session, mission, rule, partition)
    if not inputs.complete:
        raise MissingInputsError(inputs.missing)
    result = RunResult(inputs=[f.name for f in inputs.all_files()])
    decisions = _plan_versions(runtime, mission, rule, partition, inputs)
    result.current = [d.current for d in decisions.values() if d.version is None and d.current]
    if all(d.version is None for d in decisions.values()):
        logger.info(
            "%s %s: outputs are current (%s)", rule.id, partition, ", ".join(result.current)
        )
        return result
    lineage = Lineage(
        inputs=tuple(f.id for f in inputs.all_files()),
        code_version=rule.code_version,
        quality=rule.quality,
        job_id=job_id,
    )
    with tempfile.TemporaryDirectory(prefix=f"socstack-{rule.id}-") as scratch_name:
        scratch = Path(scratch_name)
        context = RuleContext(
            mission=mission,
            rule=rule,
            partition=partition,
            scratch=scratch / "work",
            inputs=_local_inputs(runtime, inputs, mission, scratch / "inputs"),
        )
        context.scratch.mkdir()
        if rule.notebook is not None:
            from socstack.analysis.rules import notebook_function

            function = notebook_function(runtime.settings, mission, rule)
        elif rule.detector is not None:
            from socstack.mining.rules import detect

            function = detect
        else:
            assert rule.function is not None  # noqa: S101 - a rule has one of the three
            function = load_callable(mission, rule.function, field=f"rules.{rule.id}.function")
        started = time.perf_counter()
        try:
            produced = _by_output(rule, function(context))
        except NoOutput as exc:
            result.seconds_in_rule = time.perf_counter() - started
            result.skipped = exc.reason or "the rule made no output"
            logger.info("%s %s: no output (%s)", rule.id, partition, result.skipped)
            return result
        result.seconds_in_rule = time.perf_counter() - started
        (scratch / "outputs").mkdir()
        for output in rule.outputs:
            decision = decisions[output.product]
            if decision.version is None:
                continue
            if output.product not in produced:
                raise SocError(f"rule {rule.id} returned nothing for {output.product}")
            product = mission.products[output.product]
            name = product.file_name(partition, decision.version).name
            path = write_output(
                product,
                produced[output.product],
                scratch / "outputs" / name,
                rule=rule,
                version=decision.version,
                parents=result.inputs,
            )
            archived = runtime.ingestor.ingest(path, source=FileSource.PIPELINE, lineage=lineage)
            if archived.outcome == Outcome.QUARANTINED:
                raise OutputRejectedError(f"{name} was rejected: {archived.reason}")
            logger.info("%s %s: %s (%s)", rule.id, partition, name, decision.reason)
            result.archived.append(archived)
    return result
