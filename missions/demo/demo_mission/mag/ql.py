"""Magnetometer daily quicklook: the field in GSE and its magnitude."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

from demo_mission.quicklook import broken, figure, finish, masked
from socstack.pipeline.context import RuleContext


def draw(data: xr.Dataset, day: dt.date) -> tuple[plt.Figure, np.ndarray]:
    """The day's L2 field as a figure, lines broken at gaps and at fill values.

    Kept apart from :func:`process` so that a test can read the lines drawn.
    """
    epoch, field = broken(data["epoch"].values, masked(data["b_gse"].values))
    fig, axes = figure(2, f"demo magnetometer, {day.isoformat()} (L2, GSE, 1 s)")
    for k, (label, color) in enumerate(
        zip(("Bx", "By", "Bz"), ("tab:blue", "tab:green", "tab:red"), strict=True)
    ):
        axes[0].plot(epoch, field[:, k], lw=0.6, color=color, label=label)
    axes[0].set_ylabel("B GSE (nT)")
    axes[0].legend(loc="upper right", ncol=3, fontsize="small")
    axes[1].plot(*broken(data["epoch"].values, masked(data["b_mag"].values)), lw=0.6, color="k")
    axes[1].set_ylabel("|B| (nT)")
    return fig, axes


def process(context: RuleContext) -> Path:
    """A PNG of the day's L2 field."""
    fig, axes = draw(context.one("mag_l2").read(), context.partition)
    return finish(fig, axes, context.scratch / "quicklook.png")
