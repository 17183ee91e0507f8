"""Harvest throughput: 30 days of the 1 Hz field pulled from a second socstack.

Two steps:

    python benchmarks/harvest.py prepare --work DIR [--days 30]
    python benchmarks/harvest.py run --work DIR [--runs 3]

``prepare`` builds the peer's data folder: ``--days`` days of the demo magnetometer's L2
field (1 Hz, B_GSE and |B|), made from simulated L0 by the mission's own rules.

``run`` serves it with ``socstack serve hapi`` (the peer, its own process) and, per run,
side by side: curl fetching each day as the harvester asks for it (binary, B_GSE and
B_mag, no compression: the network's part), then a harvest of every day into an empty
data folder of the ``peertest`` mission (fetch, day checksum, CDF with ISTP attributes,
ingest: all of it). It reports MB/s of both and their ratio (medians), then, after one
day of the peer changes (a new version of its L2 file), the time of an incremental pass
and the days it fetched (the others answer 304 to If-Modified-Since).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from _common import SocstackProcess, demo_archive, demo_settings, machine, two_step_parser
from hapi import fetch

REPO = Path(__file__).resolve().parents[1]
PEERTEST = REPO / "tests" / "data" / "missions" / "peertest"
START = dt.date(2025, 1, 1)
DATASET = "demo_mag_l2_1s"
PARAMETERS = "B_GSE,B_mag"


def curl_days(url: str, days: int) -> tuple[int, float]:
    """Bytes and seconds of fetching each day with curl, as the harvester asks."""
    total_bytes, total_seconds = 0, 0.0
    for k in range(days):
        day = START + dt.timedelta(days=k)
        query = {
            "dataset": DATASET,
            "parameters": PARAMETERS,
            "start": f"{day}T00:00:00.000000000Z",
            "stop": f"{day + dt.timedelta(days=1)}T00:00:00.000000000Z",
            "format": "binary",
        }
        got = fetch(f"{url}/data?{urlencode(query)}")
        total_bytes += int(got["bytes"])
        total_seconds += got["total"]
    return total_bytes, total_seconds


def our_runtime(folder: Path, peer: str):  # type: ignore[no-untyped-def]
    from socstack.catalog.migrate import upgrade
    from socstack.config import Settings
    from socstack.runtime import Runtime

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    settings = Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'catalog.sqlite'}",
        archive_url=(folder / "archive").as_uri(),
        quarantine_url=(folder / "quarantine").as_uri(),
        missions=[PEERTEST],
        peers={"demo_soc": peer},
    )
    runtime = Runtime(settings)
    upgrade(runtime.catalog)
    return runtime


def one_pass(runtime) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    """One harvest pass, timed (its modules imported before the clock starts)."""
    from socstack.harvest.harvester import harvest, harvested_products

    [(mission, product)] = harvested_products(runtime)
    started = time.perf_counter()
    report = harvest(runtime, mission, product)
    return time.perf_counter() - started, report


def change_one_day(peer_folder: Path, day: dt.date) -> None:
    """A new version of the peer's L2 field for ``day``: the values nudged."""
    from sqlalchemy import select

    from socstack.catalog.models import File, FileSource, FileStatus
    from socstack.formats.cdf import write_cdf
    from socstack.mission import Version
    from socstack.runtime import Runtime

    runtime = Runtime(demo_settings(peer_folder))
    product = runtime.missions.mission("demo").products["mag_l2"]
    with runtime.catalog.session() as session:
        row = session.scalars(
            select(File).where(
                (File.product == "mag_l2")
                & (File.partition == day.isoformat())
                & (File.status == FileStatus.ARCHIVED)
            )
        ).one()
    data = product.reader.read(runtime.archive.local_path(row.uri), product)
    data["b_mag"].values = data["b_mag"].values + 0.01
    version = Version(row.version_major, row.version_minor, row.version_patch + 1)
    path = peer_folder / "staging" / product.name_pattern.format(day, version)
    path.parent.mkdir(exist_ok=True)
    options = product.format_options
    write_cdf(
        data,
        path,
        global_attributes=options.global_attributes,
        variable_attributes=options.variable_attributes,
    )
    result = runtime.ingestor.ingest(path, source=FileSource.CLI)
    runtime.close()
    assert result.outcome.value == "archived", result


def run(work: Path, days: int, runs: int) -> None:
    peer_folder = work / "peer"
    peer = SocstackProcess(peer_folder, ["serve", "hapi"], "/hapi/capabilities")
    url = f"{peer.base}/hapi"
    rates: dict[str, list[float]] = {"curl": [], "harvest": []}
    try:
        report = None
        for k in range(runs):
            size, seconds = curl_days(url, days)
            rates["curl"].append(size / seconds / 1e6)
            runtime = our_runtime(work / f"ours{k}", url)
            took, report = one_pass(runtime)
            assert len(report.archived) == days, report  # type: ignore[attr-defined]
            rates["harvest"].append(size / took / 1e6)
            print(f"run {k + 1}: curl {rates['curl'][-1]:.1f} MB/s,"
                  f" harvest {rates['harvest'][-1]:.1f} MB/s ({took:.1f} s)", file=sys.stderr)  # fmt: skip
            if k < runs - 1:
                runtime.close()
        changed = START + dt.timedelta(days=days // 2)
        change_one_day(peer_folder, changed)
        took, again = one_pass(runtime)
        runtime.close()
    finally:
        peer.stop()
    curl, mine = statistics.median(rates["curl"]), statistics.median(rates["harvest"])
    print(f"### {dt.date.today()}: {machine()}; {days} days, {size / 1e6:.1f} MB, {runs} runs\n")
    print("| | MB/s (median) | runs |\n|---|---|---|")
    print(f"| curl, each day as the harvester asks | {curl:.1f} | {rates['curl']} |")
    print(f"| harvest (fetch, checksum, CDF, ingest) | {mine:.1f} | {rates['harvest']} |")
    print(f"\nharvest / curl: {mine / curl:.2f}x (aim >= 0.8x)")
    print(
        f"\nincremental pass after {changed} changed at the peer: {took:.2f} s, fetched"
        f" {again.archived} (aim: that day only, under 2 s); {again.requests} requests,"  # type: ignore[attr-defined]
        f" {again.skipped} days answered 304 or were not asked"  # type: ignore[attr-defined]
    )
    print(json.dumps({"curl": rates["curl"], "harvest": rates["harvest"], "incremental": took}))


def main() -> None:
    parser, _ = two_step_parser(__doc__, days=30, runs=3)
    args = parser.parse_args()
    if args.command == "prepare":
        demo_archive(args.work / "peer", START, {"mag": args.days})
    else:
        run(args.work, args.days, args.runs)


if __name__ == "__main__":
    main()
