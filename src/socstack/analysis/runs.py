"""Notebook runs as pipeline jobs: submitted, executed by a worker, their outputs archived.

A run is a :class:`~socstack.catalog.models.Job` of the pseudo-rule :data:`RUN_RULE` on
the ``analysis`` queue, plus a :class:`~socstack.catalog.runs.Run` row. The planner
dispatches it and reaps it like any job (a worker that stops beating has its run
requeued, once; past its deadline it is timed out), so there is no second scheduler.

The worker gives the kernel a folder (``SOC_RUN_DIR``) and a read token made for the
submitter (``SOC_TOKEN``, label ``run:<id>``, expiring with the run's timeout, revoked
when it ends), so the kernel reads the archive as the submitter and no more. When the
kernel ends, however it ends, the worker archives the executed notebook, its HTML and
its figures as run artifacts (``runs/<id>/...`` in the archive), and each dataset the
kernel published as a file of its declared product, through the ingest path, with the
files it read as provenance.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from socstack._exceptions import AccessDenied, NotFoundError, SocError
from socstack.access.identity import ANONYMOUS, Identity
from socstack.access.intervals import subtract
from socstack.analysis import runenv
from socstack.analysis.execute import Ending, Execution, execute_notebook, figures, to_html
from socstack.analysis.library import Notebook, canonical
from socstack.catalog.models import File, FileSource, FileStatus, Job, JobStatus, utcnow
from socstack.catalog.runs import Run
from socstack.ingest.results import Lineage, Outcome
from socstack.mission.versions import Version
from socstack.pipeline.jobs import RUN_RULE, on_demand_job

if TYPE_CHECKING:
    from socstack.pipeline.jobs import Claim
    from socstack.pipeline.jobs import Outcome as JobOutcome
    from socstack.runtime import Runtime

__all__ = [
    "RUN_RULE",
    "Submitted",
    "archive_outputs",
    "artifact_key",
    "execute_run",
    "may_see",
    "packages",
    "submit",
]

logger = logging.getLogger(__name__)

QUEUE = "analysis"
#: Seconds a run's job outlives the kernel's deadline: time to archive what it left.
ARCHIVE_MARGIN = 60.0
#: Attempts of a run: the first, and one more if its worker was lost.
MAX_ATTEMPTS = 2
UPLOADS = "runs/uploads"
PACKAGES = ("socstack", "papermill", "nbclient", "ipykernel", "numpy", "xarray", "cdflib")


@dataclass(frozen=True)
class Submitted:
    """A run as submitted: new, or the one that already ran these parameters."""

    run: Run
    job: Job
    created: bool


def _key(notebook: Notebook, parameters: dict[str, Any], submitter: str) -> str:
    text = json.dumps(
        {"notebook": notebook.sha256, "parameters": canonical(parameters), "by": submitter},
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _reads_current(runtime: Runtime, reads: list[str]) -> bool:
    """Whether every file a run read is still its product's newest archived version."""
    if not reads:
        return True
    with runtime.catalog.session() as session:
        current = set(
            session.scalars(
                select(File.name).where(File.name.in_(reads) & (File.status == FileStatus.ARCHIVED))
            )
        )
    return current == set(reads)


def submit(
    runtime: Runtime,
    identity: Identity,
    notebook: Notebook,
    parameters: dict[str, Any],
    *,
    force: bool = False,
    upload: bytes | None = None,
) -> Submitted:
    """Queue a run of ``notebook`` for ``identity``, or find the same run made already.

    The same notebook content, parameters and submitter, on inputs that have not
    changed since, is the same run: it is returned (``created`` False) unless ``force``.
    A run still queued or running is returned too; a failed one is run again.
    """
    submitter = identity.label
    key = _key(notebook, parameters, submitter)
    with runtime.catalog.session() as session:
        previous = session.execute(
            select(Run, Job)
            .join(Job, Job.id == Run.job_id)
            .where((Job.rule == RUN_RULE) & (Job.dependency_hash == key))
            .order_by(Run.id.desc())
            .limit(1)
        ).first()
    if previous is not None and not force:
        run, job = previous
        alive = job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
        if alive or (job.status == JobStatus.SUCCEEDED and _reads_current(runtime, run.reads)):
            return Submitted(run, job, created=False)
    name = notebook.name
    if upload is not None:
        name = f"{UPLOADS}/{notebook.sha256}.ipynb"
        if not runtime.archive.exists(name):
            runtime.archive.put(notebook.path, name)
    timeout = runtime.settings.run_timeout
    with runtime.catalog.transaction() as session:
        job = on_demand_job(
            mission=notebook.mission,
            rule=RUN_RULE,
            key=key,
            code_version=f"nb-{notebook.sha256[:12]}",
            queue=QUEUE,
            timeout=timeout + ARCHIVE_MARGIN,
            reason=f"run of {notebook.name} submitted by {submitter}",
        )
        session.add(job)
        session.flush()
        run = Run(
            job_id=job.id,
            mission=notebook.mission,
            notebook=name,
            notebook_sha256=notebook.sha256,
            origin="upload" if upload is not None else notebook.origin,
            parameters=parameters,
            submitter=submitter,
            submitted_at=utcnow(),
            cells_done=0,
            cells_total=0,
            outputs=[],
            reads=[],
        )
        session.add(run)
        session.flush()
        session.expunge_all()
    logger.info("run %s: %s queued (job %s)", run.id, notebook.name, job.id)
    return Submitted(run, job, created=True)


