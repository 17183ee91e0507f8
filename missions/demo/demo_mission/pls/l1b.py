"""Plasma L1B: calibrated moments (velocity still along the sensor axes) and energy flux.

Moments are corrected with the offsets and gains valid for the day; counts become the
differential energy flux through the geometric factor and each step's efficiency.
"""

from __future__ import annotations

import xarray as xr

from demo_mission.mag.l1b import calibration
from demo_mission.pls.instrument import ENERGIES, STEPS, energy_flux
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> xr.Dataset:
    """Calibrate ``pls_l1a`` with the ``pls_cal`` valid for the partition."""
    l1a = context.one("pls_l1a").read()
    table = context.one("pls_cal").read()
    offsets, gains = calibration(table, ("density", "vx", "vy", "vz", "temperature"))
    _, efficiency = calibration(table, tuple(f"e{k:02d}" for k in range(STEPS)))
    return xr.Dataset(
        {
            "density": (("epoch",), (l1a["density_raw"].values - offsets[0]) / gains[0]),
            "velocity_sensor": (
                ("epoch", "axis"),
                (l1a["velocity_raw"].values - offsets[1:4]) / gains[1:4],
            ),
            "velocity_label": (("axis",), l1a["velocity_label"].values),
            "temperature": (("epoch",), (l1a["temperature_raw"].values - offsets[4]) / gains[4]),
            "eflux": (("epoch", "energy"), energy_flux(l1a["counts"].values, efficiency)),
            "quality": (("epoch",), l1a["quality"].values),
            "energy": (("energy",), ENERGIES),
        },
        coords={"epoch": l1a["epoch"].values},
    )
