"""Plasma L2: moments with the velocity in GSE, the speed, and the energy spectrum.

Records stay one per 4 s sweep: sweeps start on whole seconds, so the plasma shares the
magnetometer's 1 s time grid without inventing values between sweeps.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.frames import PLS_TO_GSE, to_gse
from demo_mission.pls.instrument import ENERGIES, ENERGY_MAX, ENERGY_MIN, VELOCITY_GSE_LABELS
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> xr.Dataset:
    """Rotate ``pls_l1b`` to GSE."""
    l1b = context.one("pls_l1b").read()
    velocity = to_gse(l1b["velocity_sensor"].values, PLS_TO_GSE)
    return xr.Dataset(
        {
            "density": (("epoch",), l1b["density"].values),
            "velocity_gse": (("epoch", "axis"), velocity),
            "velocity_label": (("axis",), np.array(VELOCITY_GSE_LABELS)),
            "speed": (("epoch",), np.linalg.norm(velocity, axis=1)),
            "temperature": (("epoch",), l1b["temperature"].values),
            "eflux": (("epoch", "energy"), l1b["eflux"].values),
            "quality": (("epoch",), l1b["quality"].values.astype(np.int32)),
            "energy": (("energy",), ENERGIES),
            "energy_min": (("energy",), ENERGY_MIN),
            "energy_max": (("energy",), ENERGY_MAX),
        },
        coords={"epoch": l1b["epoch"].values},
    )
