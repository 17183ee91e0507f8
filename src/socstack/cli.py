"""The ``socstack`` command.

Errors end a command with one clear line on stderr and a non-zero exit code (the
error's own: 78 for configuration, 1 otherwise; 2 for usage; 130 for Ctrl-C); a
traceback appears only with ``--debug``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from socstack import __version__
from socstack._exceptions import ConfigError, SocError
from socstack.catalog.models import Job, JobStatus
from socstack.config import Settings, get_settings
from socstack.logs import setup_logging
from socstack.runtime import Runtime

logger = logging.getLogger("socstack.cli")

#: Exit status of ``socstack ingest`` when at least one file was quarantined.
EXIT_QUARANTINED = 3
_LONG_RUNNING = {"up", "serve", "watch", "worker"}


class SocGroup(click.Group):
    """A group that turns socstack errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command, mapping errors to exit codes."""
        try:
            return super().invoke(ctx)
        except SocError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {exc}", err=True, fg="red")
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)


def _runtime(ctx: click.Context) -> Runtime:
    obj = ctx.ensure_object(dict)
    if "runtime" not in obj:
        obj["runtime"] = Runtime(obj["settings"])
        ctx.call_on_close(obj["runtime"].close)
    return obj["runtime"]


@click.group(cls=SocGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="socstack")
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages.")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def main(ctx: click.Context, verbose: bool, debug: bool) -> None:
    """socstack: a science operations center in containers.

    Settings come from SOC_* environment variables (see `socstack config`).
    """
    obj = ctx.ensure_object(dict)
    obj["debug"] = debug
    if ctx.resilient_parsing:  # shell completion: no side effects
        return
    try:
        settings = get_settings()
    except ConfigError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        ctx.exit(exc.exit_code)
    if verbose:
        settings = settings.model_copy(update={"log_level": "DEBUG"})
    elif ctx.invoked_subcommand not in _LONG_RUNNING:
        # One-shot commands print their own results; their logs are for trouble only.
        settings = settings.model_copy(update={"log_level": "WARNING"})
    obj["settings"] = settings
    setup_logging(settings)


# -- up / serve / watch ---------------------------------------------------------------------


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), help="Port to serve on [SOC_PORT, 8000].")
@click.option("--host", help="Interface to bind [SOC_HOST, 127.0.0.1].")
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Simulate telemetry if the archive is empty.",
)
@click.option("--watch/--no-watch", default=True, show_default=True, help="Watch the drop box.")
@click.option(
    "--process/--no-process", default=True, show_default=True, help="Run the planner and a worker."
)
@click.pass_context
def up(
    ctx: click.Context,
    *,
    port: int | None,
    host: str | None,
    demo: bool,
    watch: bool,
    process: bool,
) -> None:
    """Run the whole data center on this machine (embedded mode).

    Migrates the catalog, seeds simulated telemetry into the drop box when the archive
    is empty, watches the drop box and serves /api on one port until Ctrl-C.
    """
    from socstack.up import up as run_up

    runtime = _runtime(ctx)
    settings: Settings = runtime.settings
    run_up(
        runtime,
        host=host or settings.host,
        port=settings.port if port is None else port,
        demo=demo,
        watch=watch,
        process=process,
        say=lambda text: click.echo(text, err=False),
    )


@main.command()
@click.argument("service", type=click.Choice(["api", "hapi", "viz"]))
@click.option("--port", type=click.IntRange(0, 65535), help="Port to serve on [SOC_PORT, 8000].")
@click.option("--host", help="Interface to bind [SOC_HOST, 127.0.0.1].")
@click.pass_context
def serve(ctx: click.Context, service: str, port: int | None, host: str | None) -> None:
    """Serve one web service (as its container does); api and hapi need a migrated catalog.

    viz reads HAPI and the API over HTTP only (SOC_VIZ_HAPI_URL, SOC_VIZ_API_URL).
    """
    from socstack.up import serve as run_server

    settings: Settings = ctx.ensure_object(dict)["settings"]
    if service == "viz":
        from socstack.viz.service import create_viz_app

        app = create_viz_app(settings, lambda: settings.public_url)
    else:
        from socstack.api.app import create_app as create_api
        from socstack.catalog.migrate import ensure_current
        from socstack.hapi.app import create_app as create_hapi

        runtime = _runtime(ctx)
        settings = runtime.settings
        ensure_current(runtime.catalog)
        runtime.missions  # noqa: B018 - load now: a bad mission file fails before serving
        app = {"api": create_api, "hapi": create_hapi}[service](runtime)
    bind = host or settings.host
    run_server(
        app,
        bind,
        settings.port if port is None else port,
        lambda bound: click.echo(f"serving {service} on http://{bind}:{bound}/{service}"),
    )


@main.command()
@click.option("--once", is_flag=True, help="Ingest what is there now, then exit.")
@click.pass_context
def watch(ctx: click.Context, once: bool) -> None:
    """Watch the drop box (SOC_INCOMING_DIR) and ingest files once they are complete."""
    from socstack.catalog.migrate import ensure_current
    from socstack.ingest.watcher import DropBox

    runtime = _runtime(ctx)
    settings = runtime.settings
    ensure_current(runtime.catalog)
    dropbox = DropBox(
        runtime.ingestor,
        settings.incoming,
        settle=settings.watch_settle,
        interval=settings.watch_interval,
    )
    if once:
        settings.incoming.mkdir(parents=True, exist_ok=True)
        results = dropbox.scan()
        time.sleep(settings.watch_settle)
        results += dropbox.scan()
        _summary(Counter(r.outcome.value for r in results))
        return
    import signal

    stop = threading.Event()
    # SIGTERM (a container stopping) ends the watch between files, as Ctrl-C does; as
    # PID 1 in a container, a process without this handler would not stop at all.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    click.echo(f"watching {settings.incoming} (Ctrl-C to stop)")
    try:
        dropbox.run(stop)
    except KeyboardInterrupt:
        stop.set()


# -- ingest -----------------------------------------------------------------------------------


def _expand(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def _summary(counts: Counter[str]) -> None:
    parts = [f"{counts.get(k, 0)} {k}" for k in ("archived", "unchanged", "quarantined")]
    click.echo("summary: " + ", ".join(parts))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=min(4, os.cpu_count() or 1),
    show_default=True,
    help="Files ingested at once (waits on disk and database overlap).",
)
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, jobs: int) -> None:
    """Ingest files or folders of files into the archive.

    Every file is archived, found unchanged (already archived with the same content),
    or quarantined with its reason. Exits with status 3 if any file was quarantined.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from socstack.catalog.migrate import ensure_current
    from socstack.catalog.models import FileSource

    runtime = _runtime(ctx)
    ensure_current(runtime.catalog)
    ingestor = runtime.ingestor
    files = list(_expand(paths))
    counts: Counter[str] = Counter()
    rejected = []
    show_bar = not as_json and sys.stderr.isatty()
    columns = (TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        Progress(*columns, disable=not show_bar, transient=True) as progress,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ingest") as pool,
    ):
        task = progress.add_task("ingest", total=len(files))
        outcomes = pool.map(lambda p: ingestor.ingest(p, source=FileSource.CLI), files)
        for result in outcomes:
            counts[result.outcome.value] += 1
            if as_json:
                click.echo(json.dumps(result.as_dict()))
            elif result.reason:
                rejected.append(result)
            progress.advance(task)
    for result in rejected:
        click.echo(f"quarantined {result.name}: {result.reason}", err=True)
    if not as_json:
        _summary(counts)
    if counts.get("quarantined"):
        ctx.exit(EXIT_QUARANTINED)


