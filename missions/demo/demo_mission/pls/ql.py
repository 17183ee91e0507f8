"""Plasma daily quicklook: density, speed, temperature and the energy spectrogram."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import LogNorm

from demo_mission.quicklook import figure, finish, masked, per_minute
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> Path:
    """A PNG of the day's L2 moments and spectrum."""
    data = context.one("pls_l2").read()
    epoch = data["epoch"].values
    title = f"demo plasma analyzer, {context.partition.isoformat()} (L2, 4 s; spectrum 1 min)"
    fig, axes = figure(4, title)
    axes[0].plot(epoch, masked(data["density"].values), lw=0.6)
    axes[0].set_ylabel("N (cm$^{-3}$)")
    axes[1].plot(epoch, masked(data["speed"].values), lw=0.6)
    axes[1].set_ylabel("|V| (km/s)")
    axes[2].semilogy(epoch, masked(data["temperature"].values), lw=0.6)
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
    return finish(fig, axes, context.scratch / "quicklook.png")
