"""Level 2 of both instruments: the field's change since yesterday beside the total flux."""

from __future__ import annotations

import numpy as np
import xarray as xr

from socstack.pipeline.context import RuleContext

MINUTE = np.timedelta64(60, "s")


def process(context: RuleContext) -> xr.Dataset:
    """Per minute of the day: |B| minus |B| a day earlier, and the total energy flux.

    Parameters
    ----------
    context
        Inputs ``gmag_l1`` (yesterday and today: the rule needs both) and ``spectra``
        (the analyzer's level 1 around the day: any day of it will do).
    """
    start, stop = context.day
    minutes = np.arange(start, stop, MINUTE)
    field = context.read("gmag_l1")
    magnitude = np.linalg.norm(field["b_xyz"].values, axis=1)
    times = field["epoch"].values
    index = {t: k for k, t in enumerate(times)}
    now = np.array([magnitude[index[t]] if t in index else np.nan for t in minutes])
    before = np.array(
        [magnitude[index[t]] if t in index else np.nan for t in minutes - np.timedelta64(1, "D")]
    )
    sums = np.zeros(len(minutes))
    seen = np.zeros(len(minutes))
    # One file at a time: each day has the energy table of its own calibration.
    for spectra in (f.read() for f in context.files("spectra")):
        sweep = spectra["epoch"].values
        total = spectra["eflux"].values.sum(axis=1)
        keep = (sweep >= start) & (sweep < stop)
        slot = ((sweep[keep] - start) // MINUTE).astype(np.int64)
        sums += np.bincount(slot, weights=total[keep], minlength=len(minutes))
        seen += np.bincount(slot, minlength=len(minutes))
    flux = np.where(seen > 0, sums / np.maximum(seen, 1), np.nan)
    return xr.Dataset(
        {"db_daily": (("epoch",), now - before), "flux_total": (("epoch",), flux)},
        coords={"epoch": minutes},
    )
