"""Ingest throughput: many small files, and one large file against a plain copy.

Runs the real ingest path (name -> product, checksum, format inspection, atomic store,
catalog row and event in one transaction) on SQLite and on PostgreSQL, and prints a
Markdown table for benchmarks/README.md.

    python benchmarks/ingest.py                      # SQLite and the local PostgreSQL
    python benchmarks/ingest.py --postgres none      # SQLite only
    python benchmarks/ingest.py --small 1000 --big-mb 200 --runs 5

Small files: daily magnetometer L0 files of ten packets (3.8 kB) for 1000 days, ingested
one at a time, and two at a time as ``socstack ingest --jobs 2`` does.
Large file: one burst-mode (512 vectors/s) magnetometer L0 file of about 200 MB. Its
ingest is timed against ``shutil.copyfile`` of the same file onto the same filesystem,
run for run, in four conditions: the page cache warm or cold (caches dropped before each
copy and each ingest; needs root, otherwise skipped), and with ``fsync`` on or off (with
it on, the plain copy is fsynced too, as ingest does).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from _common import DEFAULT_POSTGRES, machine, scratch_database
from sqlalchemy import text

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import FileSource
from socstack.config import Settings, bundled_missions_dir
from socstack.ingest import Outcome
from socstack.mission import Version, load_callable, load_missions
from socstack.runtime import Runtime

TABLES = "provenance, files, quarantine, jobs, events"


def make_small_files(folder: Path, count: int) -> list[Path]:
    """``count`` daily L0 files of ten packets each, from the demo simulator."""
    registry = load_missions([bundled_missions_dir() / "demo"])
    mission = registry.mission("demo")
    load_callable(mission, mission.simulator or "", field="simulator")
    from demo_mission.simulate.solar_wind import SolarWindModel
    from demo_mission.simulate.spacecraft import mag_day

    model = SolarWindModel(2025)
    product = mission.products["mag_l0"]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        day = dt.date(2020, 1, 1) + dt.timedelta(days=k)
        path = folder / product.file_name(day, Version(1, 0, 0)).name
        packets = mag_day(model, 2025, day, hours=3)[: 10 * 378]  # the day's first ten packets
        path.write_bytes(packets)
        paths.append(path)
    return paths


def make_big_file(folder: Path, megabytes: int) -> Path:
    """A burst-mode magnetometer file of about ``megabytes`` MB (within one day up to 270 MB)."""
    registry = load_missions([bundled_missions_dir() / "demo"])
    mission = registry.mission("demo")
    load_callable(mission, mission.simulator or "", field="simulator")
    from demo_mission.simulate.solar_wind import SolarWindModel
    from demo_mission.simulate.spacecraft import mag_day

    rate_log2 = 9  # 512 vectors/s in 378-byte packets of 60: about 11.6 MB an hour
    hours = megabytes * 1e6 / (378 * 2**rate_log2 / 60 * 3600)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / mission.products["mag_l0"].file_name(dt.date(2025, 6, 1), Version(1, 0, 0)).name
    path.write_bytes(
        mag_day(SolarWindModel(2025), 2025, dt.date(2025, 6, 1), rate_log2=rate_log2, hours=hours)
    )
    return path


def fresh_runtime(base: Path, database: str, fsync: bool) -> Runtime:
    """An empty data center: new folders, and an empty migrated catalog."""
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    if database == "sqlite":
        url = f"sqlite:///{base / 'catalog.sqlite'}"
    else:
        url = database
    settings = Settings(data_dir=base, database_url=url, archive_fsync=fsync)
    runtime = Runtime(settings)
    upgrade(runtime.catalog)
    if database != "sqlite":
        with runtime.catalog.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    runtime.missions  # noqa: B018 - load outside the timed part
    return runtime


def time_small(paths: list[Path], base: Path, database: str, runs: int, jobs: int) -> list[float]:
    """Files/s of the ingest path, one file at a time or ``jobs`` at once (as the CLI does)."""
    rates = []
    for _ in range(runs):
        runtime = fresh_runtime(base, database, fsync=True)
        ingestor = runtime.ingestor
        settle_disk()
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            ingest = partial(ingestor.ingest, source=FileSource.CLI)
            results = list(pool.map(ingest, paths))
        rates.append(len(paths) / (time.perf_counter() - start))
        assert all(r.outcome == Outcome.ARCHIVED for r in results)
        runtime.close()
    return rates


def drop_caches() -> bool:
    """Empty the page cache (root only); True if it worked."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        return False
    return True


def settle_disk() -> None:
    """Let earlier phases' dirty pages reach the disk, so they do not slow this one."""
    os.sync()
    time.sleep(0.5)


