"""Analyzer level 1: counts to differential energy flux with the energy table in force.

The energy table (channel centres, widths and gains) comes from the calibration valid
for the day; when a calibration moves the channels, each day's file keeps its own table,
which HAPI serves as time-varying bins. A day spent in safe mode has nothing to make.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from polar_code.spectra import SAFE_MODE
from socstack.pipeline.context import NoOutput, RuleContext


def process(context: RuleContext) -> xr.Dataset:
    """Energy flux of the day's science sweeps, background from the surrounding days.

    Parameters
    ----------
    context
        Inputs ``esa_l0`` (the day and its neighbours, when there are any) and
        ``esa_cal`` (the energy table valid on the day).

    Returns
    -------
    xarray.Dataset
        ``eflux`` (epoch, energy), ``energy`` (the table's centres), ``mode``.
    """
    start, stop = context.day
    sweeps = context.read("esa_l0")
    science = sweeps["mode"].values != SAFE_MODE
    today = (sweeps["epoch"].values >= start) & (sweeps["epoch"].values < stop)
    if not np.any(today & science):
        raise NoOutput("the analyzer spent the whole day in safe mode")
    # The lowest percentile of all science sweeps around the day is the background.
    background = np.percentile(sweeps["counts"].values[science], 1, axis=0)
    table = context.one("esa_cal").read().sortby("channel")
    energy = table["energy"].values
    width, gain = table["width"].values, table["gain"].values
    counts = sweeps["counts"].values[today & science]
    eflux = np.clip(counts - background, 0, None) * gain / width
    return xr.Dataset(
        {
            "eflux": (("epoch", "energy"), eflux),
            "energy": (("energy",), energy),
            "mode": (("epoch",), sweeps["mode"].values[today & science]),
        },
        coords={"epoch": sweeps["epoch"].values[today & science]},
    )
