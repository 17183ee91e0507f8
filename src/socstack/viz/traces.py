"""Plotly traces of one panel: a parameter's lines, or its spectrogram.

Traces follow the HAPI info: a parameter with ``bins`` is a spectrogram (log energy
axis from the bin ranges where the server gives them, else from the centers; log
colour scale; one trace per stretch of constant bins when the bins vary with time), a
vector is a line per component labelled from the info, anything else one line.
Fill values become gaps (:func:`with_gaps`); every trace is reduced to the pixel
columns first (:mod:`socstack.viz.reduce`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import plotly.graph_objects as go

from socstack.viz.reduce import Line, Spectrum

__all__ = [
    "ColourBar",
    "add_lines",
    "add_spectrogram",
    "axis_title",
    "bin_reference",
    "units_of",
    "with_gaps",
]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")


@dataclass(frozen=True)
class ColourBar:
    """Where a spectrogram's colour bar goes: beside its own panel, as tall as it."""

    bottom: float  # the panel's domain on the figure's height (0 to 1)
    top: float


def with_gaps(raw: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    """Values as floats with fill values as NaN; copied only when a fill is present."""
    values = np.asarray(raw, dtype=np.float64)  # no copy for doubles (a year: 750 MB)
    fill = spec.get("fill")
    if fill in (None, "", "null"):
        return values
    try:
        fill_value = float(fill)
    except ValueError:
        return values
    if np.isnan(fill_value):
        return values
    filled = values == fill_value
    if filled.any():
        values = np.where(filled, np.nan, values)
        values = np.asfortranarray(values) if raw.flags.f_contiguous else values
    return values


def units_of(spec: dict[str, Any]) -> str:
    """The parameter's units as an axis shows them ("" for none or dimensionless)."""
    units = spec.get("units")
    if isinstance(units, list):
        units = units[0] if units else None
    return "" if units in (None, "dimensionless") else str(units)


def axis_title(spec: dict[str, Any]) -> str:
    """The y-axis title: the bins' name and units for a spectrogram, else the label's."""
    label = spec.get("label")
    name = spec["name"] if isinstance(label, list) or not label else str(label)
    if spec.get("bins"):
        axis = spec["bins"][0]
        return f"{axis.get('label') or axis.get('name', '')} ({axis.get('units') or ''})"
    units = units_of(spec)
    return f"{name} ({units})" if units else str(name)


def bin_reference(spec: dict[str, Any]) -> str | None:
    """The parameter holding a spectrogram's time-varying bin centers, if any."""
    axis = (spec.get("bins") or [{}])[0]
    ref = axis.get("centers")
    return ref if isinstance(ref, str) else None


def add_lines(figure: go.Figure, row: int, spec: dict[str, Any], line: Line) -> int:
    """A line per component in panel ``row``, in that panel's legend; the points sent."""
    x, y = line.x, line.y
    columns = y.reshape(len(y), -1)
    times = _ms(x)
    for k, label in enumerate(_labels(spec, columns.shape[1])):
        figure.add_trace(
            go.Scatter(
                x=times,
                y=columns[:, k],
                mode="lines",
                name=label,
                line={"width": 1, "color": _COLOURS[k % len(_COLOURS)]},
                legend="legend" if row == 1 else f"legend{row}",
                connectgaps=False,
            ),
            row=row,
            col=1,
        )
    return len(x) * columns.shape[1]


def add_spectrogram(
    figure: go.Figure, row: int, spec: dict[str, Any], spectrum: Spectrum, bar: ColourBar
) -> tuple[int, bool]:
    """The spectrogram in panel ``row`` with its colour bar; (points sent, all bins > 0)."""
    axis = spec["bins"][0]
    with np.errstate(divide="ignore", invalid="ignore"):
        logged = np.where(spectrum.z > 0, np.log10(spectrum.z), np.nan)
    finite = logged[np.isfinite(logged)]
    low, high = np.percentile(finite, [1, 99]) if len(finite) else (0.0, 1.0)
    # A zero (no counts) is the bottom of the colour scale; only a fill (NaN) is a gap.
    logged[spectrum.z <= 0] = low
    # One trace per stretch of columns whose bins are the same (time-varying bins).
    if spectrum.bins is None:
        stretches = [(0, len(spectrum.x), None)]
    else:
        change = np.flatnonzero(np.any(np.diff(spectrum.bins, axis=0) != 0, axis=1)) + 1
        bounds = [0, *change.tolist(), len(spectrum.x)]
        stretches = [(a, b, spectrum.bins[a]) for a, b in pairwise(bounds)]
    units = units_of(spec)
    title = f"log10 {spec.get('label') or spec['name']}" + (f"<br>{units}" if units else "")
    positive, points = True, 0
    for index, (a, b, centers) in enumerate(stretches):
        edges, order = _edges(axis, None if centers is None else np.asarray(centers, float))
        positive &= bool((edges > 0).all())
        z = logged[a:b][:, order].T.astype(np.float32)
        figure.add_trace(
            go.Heatmap(
                x=_ms(spectrum.x[a:b]),
                y=edges,
                z=z,
                zmin=float(low),
                zmax=float(high),
                colorscale="Viridis",
                showscale=index == 0,
                colorbar={
                    "title": {"text": title, "side": "right", "font": {"size": 11}},
                    "len": bar.top - bar.bottom,
                    "lenmode": "fraction",
                    "y": (bar.top + bar.bottom) / 2,
                    "yanchor": "middle",
                    "x": 1.01,
                    "xanchor": "left",
                    "thickness": 14,
                    "tickfont": {"size": 10},
                },
                name=str(spec["name"]),
                hovertemplate="%{x}<br>%{y:.4g} "
                + str(axis.get("units") or "")
                + "<br>log10 value %{z:.3f}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        points += int(z.size)
    return points, positive


def _labels(spec: dict[str, Any], count: int) -> list[str]:
    label = spec.get("label")
    if isinstance(label, list) and len(label) == count:
        return [str(v) for v in label]
    name = str(label or spec["name"])
    return [name] if count == 1 else [f"{name}[{i}]" for i in range(count)]


def _ms(ns: np.ndarray) -> np.ndarray:
    """Trace times as milliseconds since 1970, which a date axis reads as dates.

    plotly sends float arrays to the browser as base64: half the bytes of date strings.
    """
    return ns / 1e6


def _edges(axis: dict[str, Any], centers: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (ascending) and the order that sorts the bins: ranges first, else centers."""
    ranges = axis.get("ranges")
    if isinstance(ranges, list) and ranges and centers is None:
        low_high = np.array(ranges, dtype=np.float64)
        order = np.argsort(low_high[:, 0])
        low, high = low_high[order, 0], low_high[order, 1]
        inner = (high[:-1] + low[1:]) / 2  # adjacent ranges meet; a gap is split evenly
        return np.concatenate(([low[0]], inner, [high[-1]])), order
    if centers is None:
        centers = np.array(axis.get("centers") or [], dtype=np.float64)
    order = np.argsort(centers)
    c = centers[order]
    if len(c) == 1:
        return np.array([c[0] * 0.9, c[0] * 1.1]), order
    if (c > 0).all():  # geometric midpoints: the energy axis is logarithmic
        mid = np.sqrt(c[:-1] * c[1:])
        first, last = c[0] ** 2 / mid[0], c[-1] ** 2 / mid[-1]
    else:
        mid = (c[:-1] + c[1:]) / 2
        first, last = 2 * c[0] - mid[0], 2 * c[-1] - mid[-1]
    return np.concatenate(([first], mid, [last])), order
