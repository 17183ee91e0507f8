"""Shared plotting for the daily quicklooks (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np

mpl.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt

FILL_LIMIT = -1.0e30

#: A step between records longer than this many cadences is a data gap, where lines break
#: (the viz breaks its lines at the same length).
GAP_CADENCES = 3.0


def masked(values: np.ndarray) -> np.ndarray:
    """Fill values as NaN, so that lines break where a record holds no value."""
    out = np.asarray(values, dtype=np.float64).copy()
    out[out < FILL_LIMIT] = np.nan
    return out


def broken(epoch: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``epoch`` and ``values`` with a NaN row inside every gap between records.

    matplotlib joins consecutive points whatever the time between them, so a line drawn
    over missing records would show an hour without data as a straight segment; a NaN
    row in the gap breaks it there. The cadence is the median step between records.
    """
    if len(epoch) < 2:
        return epoch, values
    steps = np.diff(epoch)
    cadence = np.median(steps)
    at = np.flatnonzero(steps > GAP_CADENCES * cadence) + 1
    if not len(at):
        return epoch, values
    middle = epoch[at - 1] + (epoch[at] - epoch[at - 1]) // 2
    return np.insert(epoch, at, middle), np.insert(values, at, np.nan, axis=0)


def per_minute(epoch: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of each minute of ``values`` (records along axis 0), NaN where none.

    A daily plot is about 1,000 pixels wide: a day of 4 s sweeps drawn one quad each
    (21,600 by 32) costs a second of rendering for detail nobody can see.
    """
    day = epoch[0].astype("datetime64[D]")
    minute = ((epoch - day) // np.timedelta64(60, "s")).astype(np.int64)
    minutes = 24 * 60
    finite = np.isfinite(values)
    sums = np.zeros((minutes, *values.shape[1:]))
    counts = np.zeros((minutes, *values.shape[1:]))
    np.add.at(sums, minute, np.where(finite, values, 0.0))
    np.add.at(counts, minute, finite)
    with np.errstate(invalid="ignore"):
        means = sums / counts
    edges = day + np.arange(minutes + 1) * np.timedelta64(60, "s")
    return edges, means


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
