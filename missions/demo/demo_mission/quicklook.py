"""Shared plotting for the daily quicklooks (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np

mpl.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

FILL_LIMIT = -1.0e30


def masked(values: np.ndarray) -> np.ndarray:
    """Fill values as NaN, so that lines break at gaps."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[out < FILL_LIMIT] = np.nan
    return out


def figure(panels: int, title: str) -> tuple[plt.Figure, np.ndarray]:
    """A stack of panels sharing the time axis."""
    fig, axes = plt.subplots(
        panels, 1, figsize=(11, 2.1 * panels + 0.8), sharex=True, squeeze=False
    )
    fig.suptitle(title)
    return fig, axes[:, 0]


def finish(fig: plt.Figure, axes: np.ndarray, path: Path) -> Path:
    """Label the time axis, save, and close."""
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
    axes[-1].set_xlabel("UTC")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