# -- who sees a run ----------------------------------------------------------------------------


def may_see(runtime: Runtime, identity: Identity, run: Run) -> bool:
    """Its submitter, operators, and whoever may read every file the run read."""
    if identity.staff or (identity.name is not None and identity.name == run.submitter):
        return True
    if not identity.can("read"):
        return False
    # nothing said what it was made from (no reads): only its submitter sees it
    return runtime.access.may_read_every(identity, list(run.reads or []))


# -- executing ----------------------------------------------------------------------------------


def _source(runtime: Runtime, run: Run, folder: Path) -> Path:
    """The notebook file to execute, on this host."""
    if run.origin == "upload":
        return runtime.archive.fetch(run.notebook, folder / "source.ipynb")
    from socstack.analysis.library import find

    return find(runtime.settings, runtime.missions, run.notebook).path


def _token(runtime: Runtime, run: Run) -> tuple[str | None, str | None]:
    """A read token of the submitter for the run's kernel (id, text), or none for no user."""
    expires = utcnow() + dt.timedelta(seconds=runtime.settings.run_timeout + ARCHIVE_MARGIN)
    try:
        info, text = runtime.access.accounts.create_token(
            run.submitter,
            ["read"],
            expires_at=expires,
            label=f"run:{run.id}",
            actor=f"run:{run.id}",
        )
    except NotFoundError:
        return None, None  # not a user of the catalog (the CLI as system): public reads only
    return info.id, text


def _progress(runtime: Runtime, run_id: int) -> Any:
    def update(done: int, total: int) -> None:
        with runtime.catalog.transaction() as session:
            row = session.get(Run, run_id)
            if row is not None:
                row.cells_done, row.cells_total = done, total

    return update


def _environment(runtime: Runtime, folder: Path, token: str | None) -> dict[str, str]:
    """What the kernel needs beyond the worker's own environment (which it inherits)."""
    settings = runtime.settings
    env = {
        "SOC_RUN_DIR": str(folder),
        "SOC_DATA_DIR": str(settings.data_dir),
        "SOC_DATABASE_URL": settings.database_url,
        "SOC_ARCHIVE_URL": settings.archive_url,
        "SOC_MISSIONS": ":".join(str(p) for p in settings.missions),
        "SOC_PUBLIC_URL": settings.public_url,
        "SOC_TOKEN": token or "",
    }
    return env


