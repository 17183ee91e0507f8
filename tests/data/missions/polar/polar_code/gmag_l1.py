"""Ground magnetometer level 1: baselines removed, smoothed over five minutes.

The five-minute running mean at either end of a day reaches into the day before and
the day after, so the rule takes the station's file of each (when the station
delivered one: at the edges of the mission's span there is none to wait for).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from socstack.pipeline.context import RuleContext

COMPONENTS = ("X", "Y", "Z")
WINDOW = 5  # minutes, centred


def _running_mean(values: np.ndarray) -> np.ndarray:
    """Centred running mean along the first axis; NaN (gaps) are left out, not spread."""
    half = WINDOW // 2
    padded = np.pad(values, [(half, half), *[(0, 0)] * (values.ndim - 1)], constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, WINDOW, axis=0)
    with np.errstate(invalid="ignore"):
        count = np.sum(~np.isnan(windows), axis=-1)
        total = np.nansum(windows, axis=-1)
    mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.where(np.isnan(values), np.nan, mean)


def process(context: RuleContext) -> xr.Dataset:
    """The day's field in nT (X north, Y east, Z down) and its magnitude.

    Parameters
    ----------
    context
        Inputs ``before``, ``today`` and ``after`` (the station's files of the day
        before, the day and the day after) and ``gmag_cal`` (the baselines in force).
    """
    start, stop = context.day
    files = [*context.files("before"), context.one("today"), *context.files("after")]
    joined = xr.concat([f.read() for f in files], dim="epoch", data_vars="minimal").sortby("epoch")
    table = context.one("gmag_cal").read()
    baseline = dict(zip(table["component"].values, table["baseline"].values, strict=True))
    field = np.column_stack([joined[c].values - baseline[c] for c in COMPONENTS])
    smooth = _running_mean(field)
    times = joined["epoch"].values
    today = (times >= start) & (times < stop)
    total = np.linalg.norm(np.column_stack([joined[c].values for c in COMPONENTS]), axis=1)
    return xr.Dataset(
        {
            "b_xyz": (("epoch", "component"), smooth[today]),
            "f": (("epoch",), total[today]),
            "component": (("component",), np.array(COMPONENTS)),
        },
        coords={"epoch": times[today]},
    )
