"""A stack of panels on one time axis, each a parameter of any dataset of one server.

The figure is as tall as its panels need: every panel gets the same height in pixels
whatever their number (plotly's default fits all panels into 450 px, where four of
them overlap their axis titles and colour bars), so a panel's y-axis title, legend,
dataset label and colour bar fit beside it. Each panel keeps its own y-axis (scale
and range from its :class:`~socstack.viz.links.Panel`); the y-axes do not zoom, a
drag zooms the time axis that all panels share.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from socstack.client.hapi import Table
from socstack.times import format_time
from socstack.viz.links import Panel
from socstack.viz.reduce import cadence_of, envelope, rebin
from socstack.viz.traces import (
    ColourBar,
    add_lines,
    add_spectrogram,
    axis_title,
    bin_reference,
    with_gaps,
)

__all__ = [
    "PANEL_PX",
    "FigureStats",
    "NoDataError",
    "PanelData",
    "build_figure",
    "figure_height",
    "parameter_specs",
]

#: A panel's height: room for five labelled y ticks, a legend of three components and a
#: two-line axis title.
PANEL_PX = 200
#: Between panels: the dataset label of the panel below.
GAP_PX = 34
#: Above the first panel (the title and its label) and below the last (the time axis).
TOP_PX, BOTTOM_PX = 64, 46
#: An axis title is wrapped to lines of at most this many characters (about 7 px each),
#: so that it stays within its panel's height.
_TITLE_CHARS = 26


class NoDataError(ValueError):
    """The window holds no records of any panel."""


@dataclass
class PanelData:
    """What one panel draws: its options, its parameter's info, and the records.

    ``table`` holds the parameter (and the parameter of its time-varying bins, if any).
    With ``upper``, the table is a summary: its values are minima, ``upper`` the maxima
    (fills already NaN), and the line is drawn as their envelope.
    """

    panel: Panel
    spec: dict[str, Any]
    table: Table
    upper: np.ndarray | None = None


@dataclass
class FigureStats:
    """What a figure carries: records read per dataset, points sent, whether reduced."""

    records: dict[str, int] = field(default_factory=dict)
    points: int = 0
    reduced: bool = False


def parameter_specs(info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The info's parameters by name, time excluded."""
    return {str(p["name"]): p for p in (info.get("parameters") or [])[1:]}


def figure_height(panels: int) -> int:
    """The figure's height in pixels for ``panels`` panels."""
    return TOP_PX + panels * PANEL_PX + max(panels - 1, 0) * GAP_PX + BOTTOM_PX


def build_figure(
    panels: Sequence[PanelData],
    window: tuple[int, int],
    *,
    columns: int = 1000,
    title: str = "",
) -> tuple[go.Figure, FigureStats]:
    """Stacked panels over ``window`` (ns), each reduced to ``columns`` pixel columns."""
    start, stop = window
    if not any(len(p.table.time) for p in panels):
        raise NoDataError(f"no data between {format_time(start, 0)} and {format_time(stop, 0)}")
    rows = len(panels)
    area = rows * PANEL_PX + (rows - 1) * GAP_PX
    figure = make_subplots(
        rows=rows, cols=1, shared_xaxes=True, vertical_spacing=GAP_PX / area if rows > 1 else 0
    )
    stats = FigureStats()
    for row, data in enumerate(panels, start=1):
        bottom, top = _domain(figure, row)
        dataset = data.panel.dataset
        stats.records[dataset] = max(stats.records.get(dataset, 0), len(data.table.time))
        bar = ColourBar(bottom, top)
        positive = _draw_panel(
            figure, row, data, window=window, columns=columns, bar=bar, stats=stats
        )
        _label(figure, data, top)
        _y_axis(figure, row, data, positive)
    figure.update_xaxes(range=[_iso(start), _iso(stop)], type="date")
    figure.update_layout(
        height=figure_height(rows),
        margin={"l": 84, "r": 170, "t": TOP_PX, "b": BOTTOM_PX},
        title={"text": title, "x": 0.01, "y": 1 - 14 / figure_height(rows), "yanchor": "top"},
        title_font_size=15,
        hovermode="x",
        uirevision=title,
        template="plotly_white",
    )
    _place_legends(figure, rows)
    return figure, stats


