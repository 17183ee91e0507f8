"""``socstack worker``, ``planner``, ``reprocess`` and ``jobs``: the processing pipeline."""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from typing import Any

import click

from socstack.catalog.models import Job, JobStatus
from socstack.cli._base import catalog_runtime, main
from socstack.runtime import Runtime


@main.command()
@click.option(
    "-Q",
    "--queues",
    help="Comma-separated queues to take jobs from [SOC_QUEUES: every queue of the deployment].",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Processes [SOC_WORKER_CONCURRENCY or CPUs].",
)
@click.pass_context
def worker(ctx: click.Context, queues: str | None, concurrency: int | None) -> None:
    """Run a processing worker (a Celery worker) on SOC_BROKER_URL."""
    from socstack.pipeline.celery_app import celery_app

    runtime = catalog_runtime(ctx)
    settings = runtime.settings
    runtime.missions  # noqa: B018 - a bad mission file fails here, not in every job
    runtime.close()  # no connection may cross the worker's fork
    processes = concurrency or settings.worker_concurrency or os.cpu_count() or 1
    wanted = [q.strip() for q in queues.split(",") if q.strip()] if queues else settings.queues
    names = ",".join(f"{settings.queue_prefix}{q}" for q in wanted)
    argv = [
        "worker",
        "--queues",
        names,
        "--concurrency",
        str(processes),
        "--loglevel",
        settings.log_level,
        "--hostname",
        f"socstack-{os.getpid()}@%h",
        "--without-mingle",
        "--without-gossip",
    ]
    celery_app().worker_main(argv)


@main.command()
@click.pass_context
def planner(ctx: click.Context) -> None:
    """Plan jobs from the event log and send them to the workers (one per cluster)."""
    import signal

    from socstack.pipeline.celery_app import celery_app
    from socstack.pipeline.planner import Planner
    from socstack.pipeline.tasks import sender

    runtime = catalog_runtime(ctx)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Planner(runtime, sender(celery_app(), runtime.settings)).run(stop)


@main.command()
@click.option("--mission", help="Only this mission's rules.")
@click.option("--instrument", help="Only rules making this instrument's products.")
@click.option("--product", help="Only the rule making this product.")
@click.option("--rule", "rule_id", help="Only this rule.")
@click.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day.")
@click.option(
    "--stop", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Last day (included)."
)
@click.option(
    "--wait",
    is_flag=True,
    help="Show progress until the planned jobs, and the levels following them, have ended.",
)
@click.pass_context
def reprocess(
    ctx: click.Context,
    *,
    mission: str | None,
    instrument: str | None,
    product: str | None,
    rule_id: str | None,
    start: dt.datetime,
    stop: dt.datetime,
    wait: bool,
) -> None:
    """Re-plan rules over a date range; only jobs whose inputs or code changed run.

    Later levels follow by themselves as the new outputs arrive.
    """
    from socstack.pipeline.reprocess import Selection
    from socstack.pipeline.reprocess import reprocess as plan

    runtime = catalog_runtime(ctx)
    selection = Selection(mission=mission, instrument=instrument, product=product, rule=rule_id)
    summary = plan(runtime, selection, start.date(), stop.date())
    click.echo(
        f"{selection.describe()}, {summary.start} to {summary.stop}:"
        f" {len(summary.jobs)} jobs planned, {summary.unchanged} unchanged,"
        f" {summary.blocked} waiting for inputs, {summary.following} to follow new inputs"
        f" (rules: {', '.join(summary.rules)})"
    )
    if wait and summary.jobs:
        _wait_for(runtime, summary)


def _wait_for(runtime: Runtime, summary: Any) -> None:
    """Follow the reprocessing and the levels after it until nothing is left to run."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from socstack.pipeline.reprocess import progress

    columns = (TextColumn("jobs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("jobs", total=len(summary.jobs))
        while True:
            now = progress(runtime, summary)
            bar.update(task, completed=now.ended, total=now.total)
            if now.settled:
                break
            time.sleep(1.0)
    click.echo(", ".join(f"{n} {s.value}" for s, n in sorted(now.counts.items())))


@main.group()
def jobs() -> None:
    """Processing jobs."""


@jobs.command("list")
@click.option(
    "--status",
    type=click.Choice([s.value for s in JobStatus]),
)
@click.option("--rule", "rule_id", help="Only this rule.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.pass_context
def jobs_list(ctx: click.Context, status: str | None, rule_id: str | None, limit: int) -> None:
    """List jobs, newest first."""
    from sqlalchemy import select

    runtime = catalog_runtime(ctx)
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if rule_id:
        query = query.where(Job.rule == rule_id)
    with runtime.catalog.session() as session:
        rows = list(session.scalars(query))
    for job in rows:
        note = _job_note(job)
        click.echo(
            f"{job.id:>7}  {job.status.value:<9} {job.rule:<12} {job.partition}  {note}"[:200]
        )
    if not rows:
        click.echo("no jobs")


def _job_note(job: Job) -> str:
    if job.missing:
        return "waits for " + "; ".join(job.missing)
    lines = (job.error or "").strip().splitlines()
    return lines[-1] if lines else ""


@jobs.command("retry")
@click.argument("job_id", type=int)
@click.pass_context
def jobs_retry(ctx: click.Context, job_id: int) -> None:
    """Queue a failed or timed-out job again."""
    from socstack.pipeline.jobs import retry

    retry(catalog_runtime(ctx).catalog, job_id)
    click.echo(f"job {job_id} queued again")