def execute_run(runtime: Runtime, taken: Claim, worker: str, tail: Any) -> JobOutcome:
    """Run a claimed run's notebook and archive what it left; record how it ended."""
    from socstack.pipeline.jobs import Outcome as JobOutcome
    from socstack.pipeline.jobs import beating, finish

    catalog = runtime.catalog
    with catalog.session() as session:
        run = session.scalar(select(Run).where(Run.job_id == taken.id))
        if run is not None:
            session.expunge(run)
    if run is None:
        finish(catalog, taken.id, worker, JobStatus.FAILED, error="the run's record is gone")
        return JobOutcome.FAILED
    if taken.attempts > MAX_ATTEMPTS:
        error = f"the run's worker was lost {taken.attempts - 1} times; not run again"
        _record(runtime, run.id, error=error)
        finish(catalog, taken.id, worker, JobStatus.FAILED, error=error)
        return JobOutcome.FAILED
    folder = runtime.settings.data_dir / "runs" / str(run.id) / f"attempt-{taken.attempts}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    logger.info("run %s: %s, attempt %d", run.id, run.notebook, taken.attempts)
    token_id, token = _token(runtime, run)
    _record(runtime, run.id, token_id=token_id)
    try:
        with beating(catalog, taken.id, worker, runtime.settings.job_heartbeat):
            try:
                source = _source(runtime, run, folder)
            except SocError as exc:
                execution = Execution(Ending.FAILED, str(exc), None, 0)
            else:
                execution = execute_notebook(
                    source,
                    folder / "work",
                    run.parameters,
                    env=_environment(runtime, folder, token),
                    timeout=runtime.settings.run_timeout,
                    memory_mb=runtime.settings.run_memory_mb,
                    progress=_progress(runtime, run.id),
                )
            logger.info("run %s: kernel ended %s", run.id, execution.ending.value)
            outputs, reads, problem = archive_outputs(runtime, run, folder, execution, taken.id)
    finally:
        if token_id is not None:
            runtime.access.accounts.revoke(token_id, actor=f"run:{run.id}")
    error = execution.error or problem
    ending = execution.ending
    if ending == Ending.SUCCEEDED and problem:
        ending = Ending.FAILED
    status = {
        Ending.SUCCEEDED: JobStatus.SUCCEEDED,
        Ending.FAILED: JobStatus.FAILED,
        Ending.TIMED_OUT: JobStatus.TIMED_OUT,
    }[ending]
    _record(
        runtime,
        run.id,
        outputs=outputs,
        reads=reads,
        error=error,
        done=execution.cells_done,
        total=execution.cells_total,
    )
    finish(
        catalog,
        taken.id,
        worker,
        status,
        outputs=[o["name"] for o in outputs if o["kind"] == "product"],
        inputs=reads,
        error=error,
        log_tail="\n".join(tail.lines),
        rule_seconds=execution.seconds,
    )
    return JobOutcome(status.value)


def _record(runtime: Runtime, run_id: int, **values: Any) -> None:
    columns = {"done": "cells_done", "total": "cells_total"}
    with runtime.catalog.transaction() as session:
        row = session.get(Run, run_id)
        if row is None:
            return
        for key, value in values.items():
            setattr(row, columns.get(key, key), value)


# -- archiving what a run left ------------------------------------------------------------------


def artifact_key(run_id: int, name: str) -> str:
    """Where a run's artifact lives in the archive."""
    return f"runs/{run_id}/{name}"


def packages() -> dict[str, str]:
    """The versions of the packages a run's results depend on (kept as provenance)."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def archive_outputs(
    runtime: Runtime, run: Run, folder: Path, execution: Execution, job_id: int | None
) -> tuple[list[dict[str, Any]], list[str], str | None]:
    """Archive the run's artifacts and published datasets; (outputs, reads, a problem)."""
    outputs: list[dict[str, Any]] = []
    reads = sorted(
        {str(r["name"]) for r in runenv.read_lines(folder, runenv.READS) if r.get("name")}
    )
    artifacts: list[tuple[str, str, Path]] = []
    if execution.notebook is not None:
        artifacts.append(("notebook.ipynb", "notebook", execution.notebook))
        try:
            artifacts.append(
                ("notebook.html", "html", to_html(execution.notebook, folder / "notebook.html"))
            )
        except Exception as exc:  # a notebook nbconvert cannot render keeps its .ipynb
            logger.warning("run %s: no HTML: %s", run.id, exc)
        artifacts += [(p.name, "figure", p) for p in figures(execution.notebook, folder)]
    problems: list[str] = []
    published = runenv.read_lines(folder, runenv.PUBLISHED)
    for entry in published:
        try:
            outputs.append(
                _archive_published(runtime, run, folder, entry, reads=reads, job_id=job_id)
            )
        except SocError as exc:
            problems.append(str(exc))
    provenance = {
        "run": run.id,
        "notebook": run.notebook,
        "notebook_sha256": run.notebook_sha256,
        "parameters": run.parameters,
        "reads": reads,
        "packages": packages(),
        "outputs": [o["name"] for o in outputs],
    }
    prov_path = folder / "provenance.json"
    prov_path.write_text(json.dumps(provenance, indent=2, sort_keys=True))
    artifacts.append(("provenance.json", "provenance", prov_path))
    for name, kind, path in artifacts:
        key = artifact_key(run.id, name)
        runtime.archive.put(path, key)
        outputs.append({"name": name, "kind": kind, "key": key})
    return outputs, reads, "; ".join(problems) or None


