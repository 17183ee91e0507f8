"""Plotly figures from HAPI data: stacked panels on one time axis, lines and spectrograms.

Panels follow the HAPI info: a parameter with ``bins`` is a spectrogram (log energy
axis from the bin ranges where the server gives them, else from the centers; log
colour scale; one trace per stretch of constant bins when the bins vary with time), a
vector is one panel with a line per component labelled from the info, anything else
one line. Fill values become gaps; every trace is reduced to the pixel columns first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from socstack.times import format_time
from socstack.viz.client import Table
from socstack.viz.reduce import Line, Spectrum, cadence_of, envelope, rebin

__all__ = ["FigureStats", "NoDataError", "build_figure", "parameter_specs", "with_gaps"]

_PANEL_PX = 230
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf")


class NoDataError(ValueError):
    """The window holds no records of the dataset."""


@dataclass
class FigureStats:
    """What a figure carries: records read, points sent, whether it was reduced."""

    records: int = 0
    points: int = 0
    reduced: bool = False
    panels: list[str] = field(default_factory=list)


def parameter_specs(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The info's parameters by name, time excluded."""
    return {str(p["name"]): p for p in (info.get("parameters") or [])[1:]}


def build_figure(
    info: dict[str, Any],
    parameters: list[str],
    table: Table,
    window: tuple[int, int],
    *,
    columns: int = 1000,
    title: str = "",
    upper: dict[str, np.ndarray] | None = None,
) -> tuple[go.Figure, FigureStats]:
    """Stacked panels for ``parameters`` over ``window`` (ns), reduced to ``columns``.

    ``upper`` makes ``table`` a summary: its values are minima, ``upper`` the maxima
    (fills already NaN), and lines are drawn as their envelope.
    """
    start, stop = window
    if not len(table.time):
        raise NoDataError(f"no data between {format_time(start, 0)} and {format_time(stop, 0)}")
    specs = parameter_specs(info)
    figure = make_subplots(rows=len(parameters), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    stats = FigureStats(records=len(table.time), panels=list(parameters))
    cadence = cadence_of(table.time)
    for row, name in enumerate(parameters, start=1):
        spec = specs[name]
        values = with_gaps(table.values[name], spec)
        if spec.get("bins") and values.ndim == 2:
            bins = table.values.get(_bin_reference(spec)) if _bin_reference(spec) else None
            spectrum = rebin(
                table.time, values, start, stop, columns=columns, bins=bins, cadence=cadence
            )
            _add_spectrogram(figure, (row, len(parameters)), spec, spectrum, stats)
            stats.reduced |= spectrum.reduced
        else:
            high = None if upper is None else upper[name]
            line = envelope(
                table.time, values, start, stop, columns=columns, cadence=cadence, upper=high
            )
            _add_lines(figure, row, spec, line, stats)
            stats.reduced |= line.reduced
        figure.update_yaxes(title_text=_axis_title(spec), row=row, col=1)
    figure.update_xaxes(range=[_iso(start), _iso(stop)], type="date")
    figure.update_layout(
        height=max(320, _PANEL_PX * len(parameters) + 90),
        margin={"l": 80, "r": 170, "t": 50, "b": 40},
        title={"text": title, "x": 0.01, "font": {"size": 15}},
        hovermode="x",
        uirevision=title,
        template="plotly_white",
    )
    _place_legends(figure, len(parameters))
    return figure, stats


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


def _labels(spec: dict[str, Any], count: int) -> list[str]:
    label = spec.get("label")
    if isinstance(label, list) and len(label) == count:
        return [str(v) for v in label]
    name = str(label or spec["name"])
    return [name] if count == 1 else [f"{name}[{i}]" for i in range(count)]


def _units(spec: dict[str, Any]) -> str:
    units = spec.get("units")
    if isinstance(units, list):
        units = units[0] if units else None
    return "" if units in (None, "dimensionless") else str(units)


def _axis_title(spec: dict[str, Any]) -> str:
    label = spec.get("label")
    name = spec["name"] if isinstance(label, list) or not label else str(label)
    if spec.get("bins"):
        axis = spec["bins"][0]
        return f"{axis.get('label') or axis.get('name', '')} ({axis.get('units') or ''})"
    units = _units(spec)
    return f"{name} ({units})" if units else str(name)


def _iso(ns: int) -> str:
    """A time for plotly's layout: ISO without the Z (plotly's dates are zone-less)."""
    return format_time(int(ns), 3).rstrip("Z")


def _ms(ns: np.ndarray) -> np.ndarray:
    """Trace times as milliseconds since 1970, which a date axis reads as dates.

    plotly sends float arrays to the browser as base64: half the bytes of date strings.
    """
    return ns / 1e6


def _add_lines(
    figure: go.Figure, row: int, spec: dict[str, Any], line: Line, stats: FigureStats
) -> None:
    x, y = line.x, line.y
    columns = y.reshape(len(y), -1)
    labels = _labels(spec, columns.shape[1])
    times = _ms(x)
    for k, label in enumerate(labels):
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
        stats.points += len(x)


def _bin_reference(spec: dict[str, Any]) -> str | None:
    axis = (spec.get("bins") or [{}])[0]
    ref = axis.get("centers")
    return ref if isinstance(ref, str) else None


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


def _add_spectrogram(
    figure: go.Figure,
    place: tuple[int, int],
    spec: dict[str, Any],
    spectrum: Spectrum,
    stats: FigureStats,
) -> None:
    row, rows = place
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
    units = _units(spec)
    positive = True
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
                    "title": {"text": f"log10 {spec.get('label') or spec['name']}<br>{units}"},
                    "len": 0.9 / rows,
                    "y": 1 - (row - 0.5) / rows,
                    "x": 1.01,
                    "thickness": 14,
                },
                name=str(spec["name"]),
                hovertemplate="%{x}<br>%{y:.4g} "
                + str(axis.get("units") or "")
                + "<br>log10 value %{z:.3f}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        stats.points += int(z.size)
    if positive:
        figure.update_yaxes(type="log", row=row, col=1)


def _place_legends(figure: go.Figure, rows: int) -> None:
    """One legend beside each panel (plotly's several legends), at the panel's top."""
    layout: dict[str, Any] = {}
    for row in range(1, rows + 1):
        axis = figure.layout["yaxis" if row == 1 else f"yaxis{row}"]
        top = axis.domain[1] if axis.domain else 1.0
        layout["legend" if row == 1 else f"legend{row}"] = {
            "x": 1.01,
            "y": top,
            "yanchor": "top",
            "font": {"size": 11},
        }
    figure.update_layout(**layout)
