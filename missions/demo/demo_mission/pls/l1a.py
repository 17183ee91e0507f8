"""Plasma L1A: decode the day's sweeps (onboard moments and per-step counts)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.pls.instrument import ENERGIES, STEPS, VELOCITY_SENSOR_LABELS
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> xr.Dataset:
    """Decode ``pls_l0`` for the partition."""
    packets = context.one("pls_l0").read()
    start, stop = context.day
    epoch = packets["epoch"].values
    inside = (epoch >= start) & (epoch < stop)
    packets = packets.isel(epoch=np.flatnonzero(inside))
    n = packets.sizes["epoch"]
    counts = np.ascontiguousarray(packets["COUNTS"].values).view(">u4").reshape(n, STEPS)
    velocity = np.column_stack([packets[k].values for k in ("VX", "VY", "VZ")])
    return xr.Dataset(
        {
            "density_raw": (("epoch",), packets["DENSITY"].values.astype(np.float64)),
            "velocity_raw": (("epoch", "axis"), velocity.astype(np.float64)),
            "velocity_label": (("axis",), np.array(VELOCITY_SENSOR_LABELS)),
            "temperature_raw": (("epoch",), packets["TEMPERATURE"].values.astype(np.float64)),
            "counts": (
                ("epoch", "energy"),
                np.minimum(counts, np.iinfo(np.int32).max).astype(np.int32),
            ),
            "quality": (("epoch",), packets["QUALITY"].values.astype(np.uint8)),
            "energy": (("energy",), ENERGIES),
        },
        coords={"epoch": packets["epoch"].values},
    )
