"""Solar-wind parameters from both instruments, at each plasma sweep.

The field is the mean of the 1 s L2 field over the sweep's 4 s. Then, with n in m^-3,
B in T and V in m/s: beta = n k T / (B^2 / 2 mu0), V_A = B / sqrt(mu0 n m_p),
p_dyn = n m_p V^2, p_mag = B^2 / (2 mu0), M_A = V / V_A. A sweep without field data
gets the fill value.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from demo_mission.mag.instrument import FILL, GSE_LABELS
from demo_mission.pls.instrument import SWEEP_SECONDS
from socstack.pipeline.context import RuleContext

MU0 = 4e-7 * np.pi
BOLTZMANN = 1.380649e-23
PROTON_MASS = 1.67262192e-27


def process(context: RuleContext) -> xr.Dataset:
    """Combine ``mag_l2`` and ``pls_l2`` for the partition."""
    mag = context.one("mag_l2").read()
    pls = context.one("pls_l2").read()
    field = mag["b_gse"].values
    good = np.all(field > FILL / 10, axis=1)
    seconds = ((mag["epoch"].values - mag["epoch"].values[0]) // np.timedelta64(1, "s")).astype(
        np.int64
    )
    sweep_start = ((pls["epoch"].values - mag["epoch"].values[0]) // np.timedelta64(1, "s")).astype(
        np.int64
    )
    sweep_of_second = np.searchsorted(sweep_start, seconds, side="right") - 1
    in_sweep = (sweep_of_second >= 0) & (
        seconds < sweep_start[np.maximum(sweep_of_second, 0)] + SWEEP_SECONDS
    )
    use = good & in_sweep
    n_sweeps = len(sweep_start)
    count = np.bincount(sweep_of_second[use], minlength=n_sweeps)
    b_avg = np.stack(
        [
            np.bincount(sweep_of_second[use], weights=field[use, k], minlength=n_sweeps)
            for k in range(3)
        ],
        axis=1,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        b_avg = b_avg / count[:, None]
    missing = count == 0
    b_tesla = np.linalg.norm(np.where(missing[:, None], 0.0, b_avg), axis=1) * 1e-9
    density = pls["density"].values * 1e6
    speed = pls["speed"].values * 1e3
    temperature = pls["temperature"].values
    with np.errstate(invalid="ignore", divide="ignore"):
        p_mag = b_tesla**2 / (2 * MU0)
        beta = density * BOLTZMANN * temperature / p_mag
        v_alfven = b_tesla / np.sqrt(MU0 * density * PROTON_MASS)
        p_dyn = density * PROTON_MASS * speed**2
        mach = speed / v_alfven

    def filled(values: np.ndarray) -> np.ndarray:
        return np.where(missing | ~np.isfinite(values), FILL, values)

    return xr.Dataset(
        {
            "b_avg": (("epoch", "axis"), np.where(missing[:, None], FILL, b_avg)),
            "b_avg_label": (("axis",), np.array(GSE_LABELS)),
            "beta": (("epoch",), filled(beta)),
            "v_alfven": (("epoch",), filled(v_alfven / 1e3)),
            "p_dyn": (("epoch",), filled(p_dyn * 1e9)),
            "p_mag": (("epoch",), filled(p_mag * 1e9)),
            "mach_alfven": (("epoch",), filled(mach)),
        },
        coords={"epoch": pls["epoch"].values},
    )
