"""Reading text tables: a day of IAGA-2002 one-second values (86,400 lines).

Times ``inspect`` (the ingest gate) and ``read`` of the ``text`` reader on one file,
with three configurations of the same content: the strict IAGA-2002 product of
``socstack.formats.text``'s docstring (strptime-style times, names from the column
header, header fields), the shortest options that read it (ISO 8601 times), and the
same values as fixed-width columns. Prints a Markdown table for benchmarks/README.md.

    python benchmarks/text.py --runs 7
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml
from _common import machine

import socstack.formats.text as text_module
from socstack.formats import get
from socstack.mission.model import Product


def iaga_day(path: Path, step: int = 1) -> int:
    """Write a day of IAGA-2002 values ``step`` seconds apart; the number of lines."""

    def record(label: str, value: str) -> str:
        return f" {label:<23}{value:<45}|"

    lines = [
        record("Format", "IAGA-2002"),
        record("Source of Data", "Institut de Physique du Globe de Paris"),
        record("Station Name", "Kourou"),
        record("IAGA CODE", "KOU"),
        record("Geodetic Latitude", "5.210"),
        record("Geodetic Longitude", "307.269"),
        record("Elevation", "10"),
        record("Reported", "XYZF"),
        record("Sensor Orientation", "HDZF"),
        record("Digital Sampling", "0.1 second"),
        record("Data Interval Type", "1-second"),
        record("Data Type", "variation"),
        "DATE       TIME         DOY     KOUX      KOUY      KOUZ      KOUF   |",
    ]
    start = dt.datetime(2025, 1, 1)
    for i in range(0, 86_400, step):
        t = start + dt.timedelta(seconds=i)
        x = 28_100 + 15 * math.sin(2 * math.pi * i / 86_400)
        f = 99_999.0 if i % 997 == 0 else math.hypot(x, -3_050.0, 8_030.5)
        lines.append(
            f"{t:%Y-%m-%d %H:%M:%S}.000 001   {x:10.2f}{-3050:10.2f}{8030.5:10.2f}{f:10.2f}"
        )
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def strict_options() -> dict[str, Any]:
    doc = text_module.__doc__ or ""
    block = doc.split("strictly checked")[1].split("::\n", 1)[1]
    kept = []
    for line in block.split("\n"):
        if line.strip() and not line.startswith("    "):
            break
        kept.append(line)
    return next(iter(yaml.safe_load(textwrap.dedent("\n".join(kept))).values()))["options"]


CONFIGURATIONS = {
    "IAGA-2002, strict (docstring example)": strict_options,
    "IAGA-2002, shortest (ISO 8601 times)": lambda: {
        "header": r"^DATE\s+TIME",
        "columns": ["DATE", "TIME", "DOY", "X", "Y", "Z", "F"],
        "time": {"columns": ["DATE", "TIME"]},
        "fill": [99999, 88888],
    },
    "fixed width (colspecs)": lambda: {
        "header": r"^DATE\s+TIME",
        "colspecs": [[0, 23], [24, 27], [30, 40], [40, 50], [50, 60], [60, 70]],
        "columns": ["TIME", "DOY", "X", "Y", "Z", "F"],
        "time": {"columns": ["TIME"], "format": "%Y-%m-%d %H:%M:%S.%f"},
        "fill": [99999, 88888],
    },
}


def product(options: dict[str, Any]) -> Product:
    return Product.model_validate(
        {
            "id": "kou_1s",
            "mission": "bench",
            "instrument": "kou",
            "level": "l2",
            "descriptor": "1s",
            "pattern": "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.sec",
            "format": "text",
            "options": options,
        }
    )


def timed(call, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of ``call`` (CPU time shows less of the
    other tenants of a shared machine)."""
    wall, cpu = [], []
    for _ in range(runs):
        started, cpu_started = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    reader = get("text")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "kou20250101dsec.sec"
        lines = iaga_day(path)
        size_mb = path.stat().st_size / 1e6
        print(f"{machine()}; {lines:,} lines, {size_mb:.1f} MB; median of {args.runs} runs\n")
        print("| options | inspect, wall (CPU) s | read, wall (CPU) s | read, lines/s |")
        print("|---|---|---|---|")
        for label, options in CONFIGURATIONS.items():
            prod = product(options())
            data = reader.read(path, prod)
            assert data.sizes["epoch"] == 86_400, data.sizes
            inspect = timed(lambda prod=prod: reader.inspect(path, prod), args.runs)
            read = timed(lambda prod=prod: reader.read(path, prod), args.runs)
            print(
                f"| {label} | {inspect[0]:.3f} ({inspect[1]:.3f}) "
                f"| {read[0]:.3f} ({read[1]:.3f}) | {86_400 / read[0]:,.0f} |"
            )


if __name__ == "__main__":
    main()
