"""Magnetometer L1A: decode the day's packets into a time series of raw vectors.

Each packet holds 60 vectors at 2^RATE per second from its time tag; only vectors
inside the day are kept, so packets that straddle midnight are split between days.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.mag.instrument import VECTORS_PER_PACKET
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> xr.Dataset:
    """Decode ``mag_l0`` for the partition into counts, ranges and times."""
    packets = context.one("mag_l0").read()
    n = packets.sizes["epoch"]
    counts = (
        np.ascontiguousarray(packets["VECTORS"].values)
        .view(">i2")
        .reshape(n, VECTORS_PER_PACKET, 3)
    )
    rate = 2.0 ** packets["RATE"].values.astype(np.float64)
    offsets = (np.arange(VECTORS_PER_PACKET)[None, :] / rate[:, None] * 1e9).astype(
        "timedelta64[ns]"
    )
    epoch = packets["epoch"].values[:, None] + offsets
    valid = np.arange(VECTORS_PER_PACKET)[None, :] < packets["NVEC"].values[:, None]
    ranges = np.broadcast_to(packets["RANGE"].values[:, None], valid.shape)
    start, stop = context.day
    epoch, counts, ranges = epoch[valid], counts[valid], ranges[valid]
    inside = (epoch >= start) & (epoch < stop)
    epoch, counts, ranges = epoch[inside], counts[inside], ranges[inside]
    order = np.argsort(epoch, kind="stable")
    epoch, counts, ranges = epoch[order], counts[order], ranges[order]
    unique = np.concatenate([[True], np.diff(epoch.astype(np.int64)) > 0])  # repeated packets
    return xr.Dataset(
        {
            "counts": (("epoch", "axis"), counts[unique].astype(np.int16)),
            "counts_label": (("axis",), np.array(["X sensor", "Y sensor", "Z sensor"])),
            "range": (("epoch",), ranges[unique].astype(np.uint8)),
        },
        coords={"epoch": epoch[unique]},
    )
