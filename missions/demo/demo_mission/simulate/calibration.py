"""Calibration truth of the simulated instruments and the ancillary files that carry it.

Each instrument's telemetry is distorted by per-channel gains and offsets,
``measured = true * gain + offset``, which drift slowly. A new calibration is issued
every seven days (valid from that day on); L1B processing inverts the distortion with
the calibration valid for the day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from demo_mission.simulate.solar_wind import energy_table

PERIOD_DAYS = 7
ANCHOR = dt.date(2025, 1, 1)

MAG_CHANNELS = ("x", "y", "z")
PLS_MOMENTS = ("density", "vx", "vy", "vz", "temperature")


def period_start(day: dt.date) -> dt.date:
    """First day of the calibration period holding ``day``."""
    return ANCHOR + dt.timedelta(days=PERIOD_DAYS * ((day - ANCHOR).days // PERIOD_DAYS))


@dataclass(frozen=True)
class Calibration:
    """Per-channel offsets and gains valid from a day on."""

    instrument: str
    valid_from: dt.date
    channels: tuple[str, ...]
    offsets: np.ndarray
    gains: np.ndarray

    def channel(self, name: str) -> tuple[float, float]:
        """(offset, gain) of one channel."""
        k = self.channels.index(name)
        return float(self.offsets[k]), float(self.gains[k])

    def write_csv(self, path: Path) -> None:
        """Write the table, with comments that say how to apply it."""
        lines = [
            f"# socstack demo mission: {self.instrument} calibration",
            f"# valid from {self.valid_from.isoformat()} until superseded by a newer one",
            "# measured = true * gain + offset; calibrated = (measured - offset) / gain",
            "channel,offset,gain",
        ]
        lines += [
            f"{name},{offset:.6f},{gain:.6f}"
            for name, offset, gain in zip(self.channels, self.offsets, self.gains, strict=True)
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _rng(seed: int, valid_from: dt.date, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, valid_from.toordinal(), stream])


def mag_calibration(seed: int, day: dt.date) -> Calibration:
    """The magnetometer calibration in force on ``day``: offsets in nT, unitless gains."""
    start = period_start(day)
    rng = _rng(seed, start, 71)
    drift = (start - ANCHOR).days / 365.0
    offsets = np.array([0.8, -0.5, 1.2]) + 0.3 * drift + rng.normal(0, 0.15, 3)
    gains = 1 + np.array([0.012, -0.008, 0.004]) + rng.normal(0, 0.002, 3)
    return Calibration("mag", start, MAG_CHANNELS, offsets, gains)


def pls_calibration(seed: int, day: dt.date) -> Calibration:
    """The plasma calibration on ``day``.

    Moment offsets and gains, and the per-step detector efficiencies as gains with zero
    offset (channels ``e00``..``e31``).
    """
    start = period_start(day)
    rng = _rng(seed, start, 72)
    steps = len(energy_table())
    moment_offsets = np.array([0.05, 4.0, -2.0, 1.5, 2000.0]) + rng.normal(0, 0.3, 5) * [
        0.02,
        1,
        1,
        1,
        300,
    ]
    moment_gains = 1 + np.array([0.06, 0.015, -0.01, 0.01, 0.08]) + rng.normal(0, 0.004, 5)
    log_e = np.log(energy_table())
    efficiency = 0.55 + 0.25 * np.exp(-((log_e - np.log(800.0)) ** 2) / 4.0)
    efficiency *= 1 + rng.normal(0, 0.02, steps)
    channels = (*PLS_MOMENTS, *(f"e{k:02d}" for k in range(steps)))
    return Calibration(
        "pls",
        start,
        channels,
        np.concatenate([moment_offsets, np.zeros(steps)]),
        np.concatenate([moment_gains, efficiency]),
    )
