"""Plasma daily quicklook: density, speed, temperature and the energy spectrogram."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.colors import LogNorm

from demo_mission.quicklook import broken, figure, finish, masked, per_minute
from socstack.pipeline.context import RuleContext


def draw(data: xr.Dataset, day: dt.date) -> tuple[plt.Figure, np.ndarray]:
    """The day's L2 moments and spectrum as a figure, lines broken at data gaps.

    The analyzer's L2 has no records where telemetry is missing (no fill values), so
    the lines are broken by time; the spectrogram's empty minutes are blank already.
    Kept apart from :func:`process` so that a test can read the lines drawn.
    """
    epoch = data["epoch"].values
    title = f"demo plasma analyzer, {day.isoformat()} (L2, 4 s; spectrum 1 min)"
    fig, axes = figure(4, title)
    axes[0].plot(*broken(epoch, masked(data["density"].values)), lw=0.6)
    axes[0].set_ylabel("N (cm$^{-3}$)")
    axes[1].plot(*broken(epoch, masked(data["speed"].values)), lw=0.6)
    axes[1].set_ylabel("|V| (km/s)")
    axes[2].semilogy(*broken(epoch, masked(data["temperature"].values)), lw=0.6)
    axes[2].set_ylabel("T (K)")
    minutes, flux = per_minute(epoch, masked(data["eflux"].values))
    flux[flux <= 0] = np.nan  # no counts in the whole minute: blank on a log scale
    edges = np.concatenate([data["energy_min"].values, data["energy_max"].values[-1:]])
    mesh = axes[3].pcolormesh(minutes, edges, flux.T, norm=LogNorm(), shading="flat")
    axes[3].set_yscale("log")
    axes[3].set_ylabel("E/q (eV)")
    # An inset colorbar leaves the panel as wide as the others, so times line up.
    bar = axes[3].inset_axes((1.005, 0.0, 0.012, 1.0))
    fig.colorbar(mesh, cax=bar, label="eV/(cm$^2$ s sr eV)")
    return fig, axes


def process(context: RuleContext) -> Path:
    """A PNG of the day's L2 moments and spectrum."""
    fig, axes = draw(context.one("pls_l2").read(), context.partition)
    return finish(fig, axes, context.scratch / "quicklook.png")