# -- pipeline ---------------------------------------------------------------------------------


@main.command()
@click.option(
    "-Q",
    "--queues",
    default="processing,processing.onprem,processing.any,quicklook",
    show_default=True,
    help="Comma-separated queues to take jobs from.",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    help="Processes [SOC_WORKER_CONCURRENCY or CPUs].",
)
@click.pass_context
def worker(ctx: click.Context, queues: str, concurrency: int | None) -> None:
    """Run a processing worker (a Celery worker) on SOC_BROKER_URL."""
    from socstack.catalog.migrate import ensure_current
    from socstack.pipeline.celery_app import celery_app

    runtime = _runtime(ctx)
    settings = runtime.settings
    ensure_current(runtime.catalog)
    runtime.missions  # noqa: B018 - a bad mission file fails here, not in every job
    runtime.close()  # no connection may cross the worker's fork
    processes = concurrency or settings.worker_concurrency or os.cpu_count() or 1
    names = ",".join(f"{settings.queue_prefix}{q.strip()}" for q in queues.split(",") if q.strip())
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

    from socstack.catalog.migrate import ensure_current
    from socstack.pipeline.celery_app import celery_app
    from socstack.pipeline.planner import Planner
    from socstack.pipeline.tasks import sender

    runtime = _runtime(ctx)
    ensure_current(runtime.catalog)
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
    from socstack.catalog.migrate import ensure_current
    from socstack.pipeline.reprocess import Selection
    from socstack.pipeline.reprocess import reprocess as plan

    runtime = _runtime(ctx)
    ensure_current(runtime.catalog)
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

    runtime = _runtime(ctx)
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if status:
        query = query.where(Job.status == status)
    if rule_id:
        query = query.where(Job.rule == rule_id)
    with runtime.catalog.session() as session:
        rows = list(session.scalars(query))
    for job in rows:
        extra = (
            "waits for " + "; ".join(job.missing)
            if job.missing
            else (job.error or "").strip().splitlines()[-1:] or ""
        )
        if isinstance(extra, list):
            extra = extra[0] if extra else ""
        click.echo(
            f"{job.id:>7}  {job.status.value:<9} {job.rule:<12} {job.partition}  {extra}"[:200]
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

    retry(_runtime(ctx).catalog, job_id)
    click.echo(f"job {job_id} queued again")


# -- demo -------------------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """The simulated demo spacecraft."""


@demo.command("generate")
@click.option(
    "--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, YYYY-MM-DD."
)
@click.option("--days", required=True, type=click.IntRange(1, 3660), help="Number of days.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write.",
)
@click.option(
    "--mission", default="demo", show_default=True, help="Mission whose simulator to run."
)
@click.option("--seed", type=int, default=2025, show_default=True, help="Same seed, same files.")
@click.pass_context
def demo_generate(
    ctx: click.Context, *, start: dt.datetime, days: int, out: Path, mission: str, seed: int
) -> None:
    """Write simulated L0 telemetry and calibration files for DAYS days from START."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from socstack.mission.code import load_callable

    runtime = _runtime(ctx)
    target = runtime.missions.mission(mission)
    if not target.simulator:
        raise ConfigError("the mission declares no simulator", field="simulator")
    simulate = load_callable(target, target.simulator, field="simulator")
    columns = (TextColumn("generate"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task("generate", total=None)
        written = simulate(
            start.date(),
            days,
            out,
            mission=target,
            seed=seed,
            progress=lambda _p: progress.advance(task),
        )
    size = sum(p.stat().st_size for p in written)
    click.echo(f"wrote {len(written)} files ({size / 1e6:.1f} MB) to {out}")


# -- db, quarantine, mission, config ----------------------------------------------------------


@main.group()
def db() -> None:
    """The catalog database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the catalog schema (safe to run again, and concurrently)."""
    from socstack.catalog.migrate import upgrade

    runtime = _runtime(ctx)
    reached = upgrade(runtime.catalog, revision)
    click.echo(f"catalog at revision {reached} ({runtime.catalog!r})")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the catalog's schema revision and the code's."""
    from socstack.catalog.migrate import current_revision, head_revision

    runtime = _runtime(ctx)
    click.echo(f"database: {current_revision(runtime.catalog) or 'none'}  code: {head_revision()}")


@main.group()
def quarantine() -> None:
    """Files that were refused, with their reasons."""


@quarantine.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
@click.pass_context
def quarantine_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List quarantined files, newest first."""
    runtime = _runtime(ctx)
    entries = runtime.ingestor.quarantine.entries(limit)
    for entry in entries:
        if as_json:
            record = {
                "id": entry.id,
                "name": entry.name,
                "kind": entry.kind,
                "reason": entry.reason,
                "source": entry.source.value,
                "size": entry.size,
                "sha256": entry.sha256,
                "quarantined_at": entry.quarantined_at.isoformat(),
            }
            click.echo(json.dumps(record))
        else:
            when = entry.quarantined_at.strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{entry.id:>6}  {when}  {entry.source.value:<8} {entry.name}")
            click.echo(f"        {entry.reason}")
    if not entries and not as_json:
        click.echo("quarantine is empty")


@main.group()
def mission() -> None:
    """Mission configurations."""


@mission.command("check")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def mission_check(ctx: click.Context, folders: tuple[Path, ...]) -> None:
    """Validate mission folders (default: SOC_MISSIONS), importing their code too."""
    from socstack.mission.code import load_callable
    from socstack.mission.loader import load_missions

    settings: Settings = ctx.obj["settings"]
    registry = load_missions(list(folders) or settings.missions)
    for item in registry:
        for rule in item.rules.values():
            load_callable(item, rule.function, field=f"rules.{rule.id}.function")
        if item.simulator:
            load_callable(item, item.simulator, field="simulator")
        click.echo(
            f"{item.name}: {len(item.products)} products, {len(item.datasets)} datasets,"
            f" {len(item.rules)} rules: ok"
        )


@main.command()
@click.option("--url", "urls", multiple=True, help="An http(s) URL that must answer 2xx.")
@click.option("--catalog", is_flag=True, help="The catalog (SOC_DATABASE_URL) must answer.")
@click.option("--broker", is_flag=True, help="The broker (SOC_BROKER_URL) must answer.")
@click.option(
    "--timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True, help="Seconds."
)
@click.pass_context
def health(
    ctx: click.Context, urls: tuple[str, ...], catalog: bool, broker: bool, timeout: float
) -> None:
    """Exit 0 if every named service answers (the containers' healthcheck), else 1."""
    from socstack.health import check_broker, check_catalog, check_url

    if not (urls or catalog or broker):
        raise click.UsageError("name at least one of --url, --catalog, --broker")
    settings: Settings = ctx.obj["settings"]
    answers = [check_url(url, timeout=timeout) for url in urls]
    if catalog:
        answers.append(check_catalog(_runtime(ctx)))
    if broker:
        answers.append(check_broker(settings, timeout=timeout))
    click.echo("ok: " + "; ".join(answers))


@main.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the settings in effect (from SOC_* variables and defaults)."""
    from sqlalchemy.engine import make_url

    settings: Settings = ctx.obj["settings"]
    values = settings.model_dump(mode="json")
    values["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    for key, value in values.items():
        click.echo(
            f"SOC_{key.upper()}={value if not isinstance(value, list) else os.pathsep.join(value)}"
        )


if __name__ == "__main__":
    main()
