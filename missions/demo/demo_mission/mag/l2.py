"""Magnetometer L2: the field in GSE on a 1 s grid covering the whole day.

Vectors are rotated from the sensor frame to GSE (the spacecraft is sun-pointing, so
the rotation is fixed), then averaged within each second; seconds without data hold the
fill value, which plots show as gaps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.frames import MAG_TO_GSE, to_gse
from demo_mission.mag.instrument import FILL, GSE_LABELS
from socstack.pipeline.context import RuleContext


def mean_per_second(
    epoch: np.ndarray, values: np.ndarray, start: np.datetime64, seconds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Means of ``values`` (n, k) in each second from ``start``; and the count per second."""
    index = ((epoch - start) // np.timedelta64(1, "s")).astype(np.int64)
    keep = (index >= 0) & (index < seconds)
    index, values = index[keep], values[keep]
    count = np.bincount(index, minlength=seconds)
    sums = np.stack(
        [
            np.bincount(index, weights=values[:, k], minlength=seconds)
            for k in range(values.shape[1])
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / count[:, None], count


def process(context: RuleContext) -> xr.Dataset:
    """Rotate ``mag_l1b`` to GSE and average to 1 s."""
    l1b = context.one("mag_l1b").read()
    start, stop = context.day
    seconds = int((stop - start) // np.timedelta64(1, "s"))
    field, count = mean_per_second(
        l1b["epoch"].values, to_gse(l1b["b_sensor"].values, MAG_TO_GSE), start, seconds
    )
    empty = count == 0
    field[empty] = FILL
    magnitude = np.where(empty, FILL, np.linalg.norm(np.where(empty[:, None], 0.0, field), axis=1))
    return xr.Dataset(
        {
            "b_gse": (("epoch", "axis"), field),
            "b_gse_label": (("axis",), np.array(GSE_LABELS)),
            "b_mag": (("epoch",), magnitude),
        },
        coords={"epoch": start + np.arange(seconds) * np.timedelta64(1, "s")},
    )
