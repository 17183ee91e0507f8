"""Magnetometer L2 summary: the 1 s field's minimum, maximum and mean in each minute.

A plot of a month or a year has pixel columns of hours; their min/max envelope from
these minutes is the envelope of the 1 s data, from 60 times fewer records. Minutes
without data hold the fill value.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from demo_mission.mag.instrument import FILL, GSE_LABELS
from socstack.pipeline.context import RuleContext

SECONDS = 60


def per_minute(values: np.ndarray) -> dict[str, np.ndarray]:
    """min, max and mean over each row of ``values`` (minutes, 60[, k]), fills ignored."""
    data = np.where(values == FILL, np.nan, values)
    empty = np.isnan(data).all(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN minutes: filled below
        out = {
            "min": np.nanmin(data, axis=1),
            "max": np.nanmax(data, axis=1),
            "mean": np.nanmean(data, axis=1),
        }
    for value in out.values():
        value[empty] = FILL
    return out


def process(context: RuleContext) -> xr.Dataset:
    """Reduce the day's ``mag_l2`` (a full 1 s grid) to minutes."""
    l2 = context.one("mag_l2").read()
    start, stop = context.day
    minutes = int((stop - start) // np.timedelta64(SECONDS, "s"))
    field = l2["b_gse"].values[: minutes * SECONDS].reshape(minutes, SECONDS, 3)
    magnitude = l2["b_mag"].values[: minutes * SECONDS].reshape(minutes, SECONDS)
    b, m = per_minute(field), per_minute(magnitude)
    vector = ("epoch", "axis")
    return xr.Dataset(
        {
            "b_gse": (vector, b["mean"]),
            "b_gse_min": (vector, b["min"]),
            "b_gse_max": (vector, b["max"]),
            "b_gse_label": (("axis",), np.array(GSE_LABELS)),
            "b_mag": (("epoch",), m["mean"]),
            "b_mag_min": (("epoch",), m["min"]),
            "b_mag_max": (("epoch",), m["max"]),
        },
        coords={"epoch": start + np.arange(minutes) * np.timedelta64(SECONDS, "s")},
    )
