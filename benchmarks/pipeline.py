"""Pipeline benchmarks: drop box to HAPI latency, a mission-year reprocessing, planner cost.

    python benchmarks/pipeline.py latency --broker embedded --days 20
    python benchmarks/pipeline.py latency --broker redis --days 20
    python benchmarks/pipeline.py reprocess --days 365
    python benchmarks/pipeline.py planner --files 10000,100000,1000000

latency
    Runs ``socstack up --no-demo`` (drop-box watcher, planner, one worker of two
    processes, the web server) on SQLite and the embedded transport, or on PostgreSQL
    and Redis. The calibrations go in first; then, one day at a time, the day's two L0
    files land in the drop box (written under a partial name, then renamed, as uploaders
    should) and the clock runs until each L2 dataset (magnetometer, plasma, and the
    combined solar wind) answers a HAPI data request for that day with its first bytes
    of data (polled every 20 ms). The next day
    lands once every job of the day, quicklooks included, has ended. The catalog then
    gives each stage's share.

reprocess
    A mission year of demo telemetry is ingested, processed once, then every rule's code
    version is bumped and ``reprocess`` runs over the year, with a worker of two
    processes and the planner in this process, timed pass by pass. Reports jobs/s and
    where the time went: planning (every planner pass and the reprocess call) against the
    rules' own code (recorded by each job) and the rest of each job (fetching inputs,
    archiving outputs).

planner
    Fills a scratch PostgreSQL catalog with synthetic days of the demo mission (every
    product, with the jobs that made them) up to each size, then times the planner on
    the events of new days: L0 through L2 and quicklooks arriving, each planned alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from _common import DEFAULT_POSTGRES, free_port, machine, percentile, scratch_database
from sqlalchemy import func, select, text

from socstack.catalog.events import append_event, file_payload
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import JOB_ENDED, Event, File, FileSource, Job, JobStatus, PlannerState
from socstack.config import Settings, bundled_missions_dir
from socstack.mission import Version
from socstack.pipeline.planner import PLANNER, Planner
from socstack.pipeline.reprocess import Selection, reprocess
from socstack.runtime import Runtime

REDIS = "redis://127.0.0.1:6379/0"
MISSION = "demo"
L2_DATASETS = {"mag": "demo_mag_l2_1s", "pls": "demo_pls_l2", "sw": "demo_sw_l2"}
#: The demo mission's daily products in the order its chain makes them.
CHAIN = (
    "mag_l0",
    "pls_l0",
    "mag_l1a",
    "pls_l1a",
    "mag_l1b",
    "pls_l1b",
    "mag_l2",
    "pls_l2",
    "sw_l2",
    "mag_ql",
    "pls_ql",
)
ENDED = JOB_ENDED


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- telemetry, catalogs, processes -----------------------------------------------------------


def telemetry(folder: Path, start: dt.date, days: int) -> list[Path]:
    """Demo L0 and calibration files for ``days`` days (made once, then reused)."""
    marker = folder / f"ready-{start}-{days}"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        say(f"simulating {days} days of telemetry into {folder}")
        subprocess.run(
            [
                *(sys.executable, "-m", "socstack", "demo", "generate"),
                *("--start", str(start), "--days", str(days), "--out", str(folder)),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        marker.write_text("ok\n")
    return sorted(p for p in folder.iterdir() if not p.name.startswith("ready-"))


def fresh_folder(folder: Path) -> Path:
    """``folder``, emptied of an earlier run's data."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@contextmanager
def stack_urls(broker: str, postgres: str, label: str, data: Path) -> Iterator[dict[str, str]]:
    """The catalog and broker settings of one run: SQLite and embedded, or PostgreSQL and Redis."""
    prefix = f"bench{os.getpid()}."
    if broker == "embedded":
        yield {"SOC_DATABASE_URL": f"sqlite:///{data / 'catalog.sqlite'}", "SOC_BROKER_URL": ""}
        return
    with scratch_database(postgres, label) as url:
        try:
            yield {
                "SOC_DATABASE_URL": url,
                "SOC_BROKER_URL": REDIS if broker == "redis" else broker,
                "SOC_QUEUE_PREFIX": prefix,
            }
        finally:
            if broker == "redis":
                import redis

                client = redis.Redis.from_url(REDIS)
                keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
                if keys:
                    client.delete(*keys)


