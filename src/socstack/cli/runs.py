"""``socstack runs submit|list|show``: notebook runs from the command line.

Like ``socstack users``, these work on the catalog itself; a run is submitted as the
user ``--as`` names (its kernel reads the archive with a token of that user's), or as
the command line's own system identity, whose kernel gets no token and so reads what
is public only. Workers on the ``analysis`` queue execute the run; follow it with
``socstack runs show ID``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from socstack._exceptions import SocError
from socstack.access.identity import Identity
from socstack.analysis.library import check_parameters, find, inspect
from socstack.analysis.runs import submit
from socstack.catalog.models import Job
from socstack.catalog.runs import Run
from socstack.cli._base import catalog_runtime, main
from socstack.cli.access import _cli_identity, _when


@main.group()
def runs() -> None:
    """Notebook runs (papermill) next to the data: submit, list, show."""


def _parameters(pairs: tuple[str, ...], as_json: str | None) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(as_json) if as_json else {}
    if not isinstance(found, dict):
        raise click.BadParameter("give a JSON object", param_hint="--parameters")
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise click.BadParameter(f"{pair!r}: give NAME=VALUE", param_hint="-p")
        try:
            found[key] = json.loads(text)  # 3, 2.5, true, "x", [1, 2] as JSON
        except json.JSONDecodeError:
            found[key] = text  # anything else is a string
    return found


def _row(run: Run, job: Job) -> dict[str, Any]:
    return {
        "id": run.id,
        "notebook": run.notebook,
        "status": job.status.value,
        "submitter": run.submitter,
        "submitted_at": _when(run.submitted_at),
        "progress": {"done": run.cells_done, "total": run.cells_total},
        "parameters": run.parameters,
        "outputs": run.outputs,
        "reads": run.reads,
        "attempts": job.attempts,
        "error": run.error,
    }


@runs.command("submit")
@click.argument("notebook")
@click.option(
    "-p", "pairs", multiple=True, help="A parameter NAME=VALUE (VALUE as JSON if it parses)."
)
@click.option("--parameters", "as_json", help="Parameters as one JSON object.")
@click.option("--as", "as_user", help="Run as this user (the kernel reads as them).")
@click.option("--force", is_flag=True, help="Run again even if the same run exists.")
@click.pass_context
def runs_submit(
    ctx: click.Context,
    *,
    notebook: str,
    pairs: tuple[str, ...],
    as_json: str | None,
    as_user: str | None,
    force: bool,
) -> None:
    """Queue a run of NOTEBOOK: a library name (demo/empty.ipynb) or a notebook file.

    A file is uploaded into the archive with the run, so any worker can execute it.
    """
    runtime = catalog_runtime(ctx)
    identity: Identity = _cli_identity(runtime, as_user)
    path = Path(notebook)
    upload: bytes | None = None
    if path.suffix == ".ipynb" and path.is_file():  # a file of one's own: uploaded
        found = inspect(path, name=path.name, origin="upload")
        upload = path.read_bytes()
    else:
        found = find(runtime.settings, runtime.missions, notebook)
    parameters = check_parameters(found, _parameters(pairs, as_json))
    done = submit(runtime, identity, found, parameters, force=force, upload=upload)
    what = "queued" if done.created else f"exists already ({done.job.status.value})"
    click.echo(f"run {done.run.id}: {found.name} {what}")


@runs.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per run.")
@click.pass_context
def runs_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The newest runs."""
    runtime = catalog_runtime(ctx)
    with runtime.catalog.session() as session:
        rows = session.execute(
            select(Run, Job).join(Job, Job.id == Run.job_id).order_by(Run.id.desc()).limit(limit)
        ).all()
    for run, job in rows:
        if as_json:
            click.echo(json.dumps(_row(run, job)))
        else:
            click.echo(
                f"{run.id:>6} {job.status.value:<10} {run.cells_done:>3}/{run.cells_total:<3}"
                f" {run.submitter:<16} {run.notebook}"
            )
    if not rows and not as_json:
        click.echo("no runs")


@runs.command("show")
@click.argument("run_id", type=int)
@click.pass_context
def runs_show(ctx: click.Context, run_id: int) -> None:
    """One run: status, progress, parameters, outputs, error (as JSON)."""
    runtime = catalog_runtime(ctx)
    with runtime.catalog.session() as session:
        found = session.execute(
            select(Run, Job).join(Job, Job.id == Run.job_id).where(Run.id == run_id)
        ).first()
    if found is None:
        raise SocError(f"no run {run_id}")
    click.echo(json.dumps(_row(found[0], found[1]), indent=2, sort_keys=True))
