"""Simulated deliveries of the polar test mission, seeded so that runs repeat.

A ground magnetometer at Kourou (KOU) sends one IAGA-2002 file of minute values a day,
named as observatories name them (no version); its baselines come as a CSV valid for
ten days. The analyzer sends one ``.spc`` file of minute sweeps a day (safe mode all of
its second day) and energy tables whose validity its file names carry; the second
table moves the channels up by ten per cent.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from polar_code.spectra import SAFE_MODE, write_spectra

CHANNELS = 8
BASE_ENERGIES = np.geomspace(100.0, 12_800.0, CHANNELS)
BASELINE = {"X": 27_000.0, "Y": -2_300.0, "Z": 12_300.0}
FILL = 99_999.0
DEFAULT_SEED = 11
#: The analyzer's first day of data, and its day in safe mode (days after the start).
ESA_FIRST, ESA_SAFE = 1, 2
#: The first energy table holds for three days; the second from the fifth day on.
TABLE_DAYS = 3


def _write_text(path: Path, text: str) -> Path:
    """Write under a hidden name, then rename: a drop box never sees half a file."""
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_text(text, encoding="ascii")
    os.replace(temporary, path)
    return path


def _header_line(key: str, value: str) -> str:
    return f" {key:<23}{value:<45}|"


def iaga_day(day: dt.date, seed: int, *, shift: float = 0.0) -> str:
    """One day of KOU minute values in IAGA-2002 (``shift`` nT added to X: a correction)."""
    rng = np.random.default_rng([seed, day.toordinal()])
    minutes = np.arange(1440)
    phase = 2 * np.pi * minutes / 1440
    storm = 40.0 * np.exp(-(((minutes - 900) / 120.0) ** 2)) if day.day % 3 == 0 else 0.0
    x = BASELINE["X"] + 30 * np.sin(phase) - storm + rng.normal(0, 0.5, 1440) + shift
    y = BASELINE["Y"] + 10 * np.cos(phase) + rng.normal(0, 0.5, 1440)
    z = BASELINE["Z"] + 5 * np.sin(2 * phase) + rng.normal(0, 0.5, 1440)
    f = np.sqrt(x**2 + y**2 + z**2)
    gap = slice(600, 610) if day.day % 2 == 0 else slice(0, 0)
    for column in (x, y, z, f):
        column[gap] = FILL
    header = [
        _header_line("Format", "IAGA-2002"),
        _header_line("Source of Data", "socstack polar test mission"),
        _header_line("Station Name", "Kourou"),
        _header_line("IAGA CODE", "KOU"),
        _header_line("Geodetic Latitude", "5.210"),
        _header_line("Geodetic Longitude", "307.269"),
        _header_line("Elevation", "10"),
        _header_line("Reported", "XYZF"),
        _header_line("Sensor Orientation", "HDZF"),
        _header_line("Digital Sampling", "1 second"),
        _header_line("Data Interval Type", "Filtered 1-minute (00:15-01:45)"),
        _header_line("Data Type", "variation"),
        " # Simulated for socstack's tests." + " " * 35 + "|",
        "DATE       TIME         DOY     KOUX      KOUY      KOUZ      KOUF   |",
    ]
    doy = day.timetuple().tm_yday
    rows = [
        f"{day.isoformat()} {m // 60:02d}:{m % 60:02d}:00.000 {doy:03d}   "
        f"{x[m]:10.2f}{y[m]:10.2f}{z[m]:10.2f}{f[m]:10.2f}"
        for m in minutes
    ]
    return "\n".join(header + rows) + "\n"


def energy_table(version: int) -> str:
    """The analyzer's energy table: channel, centre (eV), width (eV), gain."""
    energies = BASE_ENERGIES * (1.1 if version > 1 else 1.0)
    lines = ["channel,energy,width,gain"]
    lines += [f"{k},{e:.3f},{0.2 * e:.3f},{1.0 + 0.01 * k:.3f}" for k, e in enumerate(energies)]
    return "\n".join(lines) + "\n"


def esa_day(path: Path, day: dt.date, seed: int, *, safe: bool) -> Path:
    """One day of minute sweeps, Poisson counts of a power-law spectrum."""
    rng = np.random.default_rng([seed, day.toordinal(), 2])
    start = np.datetime64(day.isoformat(), "ns")
    times = start + np.arange(1440) * np.timedelta64(60, "s")
    rate = 2_000.0 * (BASE_ENERGIES / BASE_ENERGIES[0]) ** -1.5 + 3.0
    counts = rng.poisson(np.broadcast_to(rate, (1440, CHANNELS))).astype(np.uint16)
    modes = np.full(1440, SAFE_MODE if safe else 0, dtype=np.uint8)
    temporary = path.with_name(f".{path.name}.part")
    write_spectra(temporary, times, modes, counts)
    os.replace(temporary, path)
    return path


def generate(
    start: dt.date,
    days: int,
    folder: Path,
    *,
    mission: object,
    seed: int = DEFAULT_SEED,
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write ``days`` days of both instruments' deliveries from ``start`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def keep(path: Path) -> None:
        written.append(path)
        if progress is not None:
            progress(path)

    baselines = "component,baseline\n" + "".join(f"{k},{v}\n" for k, v in BASELINE.items())
    keep(_write_text(folder / f"polar_gmag_anc_baseline_{start:%Y%m%d}_v1.0.0.csv", baselines))
    first_table = start + dt.timedelta(days=ESA_FIRST)
    second_table = first_table + dt.timedelta(days=TABLE_DAYS)
    tables = [
        (1, first_table, second_table - dt.timedelta(days=1)),
        (2, second_table, second_table + dt.timedelta(days=26)),
    ]
    for version, valid_from, valid_until in tables:
        if valid_from < start + dt.timedelta(days=days):
            name = f"polar_esa_anc_table_{valid_from:%Y%m%d}_{valid_until:%Y%m%d}_v1.0.0.csv"
            keep(_write_text(folder / name, energy_table(version)))
    for n in range(days):
        day = start + dt.timedelta(days=n)
        keep(_write_text(folder / f"kou{day:%Y%m%d}dmin.min", iaga_day(day, seed)))
        if n >= ESA_FIRST:
            name = f"polar_esa_l0_counts_{day:%Y%m%d}_v1.0.0.spc"
            keep(esa_day(folder / name, day, seed, safe=n == ESA_SAFE))
    return written