def _draw_panel(
    figure: go.Figure,
    row: int,
    data: PanelData,
    *,
    window: tuple[int, int],
    columns: int,
    bar: ColourBar,
    stats: FigureStats,
) -> bool | None:
    """The panel's traces; whether a spectrogram's bins are all positive (None: lines)."""
    start, stop = window
    table, spec = data.table, data.spec
    if not len(table.time):
        _no_data(figure, row)
        return None
    cadence = cadence_of(table.time)
    values = with_gaps(table.values[spec["name"]], spec)
    if spec.get("bins") and values.ndim == 2:
        ref = bin_reference(spec)
        bins = table.values.get(ref) if ref else None
        spectrum = rebin(
            table.time, values, start, stop, columns=columns, bins=bins, cadence=cadence
        )
        points, positive = add_spectrogram(figure, row, spec, spectrum, bar)
        stats.points += points
        stats.reduced |= spectrum.reduced
        return positive
    line = envelope(
        table.time, values, start, stop, columns=columns, cadence=cadence, upper=data.upper
    )
    stats.points += add_lines(figure, row, spec, line)
    stats.reduced |= line.reduced
    return None


def _domain(figure: go.Figure, row: int) -> tuple[float, float]:
    axis = figure.layout["yaxis" if row == 1 else f"yaxis{row}"]
    low, high = axis.domain if axis.domain else (0.0, 1.0)
    return float(low), float(high)


def _y_axis(figure: go.Figure, row: int, data: PanelData, positive: bool | None) -> None:
    """The panel's y-axis: title, scale (auto: log for positive bins) and range."""
    panel = data.panel
    log = panel.scale == "log" or (panel.scale == "auto" and bool(positive))
    options: dict[str, Any] = {
        "title_text": _wrapped(axis_title(data.spec)),
        "title_font_size": 12,
        "type": "log" if log else "linear",
        "fixedrange": True,  # a drag zooms time; a panel's y-range is set in the page
        "automargin": True,
    }
    low, high = (_axis_end(v, log) for v in (panel.low, panel.high))
    if low is not None and high is not None:
        options.update(range=[low, high], autorange=False)
    elif low is not None:
        options.update(range=[low, None], autorange="max")
    elif high is not None:
        options.update(range=[None, high], autorange="min")
    figure.update_yaxes(row=row, col=1, **options)


def _axis_end(value: float | None, log: bool) -> float | None:
    """A range end in plotly's axis units: log10 of the value on a log axis.

    A value that is not above zero cannot end a log axis: that end follows the data
    (the page refuses it for a panel set to log; an "auto" spectrogram ends up here).
    """
    if value is None:
        return None
    if log:
        return math.log10(value) if value > 0 else None
    return value


def _label(figure: go.Figure, data: PanelData, top: float) -> None:
    """The panel's dataset, above its top left corner (the y-axis title names the rest)."""
    figure.add_annotation(
        text=data.panel.dataset,
        xref="paper",
        yref="paper",
        x=0,
        y=top,
        xanchor="left",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": "#556"},
    )


def _no_data(figure: go.Figure, row: int) -> None:
    bottom, top = _domain(figure, row)
    figure.add_annotation(
        text="no data in this window",
        xref="paper",
        yref="paper",
        x=0.5,
        y=(bottom + top) / 2,
        showarrow=False,
        font={"size": 13, "color": "#889"},
    )


def _wrapped(title: str) -> str:
    """The title in lines short enough to stay beside its panel."""
    return "<br>".join(textwrap.wrap(title, _TITLE_CHARS)[:3]) or title


def _iso(ns: int) -> str:
    """A time for plotly's layout: ISO without the Z (plotly's dates are zone-less)."""
    return format_time(int(ns), 3).rstrip("Z")


def _place_legends(figure: go.Figure, rows: int) -> None:
    """One legend beside each panel (plotly's several legends), at the panel's top."""
    layout: dict[str, Any] = {}
    for row in range(1, rows + 1):
        _, top = _domain(figure, row)
        layout["legend" if row == 1 else f"legend{row}"] = {
            "x": 1.01,
            "y": top,
            "yanchor": "top",
            "font": {"size": 11},
        }
    figure.update_layout(**layout)
