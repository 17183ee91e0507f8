"""Reduce a time window to what a screen can show, on the server.

A year of 1 Hz data is 31.5 million samples per component; a plot is about a thousand
pixel columns wide. Lines become a min/max envelope per pixel column (every peak
stays visible, the line's shape is exact at that resolution); spectrograms are
averaged into one column per pixel. Both keep gaps: a gap longer than a few cadences
breaks the line, and empty pixel columns stay empty.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GAP_CADENCES", "Line", "Spectrum", "cadence_of", "envelope", "rebin"]

#: A gap longer than this many cadences breaks a line.
GAP_CADENCES = 3.0


@dataclass
class Line:
    """Points of one or more lines sharing x (ns); NaN rows break the lines."""

    x: np.ndarray
    y: np.ndarray  # (n,) or (n, components)
    reduced: bool


@dataclass
class Spectrum:
    """Columns of a spectrogram: x centers (ns), z (columns, bins), and each column's bins."""

    x: np.ndarray
    z: np.ndarray
    bins: np.ndarray | None  # (columns, bins) when the bins vary with time
    reduced: bool


def cadence_of(time: np.ndarray) -> float:
    """The typical step between records (ns): the median of the steps."""
    if len(time) < 2:
        return 0.0
    steps = np.diff(time[: min(len(time), 100_001)])
    return float(np.median(steps))


def envelope(
    time: np.ndarray,
    values: np.ndarray,
    start: int,
    stop: int,
    *,
    columns: int,
    cadence: float = 0.0,
    upper: np.ndarray | None = None,
) -> Line:
    """Values in ``[start, stop)``: all if they fit ``columns``, else min and max per column.

    With ``upper``, the records are a summary (each one an interval's minimum in
    ``values`` and maximum in ``upper``): the envelope is the least of the minima and the
    greatest of the maxima in each column, which is the envelope of the data summarized.
    """
    a, b = np.searchsorted(time, [start, stop])
    t, v = time[a:b], values[a:b].astype(np.float64, copy=False)
    u = v if upper is None else upper[a:b].astype(np.float64, copy=False)
    cadence = cadence or cadence_of(t)
    if len(t) <= 2 * columns and upper is None:
        return Line(*_broken(t, v, (t, t), cadence), reduced=False)
    starts, ends = _columns(t, start, stop, columns)
    with np.errstate(invalid="ignore"):
        # Fast on the column-major arrays the client keeps (one pass per component).
        low = np.fmin.reduceat(v, starts, axis=0)
        high = np.fmax.reduceat(u, starts, axis=0)
    # Each column gives two points, its min at its first sample and its max at its last.
    x = np.empty(2 * len(starts), dtype=np.int64)
    x[0::2], x[1::2] = t[starts], t[ends - 1]
    y = np.empty((2 * len(starts), *v.shape[1:]), dtype=np.float64)
    y[0::2], y[1::2] = low, high
    # Break where the data have a gap: between columns, from one's last to the next's first.
    return Line(*_broken(x, y, (t[ends - 1], t[starts]), cadence, pairs=True), reduced=True)


def _columns(t: np.ndarray, start: int, stop: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """First and end index of each non-empty pixel column (a search per column, not per sample)."""
    edges = start + (stop - start) * np.arange(columns + 1, dtype=np.float64) / columns
    bounds = np.searchsorted(t, edges.astype(np.int64))
    bounds[-1] = len(t)
    keep = bounds[1:] > bounds[:-1]
    return bounds[:-1][keep], bounds[1:][keep]


def _broken(
    x: np.ndarray,
    y: np.ndarray,
    ends: tuple[np.ndarray, np.ndarray],
    cadence: float,
    *,
    pairs: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN row wherever the step from ``last[i]`` to ``first[i+1]`` is a gap.

    ``ends`` is (last, first) time of each column, or the times twice for raw samples.
    """
    last, first = ends
    if len(last) < 2 or cadence <= 0:
        return x, y
    gaps = np.flatnonzero(first[1:] - last[:-1] > GAP_CADENCES * cadence) + 1
    if not len(gaps):
        return x, y
    at = gaps * 2 if pairs else gaps
    x = np.insert(x, at, (x[at - 1] + x[np.minimum(at, len(x) - 1)]) // 2)
    y = np.insert(y, at, np.nan, axis=0)
    return x, y


def rebin(
    time: np.ndarray,
    values: np.ndarray,
    start: int,
    stop: int,
    *,
    columns: int,
    bins: np.ndarray | None = None,
    cadence: float = 0.0,
) -> Spectrum:
    """Spectra in ``[start, stop)`` averaged into at most ``columns`` time columns.

    ``bins`` (records, bins) are time-varying bin values, reduced with the spectra (each
    column keeps its first record's bins). Columns with no data are NaN, so a gap shows.
    """
    a, b = np.searchsorted(time, [start, stop])
    t, v = time[a:b], values[a:b].astype(np.float64, copy=False)
    varying = bins[a:b] if bins is not None else None
    cadence = cadence or cadence_of(t)
    if len(t) <= columns:
        x, z = t, v
        if len(t) > 1 and cadence > 0:
            gaps = np.flatnonzero(np.diff(t) > GAP_CADENCES * cadence) + 1
            if len(gaps):
                x = np.insert(x, gaps, (t[gaps - 1] + t[gaps]) // 2)
                z = np.insert(z, gaps, np.nan, axis=0)
                if varying is not None:
                    varying = np.insert(varying, gaps, varying[gaps - 1], axis=0)
        return Spectrum(x, z, varying, reduced=False)
    edges = start + (stop - start) * np.arange(columns + 1, dtype=np.float64) / columns
    bounds = np.searchsorted(t, edges.astype(np.int64))
    bounds[-1] = len(t)
    filled = np.flatnonzero(bounds[1:] > bounds[:-1])
    starts = bounds[filled]
    z = np.full((columns, v.shape[1]), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        if np.isnan(v.sum()):  # fills (NaN) present: average what is there
            finite = np.isfinite(v)
            sums = np.add.reduceat(np.where(finite, v, 0.0), starts, axis=0)
            counts = np.add.reduceat(finite.astype(np.float64), starts, axis=0)
        else:
            sums = np.add.reduceat(v, starts, axis=0)
            counts = np.diff(np.append(starts, bounds[filled[-1] + 1]))[:, None] * 1.0
        z[filled] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    x = ((edges[:-1] + edges[1:]) / 2).astype(np.int64)
    column_bins = None
    if varying is not None:
        column_bins = varying[np.minimum(bounds[:-1], len(t) - 1)]
    return Spectrum(x, z, column_bins, reduced=True)