def environment(data: Path, urls: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update(
        SOC_DATA_DIR=str(data),
        SOC_LOG_FORMAT="text",
        SOC_LOG_LEVEL="WARNING",
        SOC_WORKER_CONCURRENCY="2",
        **{k: v for k, v in urls.items() if v},
        **extra,
    )
    return env


def runtime_for(env: dict[str, str]) -> Runtime:
    values = {k.removeprefix("SOC_").lower(): v for k, v in env.items() if k.startswith("SOC_")}
    return Runtime(Settings(**values))  # type: ignore[arg-type]


def start_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "socstack", *args],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def job_counts(runtime: Runtime) -> tuple[Counter[JobStatus], bool]:
    """Jobs by status, and whether the planner has read every event."""
    with runtime.catalog.session() as session:
        counts = Counter(
            dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        )
        last = session.scalar(select(func.max(Event.id))) or 0
        state = session.get(PlannerState, PLANNER)
    return counts, state is not None and state.cursor >= last


def settled(runtime: Runtime) -> bool:
    counts, planned = job_counts(runtime)
    return planned and counts[JobStatus.QUEUED] == 0 and counts[JobStatus.RUNNING] == 0


def wait_until(condition: Any, what: str, timeout: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values),
        "p95": percentile(values, 95),
        "max": max(values),
        "n": len(values),
    }


# -- latency -----------------------------------------------------------------------------------


def deliver(path: Path, incoming: Path) -> None:
    """Write under a partial name, then rename: the drop box convention for uploaders."""
    partial = incoming / f".{path.name}.part"
    shutil.copyfile(path, partial)
    os.rename(partial, incoming / path.name)


def hapi_has_data(base: str, dataset: str, day: dt.date) -> bool:
    """True when a HAPI request for the day answers with data (its first bytes suffice)."""
    stop = day + dt.timedelta(days=1)
    url = f"{base}/hapi/data?dataset={dataset}&start={day}T00:00:00Z&stop={stop}T00:00:00Z"
    try:
        with urllib.request.urlopen(url + "&format=binary", timeout=10) as response:
            return response.status == 200 and bool(response.read(64))
    except urllib.error.HTTPError:
        return False  # 1405 (outside the coverage) or 1201 (no data yet)


def latency(args: argparse.Namespace) -> dict[str, Any]:
    start = dt.date(2025, 1, 1)
    files = telemetry(args.work / f"telemetry-{args.days}", start, args.days)
    data = fresh_folder(args.work / f"latency-{args.broker}")
    results: dict[str, Any] = {"broker": args.broker, "days": args.days}
    with stack_urls(args.broker, args.postgres, "latency", data) as urls:
        port = free_port()
        env = environment(data, urls, SOC_PORT=str(port))
        base = f"http://127.0.0.1:{port}"
        server = start_process(["up", "--no-demo"], env, data / "up.log")
        runtime = runtime_for(env)
        try:
            wait_until(lambda: hapi_up(base), "socstack up", 120)
            incoming = runtime.settings.incoming
            calibrations = [p for p in files if "_anc_" in p.name]
            for path in calibrations:
                deliver(path, incoming)
            wait_until(
                lambda: count_files(runtime, ("mag_cal", "pls_cal")) == len(calibrations),
                "calibrations",
                60,
            )
            seen: dict[str, list[float]] = defaultdict(list)
            landed: dict[dt.date, float] = {}
            for k in range(args.days):
                day = start + dt.timedelta(days=k)
                stamp = day.strftime("%Y%m%d")
                today = [p for p in files if f"_l0_raw_{stamp}_" in p.name]
                t0 = time.monotonic()
                landed[day] = time.time()
                for path in today:
                    deliver(path, incoming)
                pending = dict(L2_DATASETS)
                while pending:
                    if time.monotonic() - t0 > 180:
                        raise RuntimeError(f"{day}: no L2 data after 180 s ({sorted(pending)})")
                    for key, dataset in list(pending.items()):
                        if hapi_has_data(base, dataset, day):
                            seen[key].append(time.monotonic() - t0)
                            del pending[key]
                    time.sleep(0.02)
                wait_until(
                    lambda day=day: settled(runtime) and day_done(runtime, day), f"{day}", 180
                )
                say(f"{day}: " + ", ".join(f"{key} {seen[key][-1]:.2f} s" for key in L2_DATASETS))
            results["latency"] = {key: summarize(v) for key, v in seen.items()}
            results["stages"] = stages(runtime, landed)
            counts, _ = job_counts(runtime)
            results["jobs"] = {str(s): n for s, n in counts.items()}
        finally:
            runtime.close()
            stop_process(server)
    return results