def _mission_of(runtime: Runtime, run: Run, entry: dict[str, Any]) -> Any:
    product = str(entry.get("product"))
    wanted = entry.get("mission") or run.mission
    candidates = [
        m for m in runtime.missions if product in m.products and (not wanted or m.name == wanted)
    ]
    if len(candidates) != 1:
        raise SocError(
            f"published product {product!r} is not declared by"
            f" {'mission ' + wanted if wanted else 'one mission'}:"
            " a run publishes products its mission's YAML declares (so HAPI can serve them)"
        )
    return candidates[0]


def _archive_published(
    runtime: Runtime,
    run: Run,
    folder: Path,
    entry: dict[str, Any],
    *,
    reads: list[str],
    job_id: int | None,
) -> dict[str, Any]:
    import numpy as np

    from socstack.formats.cdf import write_cdf

    mission = _mission_of(runtime, run, entry)
    product_id = str(entry["product"])
    product = mission.products[product_id]
    if product.format != "cdf":
        raise SocError(f"published product {product_id} is a {product.format} product, not CDF")
    with runtime.catalog.session() as session:
        inputs = list(session.scalars(select(File).where(File.name.in_(reads))))
    _no_more_public(runtime, mission.name, product_id, inputs)
    path = folder / runenv.PUBLISH_DIR / str(entry["file"])
    try:
        ds = product.reader.read(path, product)  # the product's reader: its variables hold
    except SocError as exc:
        raise SocError(f"published {product_id} dataset does not fit the product: {exc}") from exc
    epoch = ds["epoch"].values if "epoch" in ds else None
    if epoch is None or len(epoch) == 0:
        raise SocError(f"published {product_id} dataset has no epoch: nothing to archive")
    day = np.datetime64(epoch.min(), "D").astype(dt.date)
    with runtime.catalog.session() as session:
        previous = session.scalar(
            select(File).where(
                (File.mission == mission.name)
                & (File.product == product_id)
                & (File.partition == day.isoformat())
                & (File.status == FileStatus.ARCHIVED)
            )
        )
    version = (
        Version(previous.version_major, previous.version_minor, previous.version_patch).bump(
            "revision"
        )
        if previous is not None
        else Version(1, 0, 0)
    )
    name = product.file_name(day, version).name
    out = folder / "products" / name
    out.parent.mkdir(exist_ok=True)
    options = product.format_options
    write_cdf(
        ds,
        out,
        global_attributes={
            **options.global_attributes,
            "Logical_file_id": out.stem,
            "Data_version": str(version),
            "Generation_date": dt.datetime.now(dt.UTC).strftime("%Y%m%d"),
            "Software_version": f"notebook {run.notebook} sha256:{run.notebook_sha256[:16]}",
            "Parents": reads or None,
            "Run": json.dumps(
                {"run": run.id, "parameters": run.parameters, "packages": packages()},
                sort_keys=True,
            ),
        },
        variable_attributes=options.variable_attributes,
    )
    lineage = Lineage(
        inputs=tuple(f.id for f in inputs),
        code_version=f"nb-{run.notebook_sha256[:12]}",
        quality=1,
        job_id=job_id,
    )
    result = runtime.ingestor.ingest(out, source=FileSource.PIPELINE, lineage=lineage)
    if result.outcome == Outcome.QUARANTINED:
        raise SocError(f"published {name} was rejected: {result.reason}")
    return {"name": name, "kind": "product", "key": name, "product": product_id}


def _no_more_public(runtime: Runtime, mission: str, product: str, inputs: list[File]) -> None:
    """Refuse a published product that would show the public more than an input does."""
    access = runtime.access
    spec = runtime.missions.mission(mission)
    out = access.visible(ANONYMOUS, mission, product)
    for f in inputs:
        if f.mission != mission:
            continue
        # As Access reads provenance: a never-public input (a raw level) is the team's
        # working material, so what limits the output is what was released from it.
        limits = (
            [f.product]
            if spec.policy(f.product).public != "never"
            else access.releasable_ancestors(mission, f.product)
        )
        opened = any(subtract(out, access.visible(ANONYMOUS, mission, p)) for p in limits)
        if opened:
            raise AccessDenied(
                f"published {product} would be more public than its input {f.name}"
                f" ({f.product}): a derived output is no more public than what it is made"
                " from; publish it as a product whose release policy is as strict"
            )