def _copy(source: Path, target: Path, fsync: bool, cold: bool) -> float:
    if target.exists():
        target.unlink()
    settle_disk()
    if cold:
        drop_caches()
    start = time.perf_counter()
    shutil.copyfile(source, target)
    if fsync:
        fd = os.open(target, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    return time.perf_counter() - start


def time_big(
    path: Path, base: Path, database: str, runs: int, *, fsync: bool, cold: bool
) -> dict[str, float]:
    size_mb = path.stat().st_size / 1e6
    copies, ingests = [], []
    path.read_bytes()  # warm the page cache for both contestants
    for _ in range(runs):
        copies.append(_copy(path, base.parent / "plain-copy.bin", fsync, cold))
        runtime = fresh_runtime(base, database, fsync=fsync)
        settle_disk()
        if cold:
            drop_caches()
        start = time.perf_counter()
        result = runtime.ingestor.ingest(path, source=FileSource.CLI)
        ingests.append(time.perf_counter() - start)
        assert result.outcome == Outcome.ARCHIVED, result
        runtime.close()
    (base.parent / "plain-copy.bin").unlink()
    copy_s, ingest_s = statistics.median(copies), statistics.median(ingests)
    return {
        "size_mb": size_mb,
        "copy_mb_s": size_mb / copy_s,
        "ingest_mb_s": size_mb / ingest_s,
        "ratio": copy_s / ingest_s,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1000, help="number of small files")
    parser.add_argument("--big-mb", type=int, default=200, help="size of the large file")
    parser.add_argument("--runs", type=int, default=5, help="repetitions (medians are reported)")
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help="server holding a scratch database (or 'none')",
    )
    parser.add_argument("--work", type=Path, default=None, help="scratch folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    return parser.parse_args()


def report(results: dict[str, object]) -> None:
    print(f"\n{results['date']}, {results['machine']}, median of {results['runs']} runs\n")
    print("| catalog | small files/s, one at a time | small files/s, 2 jobs (CLI default here) |")
    print("|---|---|---|")
    for label in ("sqlite", "postgresql"):
        if f"{label}_small_files_per_s_jobs_1" in results:
            one = results[f"{label}_small_files_per_s_jobs_1"]
            two = results[f"{label}_small_files_per_s_jobs_2"]
            print(f"| {label} | {one:.0f} | {two:.0f} |")
    print(f"\nLarge file ({results['big_mb']:.0f} MB):\n")
    print("| catalog | page cache | fsync | plain copy MB/s | ingest MB/s | ingest/copy |")
    print("|---|---|---|---|---|---|")
    for key, value in results.items():
        if "_big_" in key and isinstance(value, dict):
            label, _, cache, _, fsync = key.split("_")
            print(
                f"| {label} | {cache} | {'on' if fsync == 'True' else 'off'}"
                f" | {value['copy_mb_s']:.0f} | {value['ingest_mb_s']:.0f} | {value['ratio']:.2f} |"
            )


def measure_all(args: argparse.Namespace, work: Path, databases: list[str]) -> dict[str, object]:
    """Every measurement on every catalog."""
    print(f"making {args.small} small files and a {args.big_mb} MB file in {work}", file=sys.stderr)
    small = make_small_files(work / "small", args.small)
    big = make_big_file(work / "big", args.big_mb)
    results: dict[str, object] = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "runs": args.runs,
        "big_mb": big.stat().st_size / 1e6,
    }
    can_drop = drop_caches()
    if not can_drop:
        print("cannot drop the page cache (not root): warm runs only", file=sys.stderr)
    for database in databases:
        label = "sqlite" if database == "sqlite" else "postgresql"
        for jobs in (1, 2):
            rates = time_small(small, work / "run", database, args.runs, jobs)
            results[f"{label}_small_files_per_s_jobs_{jobs}"] = statistics.median(rates)
        for cold in (False, True) if can_drop else (False,):
            for fsync in (True, False):
                key = f"{label}_big_{'cold' if cold else 'warm'}_fsync_{fsync}"
                results[key] = time_big(
                    big, work / "run", database, args.runs, fsync=fsync, cold=cold
                )
        print(f"{label}: done", file=sys.stderr)
    return results


def main() -> int:
    args = parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="socstack-bench-"))
    with ExitStack() as stack:
        databases = ["sqlite"]
        if args.postgres != "none":
            databases.append(stack.enter_context(scratch_database(args.postgres, "ingest")))
        if args.work is None:
            stack.callback(shutil.rmtree, work, ignore_errors=True)
        results = measure_all(args, work, databases)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
