"""HAPI streaming throughput: socstack against the reference server, on the same data.

Two steps:

    python benchmarks/hapi.py prepare --work DIR [--days 30] [--year]
    python benchmarks/hapi.py run --work DIR [--reference URL] [--runs 5]

``prepare`` builds a socstack data folder with ``--days`` days of the demo
magnetometer's L2 field (1 Hz, three components), made from simulated L0 through the
mission's own rules, and with ``--year`` a second folder of 365 days for the memory
check. It then writes ``DIR/reference/``: the same field as a headerless HAPI CSV file,
and a server-nodejs configuration serving it as dataset ``demo_mag_l2_1s`` with
parameter ``B_GSE``. Start the reference server (github.com/hapi-server/server-nodejs)
yourself, bound to loopback, for example:

    node server.js --file DIR/reference/socstack-ref.json --port 8999

and pass ``--reference http://127.0.0.1:8999/socstack-ref/hapi`` to ``run``.

``run`` starts ``socstack serve hapi`` on the prepared data and requests the whole
window, csv and binary, parameter ``B_GSE``, without compression, with curl (so that the
client's speed is not the bottleneck). It reports MB/s, records/s and the time to the
first byte (medians), and the server's peak resident memory (VmHWM) for the window and,
with a year prepared, for a one-year request on a fresh server.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import urllib.request
from pathlib import Path

from _common import SocstackProcess, demo_archive, machine

START = dt.date(2025, 1, 1)
DATASET = "demo_mag_l2_1s"
PARAMETER = "B_GSE"


def build_archive(folder: Path, days: int) -> None:
    """Magnetometer L0 and calibrations for ``days`` days, processed to L2."""
    demo_archive(folder, START, {"mag": days})


class Server(SocstackProcess):
    """``socstack serve hapi`` in its own process, on loopback."""

    def __init__(self, folder: Path):
        super().__init__(folder, ["serve", "hapi"], "/hapi/capabilities")
        self.url = f"{self.base}/hapi"


def fetch(url: str) -> dict[str, float]:
    """One request with curl: bytes, seconds in all, seconds to the first byte."""
    output = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "Accept-Encoding: identity",
            "-w",
            "%{http_code} %{size_download} %{time_total} %{time_starttransfer}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if output[0] != "200":
        raise RuntimeError(f"HTTP {output[0]} from {url}")
    return {"bytes": float(output[1]), "total": float(output[2]), "ttfb": float(output[3])}


def measure(
    base: str, start: str, stop: str, fmt: str, runs: int, record_bytes: int | None
) -> dict[str, float]:
    url = f"{base}/data?dataset={DATASET}&parameters={PARAMETER}&start={start}&stop={stop}&format={fmt}"
    fetch(url)  # warm-up, not counted
    results = [fetch(url) for _ in range(runs)]
    size = statistics.median(r["bytes"] for r in results)
    total = statistics.median(r["total"] for r in results)
    if record_bytes:
        records = size / record_bytes
    else:
        records = _csv_lines(url)
    return {
        "mb": size / 1e6,
        "mb_per_s": size / 1e6 / total,
        "records": records,
        "records_per_s": records / total,
        "ttfb_ms": statistics.median(r["ttfb"] for r in results) * 1000,
        "seconds": total,
    }


def _csv_lines(url: str) -> float:
    with urllib.request.urlopen(url, timeout=600) as response:
        return float(sum(chunk.count(b"\n") for chunk in iter(lambda: response.read(1 << 20), b"")))


def prepare(args: argparse.Namespace) -> None:
    work: Path = args.work
    build_archive(work / f"socstack-{args.days}", args.days)
    if args.year:
        build_archive(work / "socstack-365", 365)
    reference = work / "reference"
    reference.mkdir(parents=True, exist_ok=True)
    server = Server(work / f"socstack-{args.days}")
    try:
        stop = (START + dt.timedelta(days=args.days)).isoformat()
        url = (
            f"{server.url}/data?dataset={DATASET}&parameters={PARAMETER}&start={START}&stop={stop}"
        )
        with (
            urllib.request.urlopen(url, timeout=600) as response,
            (reference / "mag_l2_1s.csv").open("wb") as out,
        ):
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
        info = json.load(
            urllib.request.urlopen(f"{server.url}/info?dataset={DATASET}&parameters={PARAMETER}")
        )
    finally:
        server.stop()
    config = {
        "server": {
            "id": "socstack-ref",
            "prefix": "socstack-ref",
            "HAPI": "3.3",
            "contact": "bench@localhost",
        },
        "about": {
            "title": "Reference server serving socstack's demo field",
            "description": "benchmark",
        },
        "data": {
            "file": str((reference / "mag_l2_1s.csv").resolve()),
            "fileformat": "csv",
            "contact": "bench@localhost",
        },
        "catalog_inline": [
            {
                "id": DATASET,
                "title": "Magnetic field, GSE, 1 s",
                "info": {
                    key: info[key]
                    for key in (
                        "startDate",
                        "stopDate",
                        "sampleStartDate",
                        "sampleStopDate",
                        "cadence",
                        "parameters",
                    )
                },
            }
        ],
    }
    for parameter in config["catalog_inline"][0]["info"]["parameters"]:
        parameter.pop("description", None)
    (reference / "socstack-ref.json").write_text(json.dumps(config, indent=1))
    print(f"reference data and config in {reference}")


def run(args: argparse.Namespace) -> None:
    work: Path = args.work
    folder = work / f"socstack-{args.days}"
    start, stop = (
        START.isoformat() + "T00:00:00Z",
        (START + dt.timedelta(days=args.days)).isoformat() + "T00:00:00Z",
    )
    binary_record = 24 + 3 * 8
    rows: list[tuple[str, str, dict[str, float]]] = []
    server = Server(folder)
    try:
        for fmt in ("csv", "binary"):
            rows.append(
                (
                    "socstack",
                    fmt,
                    measure(
                        server.url,
                        start,
                        stop,
                        fmt,
                        args.runs,
                        binary_record if fmt == "binary" else None,
                    ),
                )
            )
        peak_window = server.peak_rss_mb()
    finally:
        server.stop()
    if args.reference:
        for fmt in ("csv", "binary"):
            rows.append(
                (
                    "reference",
                    fmt,
                    measure(
                        args.reference.rstrip("/"),
                        start,
                        stop,
                        fmt,
                        args.runs,
                        binary_record if fmt == "binary" else None,
                    ),
                )
            )
    year: dict[str, float] = {}
    if (work / "socstack-365" / "ready").exists():
        for fmt in ("binary", "csv"):
            fresh = Server(work / "socstack-365")
            try:
                url = f"{fresh.url}/data?dataset={DATASET}&parameters={PARAMETER}&start=2025-01-01T00:00:00Z&stop=2026-01-01T00:00:00Z&format={fmt}"
                result = fetch(url)
                year[fmt] = fresh.peak_rss_mb()
                year[f"{fmt}_mb_per_s"] = result["bytes"] / 1e6 / result["total"]
                year[f"{fmt}_gb"] = result["bytes"] / 1e9
            finally:
                fresh.stop()
    print(
        f"\n{dt.date.today()}, {machine()}; {args.days} days of 1 Hz B_GSE, median of {args.runs} runs\n"
    )
    print("| server | format | MB | MB/s | records/s | time to first byte |")
    print("|---|---|---|---|---|---|")
    for name, fmt, r in rows:
        print(
            f"| {name} | {fmt} | {r['mb']:.0f} | {r['mb_per_s']:.0f} | {r['records_per_s'] / 1e6:.2f} M | {r['ttfb_ms']:.0f} ms |"
        )
    by = {(n, f): r for n, f, r in rows}
    for fmt in ("csv", "binary"):
        if ("reference", fmt) in by:
            ratio = by[("socstack", fmt)]["records_per_s"] / by[("reference", fmt)]["records_per_s"]
            print(f"\nsocstack / reference, {fmt}, records/s: {ratio:.1f}x")
    print(
        f"\nsocstack peak resident memory after the {args.days}-day requests: {peak_window:.0f} MB"
    )
    for fmt in ("binary", "csv"):
        if fmt in year:
            print(
                f"one-year request, {fmt}: {year[f'{fmt}_gb']:.2f} GB at {year[f'{fmt}_mb_per_s']:.0f} MB/s, peak server memory {year[fmt]:.0f} MB"
            )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "peak_window_mb": peak_window, "year": year}, indent=1)
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("prepare", help="build the archives and the reference CSV")
    make.add_argument("--work", type=Path, required=True)
    make.add_argument("--days", type=int, default=30)
    make.add_argument(
        "--year", action="store_true", help="also build 365 days for the memory check"
    )
    go = commands.add_parser("run", help="measure")
    go.add_argument("--work", type=Path, required=True)
    go.add_argument("--days", type=int, default=30)
    go.add_argument("--runs", type=int, default=5)
    go.add_argument("--reference", help="the reference server's HAPI URL (…/hapi)")
    go.add_argument("--json", type=Path)
    args = parser.parse_args()
    prepare(args) if args.command == "prepare" else run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
