"""Magnetometer L1B: counts to nanotesla, calibrated with the day's offsets and gains.

The instrument measures ``measured = true * gain + offset`` per sensor axis; the
calibration valid for the day (its latest ``mag_cal``) inverts that.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.mag.instrument import AXES, SENSOR_LABELS, resolution
from socstack.pipeline.context import RuleContext


def calibration(table: xr.Dataset, channels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and gains of ``channels`` from a calibration table (CSV reader output)."""
    rows = {str(c): k for k, c in enumerate(table["channel"].values)}
    missing = [c for c in channels if c not in rows]
    if missing:
        raise ValueError(f"calibration lacks channel(s) {', '.join(missing)}")
    index = [rows[c] for c in channels]
    return table["offset"].values[index], table["gain"].values[index]


def process(context: RuleContext) -> xr.Dataset:
    """Calibrate ``mag_l1a`` with the ``mag_cal`` valid for the partition."""
    l1a = context.one("mag_l1a").read()
    offsets, gains = calibration(context.one("mag_cal").read(), AXES)
    measured = l1a["counts"].values * resolution(l1a["range"].values)[:, None]
    field = (measured - offsets) / gains
    return xr.Dataset(
        {
            "b_sensor": (("epoch", "axis"), field),
            "b_sensor_label": (("axis",), np.array(SENSOR_LABELS)),
        },
        coords={"epoch": l1a["epoch"].values},
    )