def hapi_up(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/hapi/about", timeout=2):
            return True
    except OSError:
        return False


def count_files(runtime: Runtime, products: tuple[str, ...]) -> int:
    with runtime.catalog.session() as session:
        return session.scalar(
            select(func.count()).select_from(File).where(File.product.in_(products))
        )


def day_done(runtime: Runtime, day: dt.date) -> bool:
    with runtime.catalog.session() as session:
        statuses = list(session.scalars(select(Job.status).where(Job.partition == day.isoformat())))
    rules = len(runtime.missions.mission("demo").rules)  # one job per rule and day
    return len(statuses) == rules and all(s in ENDED for s in statuses)


def unix(moment: dt.datetime) -> float:
    """Seconds since the epoch of a catalog time (naive times are UTC)."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def stages(runtime: Runtime, landed: dict[dt.date, float]) -> dict[str, dict[str, float]]:
    """Median seconds of each stage of both chains and the combined L2, from the catalog."""
    per_stage: dict[str, list[float]] = defaultdict(list)
    chains = {
        "mag_l0": ("mag_l1a", "mag_l1b", "mag_l2"),
        "pls_l0": ("pls_l1a", "pls_l1b", "pls_l2"),
    }
    with runtime.catalog.session() as session:
        for day, t0 in landed.items():
            partition = day.isoformat()
            jobs = {
                j.rule: j for j in session.scalars(select(Job).where(Job.partition == partition))
            }
            ends = []
            for l0, rules in chains.items():
                archived = session.scalar(
                    select(File.ingested_at).where(
                        (File.product == l0) & (File.partition == partition)
                    )
                )
                previous = unix(archived)
                per_stage[f"{l0}: drop box to archived"].append(previous - t0)
                for rule in rules:
                    previous = _job_stages(per_stage, jobs[rule], previous)
                ends.append(previous)
            _job_stages(per_stage, jobs["sw_l2"], max(ends))
    return {name: {"p50": statistics.median(v)} for name, v in per_stage.items()}


def _job_stages(per_stage: dict[str, list[float]], job: Job, inputs_at: float) -> float:
    """Record a job's planning, waiting and running; returns when it finished."""
    queued = unix(job.queued_at or job.created_at)  # a blocked job is queued when complete
    started, finished = unix(job.started_at), unix(job.finished_at)
    per_stage[f"{job.rule}: last input archived to job queued"].append(max(0.0, queued - inputs_at))
    per_stage[f"{job.rule}: queued to started"].append(started - queued)
    per_stage[f"{job.rule}: run"].append(finished - started)
    per_stage[f"{job.rule}: of which rule code"].append(job.rule_seconds or 0.0)
    return finished


# -- reprocessing ------------------------------------------------------------------------------


class TimedPlanner(Planner):
    """The planner, counting the seconds of its passes."""

    busy = 0.0
    passes = 0

    def step(self) -> int:
        began = time.perf_counter()
        try:
            return super().step()
        finally:
            self.busy += time.perf_counter() - began
            self.passes += 1


def run_until_settled(runtime: Runtime, planner: TimedPlanner, label: str) -> float:
    """Plan and dispatch until every event is planned and every job has ended."""
    began = time.monotonic()
    last_report = began
    while True:
        handled = planner.step()
        if not handled:
            if settled(runtime):
                return time.monotonic() - began
            time.sleep(runtime.settings.planner_interval)
        if time.monotonic() - last_report > 30:
            counts, _ = job_counts(runtime)
            done = sum(counts[s] for s in ENDED)
            say(f"{label}: {done} jobs ended, {counts[JobStatus.QUEUED]} queued")
            last_report = time.monotonic()


def job_seconds(runtime: Runtime, after: int) -> dict[str, float]:
    with runtime.catalog.session() as session:
        rows = session.execute(
            select(Job.status, Job.started_at, Job.finished_at, Job.rule_seconds).where(
                Job.id > after
            )
        ).all()
    ran = [r for r in rows if r.started_at and r.finished_at]
    return {
        "jobs": len(ran),
        "failed": sum(1 for r in ran if r.status in (JobStatus.FAILED, JobStatus.TIMED_OUT)),
        "superseded": sum(1 for r in rows if r.status == JobStatus.SUPERSEDED),
        "job_seconds": sum((r.finished_at - r.started_at).total_seconds() for r in ran),
        "rule_seconds": sum(r.rule_seconds or 0.0 for r in ran),
    }


def bumped_mission(folder: Path) -> Path:
    """A copy of the demo mission with every rule's code version bumped (Z + 1)."""
    copy = folder / "demo-bumped"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(bundled_missions_dir() / "demo", copy)
    config = yaml.safe_load((copy / "mission.yaml").read_text())
    for rule in config["rules"].values():
        version = Version.parse(str(rule["code_version"]))
        rule["code_version"] = str(Version(version.major, version.minor, version.patch + 1))
    (copy / "mission.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return copy


def phase(
    runtime: Runtime, env: dict[str, str], data: Path, label: str, before: Any = None
) -> dict[str, float]:
    """One worker of two processes, the timed planner here, until everything has ended."""
    worker = start_process(["worker", "--concurrency", "2"], env, data / f"worker-{label}.log")
    from socstack.pipeline.celery_app import make_celery
    from socstack.pipeline.tasks import sender

    try:
        planner = TimedPlanner(runtime, sender(make_celery(runtime.settings), runtime.settings))
        with runtime.catalog.session() as session:
            after = session.scalar(select(func.max(Job.id))) or 0
        began = time.perf_counter()
        planning = 0.0
        if before is not None:
            planning = before()
        run_until_settled(runtime, planner, label)
        wall = time.perf_counter() - began
    finally:
        stop_process(worker)
    stats = job_seconds(runtime, after)
    stats.update(
        wall=wall,
        planner_seconds=planner.busy + planning,
        reprocess_call_seconds=planning,
        passes=planner.passes,
    )
    stats["jobs_per_s"] = stats["jobs"] / wall
    return stats


def reprocessing(args: argparse.Namespace) -> dict[str, Any]:
    start = dt.date(2025, 1, 1)
    stop = start + dt.timedelta(days=args.days - 1)
    files = telemetry(args.work / f"telemetry-{args.days}", start, args.days)
    data = fresh_folder(args.work / f"reprocess-{args.broker}")
    results: dict[str, Any] = {"broker": args.broker, "days": args.days}
    with stack_urls(args.broker, args.postgres, "reprocess", data) as urls:
        env = environment(data, urls)
        runtime = runtime_for(env)
        upgrade(runtime.catalog)
        began = time.perf_counter()
        for path in files:
            runtime.ingestor.ingest(path, source=FileSource.CLI)
        results["ingest_seconds"] = time.perf_counter() - began
        say(f"ingested {len(files)} files in {results['ingest_seconds']:.0f} s")
        results["first"] = phase(runtime, env, data, "first")
        say(f"first processing: {results['first']}")
        runtime.close()

        env["SOC_MISSIONS"] = str(bumped_mission(data))
        runtime = runtime_for(env)

        def plan() -> float:
            began = time.perf_counter()
            summary = reprocess(runtime, Selection(mission=MISSION), start, stop)
            results["reprocess_summary"] = {
                "planned": len(summary.jobs),
                "following": summary.following,
                "unchanged": summary.unchanged,
            }
            return time.perf_counter() - began

        results["reprocess"] = phase(runtime, env, data, "reprocess", before=plan)
        say(f"reprocessing: {results['reprocess']}")
        runtime.close()
    return results


# -- planner cost ------------------------------------------------------------------------------

FILL_DAYS_SQL = """
INSERT INTO files (name, mission, product, instrument, level, descriptor, partition,
    start, stop, version, version_major, version_minor, version_patch, format, size, sha256,
    uri, records, status, source, ingested_at, code_version, quality)
SELECT p.prefix || to_char(d, 'YYYYMMDD') || p.suffix, 'demo', p.product, p.instrument,
    p.level, p.descriptor, to_char(d, 'YYYY-MM-DD'), d, d + interval '1 day', '1.0.0', 1, 0, 0,
    p.format, 1000, md5(p.product || d::text) || md5(d::text || p.product),
    'file:///bench/' || p.product || '/' || to_char(d, 'YYYYMMDD'), 86400, 'archived',
    'pipeline', now(), '1.0.0', 1
FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
CROSS JOIN (SELECT * FROM json_to_recordset(CAST(:products AS json)) AS x(
    product text, instrument text, level text, descriptor text, format text, prefix text,
    suffix text)) AS p
"""

FILL_JOBS_SQL = """
INSERT INTO jobs (mission, rule, partition, dependency_hash, status, inputs, missing, outputs,
    code_version, quality, queue, timeout, reason, attempts, created_at, queued_at,
    started_at, finished_at, worker)
SELECT 'demo', r.rule, to_char(d, 'YYYY-MM-DD'), md5(r.rule || d::text), 'succeeded', '[]',
    '[]', '[]', '1.0.0', 1, 'processing', 600, 'bench', 1, now(), now(), now(), now(), 'bench'
FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 day') AS d
CROSS JOIN unnest(CAST(:rules AS text[])) AS r(rule)
"""


def _product_rows(runtime: Runtime) -> list[dict[str, str]]:
    mission = runtime.missions.mission(MISSION)
    rows = []
    for product_id in CHAIN:
        product = mission.products[product_id]
        sample = product.file_name(dt.date(2000, 1, 1), Version(1, 0, 0)).name
        prefix, suffix = sample.split("20000101")
        rows.append(
            {
                "product": product.id,
                "instrument": product.instrument,
                "level": product.level,
                "descriptor": product.descriptor,
                "format": product.format,
                "prefix": prefix,
                "suffix": suffix,
            }
        )
    return rows


def fill(runtime: Runtime, first: dt.date, days: int) -> None:
    """``days`` synthetic days of every daily product, with their jobs, from ``first``."""
    mission = runtime.missions.mission(MISSION)
    last = first + dt.timedelta(days=days - 1)
    with runtime.catalog.engine.begin() as connection:
        connection.execute(
            text(FILL_DAYS_SQL),
            {"first": first, "last": last, "products": json.dumps(_product_rows(runtime))},
        )
        connection.execute(
            text(FILL_JOBS_SQL), {"first": first, "last": last, "rules": list(mission.rules)}
        )
        connection.execute(text("ANALYZE files; ANALYZE jobs"))


def arrive(runtime: Runtime, product_id: str, day: dt.date) -> None:
    """A file of ``product_id`` for ``day`` archived, as ingest records it (row and event)."""
    product = runtime.missions.mission(MISSION).products[product_id]
    name = product.file_name(day, Version(1, 0, 0)).name
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    row = {
        "name": name,
        "mission": MISSION,
        "product": product.id,
        "instrument": product.instrument,
        "level": product.level,
        "descriptor": product.descriptor,
        "partition": day.isoformat(),
        "start": midnight,
        "stop": midnight + dt.timedelta(days=1),
        "version": "1.0.0",
        "version_major": 1,
        "version_minor": 0,
        "version_patch": 0,
        "format": product.format,
        "size": 1000,
        "sha256": "0" * 64,
        "uri": f"file:///bench/{name}",
        "records": 86400,
        "status": "archived",
        "source": FileSource.PIPELINE,
        "ingested_at": dt.datetime.now(dt.UTC),
    }
    with runtime.catalog.transaction() as session:
        runtime.catalog.insert(session, File, row, lock=f"partition:{product_id}/{day}")
        append_event(runtime.catalog, session, "file.archived", name, file_payload(row))


def planner_cost(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.files.split(","))
    per_day = len(CHAIN)
    results: dict[str, Any] = {"sizes": {}}
    with scratch_database(args.postgres, "planner") as url:
        runtime = Runtime(Settings(data_dir=args.work / "planner", database_url=url))
        upgrade(runtime.catalog)
        anchor = dt.date(1800, 1, 1)
        filled = 0
        for calibration in ("mag_cal", "pls_cal"):  # valid from 1800: covers every day
            arrive(runtime, calibration, anchor)
        planner = Planner(runtime)
        planner.plan_events(limit=100)
        for size_index, size in enumerate(sizes):
            days = size // per_day - filled
            if days > 0:
                began = time.perf_counter()
                fill(runtime, anchor + dt.timedelta(days=filled), days)
                filled += days
                say(
                    f"{filled * per_day} files in the catalog ({time.perf_counter() - began:.0f} s)"
                )
            # New days, after everything in the catalog (which ends before 2100).
            first_new = dt.date(5000 + 100 * size_index, 1, 1)
            costs: dict[str, list[float]] = defaultdict(list)
            created = 0
            with runtime.catalog.session() as session:
                jobs_before = session.scalar(select(func.count()).select_from(Job)) or 0
            for k in range(args.new_days):
                day = first_new + dt.timedelta(days=k)
                for product_id in CHAIN:
                    arrive(runtime, product_id, day)
                    began = time.perf_counter()
                    handled = planner.plan_events(limit=1)
                    costs[product_id].append(time.perf_counter() - began)
                    assert handled == 1
            with runtime.catalog.session() as session:
                created = (session.scalar(select(func.count()).select_from(Job)) or 0) - jobs_before
                files = session.scalar(select(func.count()).select_from(File)) or 0
                jobs = session.scalar(select(func.count()).select_from(Job)) or 0
            every = [c for values in costs.values() for c in values]
            results["sizes"][size] = {
                "files": files,
                "jobs": jobs,
                "events": len(every),
                "jobs_created": created,
                "per_event_ms": {k: v * 1000 for k, v in summarize(every).items() if k != "n"},
                "by_product_ms": {p: statistics.median(v) * 1000 for p, v in costs.items()},
            }
            say(f"{size}: {results['sizes'][size]['per_event_ms']}")
        runtime.close()
    return results


# -- report ------------------------------------------------------------------------------------


def report(command: str, results: dict[str, Any]) -> None:
    print(f"\n{dt.date.today()}, {machine()}\n")
    if command == "latency":
        print(f"Broker: {results['broker']}, {results['days']} days, one day at a time\n")
        print("| L2 dataset | p50 s | p95 s | max s |")
        print("|---|---|---|---|")
        for key, stats in results["latency"].items():
            print(
                f"| {L2_DATASETS[key]} | {stats['p50']:.2f} | {stats['p95']:.2f} | {stats['max']:.2f} |"
            )
        print("\n| stage | p50 s |")
        print("|---|---|")
        for name, stats in results["stages"].items():
            print(f"| {name} | {stats['p50']:.2f} |")
    elif command == "reprocess":
        print(f"Broker: {results['broker']}, {results['days']} days, one worker of 2 processes\n")
        print(
            "| pass | jobs | wall s | jobs/s | planning % of wall | rule code % of worker time | rest of jobs % | failed |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for key in ("first", "reprocess"):
            r = results[key]
            capacity = 2 * r["wall"]
            print(
                f"| {key} | {r['jobs']} | {r['wall']:.0f} | {r['jobs_per_s']:.2f}"
                f" | {100 * r['planner_seconds'] / r['wall']:.1f}"
                f" | {100 * r['rule_seconds'] / capacity:.1f}"
                f" | {100 * (r['job_seconds'] - r['rule_seconds']) / capacity:.1f} | {r['failed']} |"
            )
        print(f"\nreprocess call: {results['reprocess_summary']}")
    else:
        print(
            "| files in the catalog | jobs | events timed | p50 ms/event | p95 ms/event | jobs made |"
        )
        print("|---|---|---|---|---|---|")
        for r in results["sizes"].values():
            print(
                f"| {r['files']:,} | {r['jobs']:,} | {r['events']} | {r['per_event_ms']['p50']:.2f}"
                f" | {r['per_event_ms']['p95']:.2f} | {r['jobs_created']} |"
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (kept)")
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES, help="server for scratch databases")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("latency", help="drop box to HAPI, day by day")
    one.add_argument("--broker", choices=("embedded", "redis"), default="embedded")
    one.add_argument("--days", type=int, default=20)
    two = commands.add_parser("reprocess", help="a mission-year reprocessing")
    two.add_argument("--broker", choices=("embedded", "redis"), default="redis")
    two.add_argument("--days", type=int, default=365)
    three = commands.add_parser("planner", help="planner cost per event against catalog size")
    three.add_argument("--files", default="10000,100000,1000000")
    three.add_argument("--new-days", type=int, default=20, help="days of new events per size")
    args = parser.parse_args()
    keep = args.work is not None
    args.work = args.work or Path(tempfile.mkdtemp(prefix="socstack-bench-"))
    args.work.mkdir(parents=True, exist_ok=True)
    run = {"latency": latency, "reprocess": reprocessing, "planner": planner_cost}[args.command]
    try:
        results = run(args)
    finally:
        if not keep:
            shutil.rmtree(args.work, ignore_errors=True)
    results.update(date=dt.date.today().isoformat(), machine=machine())
    report(args.command, results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
