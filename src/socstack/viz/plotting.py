"""From the controls to a drawn figure: Plot, stack edits and zooms become requests.

A request is the view to draw; the link holds it, so the URL always reopens what is
shown. Plot asks for the stack over the typed times; an edit of the stack, once
something is drawn, asks again at once; a zoom (a drag, or any relayout of the time
axis) asks for the zoomed window, rounded to the stack's finest cadence, and writes it
into the time fields and the link. A double click goes back to the window last asked
for with Plot or a link. Every figure is built here, on the server, reduced to the
plot's pixel width, from the cache of downloads: zooming never downloads again.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, html, no_update

from socstack.client.hapi import HapiClientError
from socstack.times import format_time
from socstack.viz.figures import FigureStats, NoDataError, build_figure, figure_height
from socstack.viz.links import Panel, View
from socstack.viz.viewer import Viewer
from socstack.viz.window import (
    ViewError,
    rounded,
    rounding_step,
    short_time,
    window_of,
    zoomed,
)

__all__ = ["describe", "register_plotting"]

logger = logging.getLogger(__name__)


def register_plotting(app: dash.Dash, viewer: Viewer) -> None:
    """The callbacks from Plot, the stack and zooms to requests, and from a request to a figure."""

    @app.callback(
        Output("request", "data", allow_duplicate=True),
        Output("home", "data", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("plot", "n_clicks"),
        Input("stack", "data"),
        State("server", "value"),
        State("start", "value"),
        State("stop", "value"),
        State("request", "data"),
        prevent_initial_call=True,
    )
    def plot(
        _: int | None,
        stack: list[dict[str, Any]] | None,
        server: str | None,
        start: str | None,
        stop: str | None,
        request: dict[str, Any] | None,
    ) -> Any:
        panels = [Panel.from_dict(p) for p in stack or []]
        view = View(server or "", panels, start or "", stop or "")
        if dash.ctx.triggered_id == "stack":
            # An edit redraws what is shown; a stack just opened from a link is shown.
            if not request or View.from_dict(request).panels == panels:
                return (no_update,) * 5
            if not panels:
                return None, no_update, no_update, "The stack is empty: add panels.", False
        try:
            window = window_of(view)
        except ViewError as exc:
            return no_update, no_update, no_update, str(exc), False
        home = list(window) if dash.ctx.triggered_id == "plot" else no_update
        return view.as_dict(), home, view.query(), "", True

    @app.callback(
        Output("request", "data", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Output("start", "value", allow_duplicate=True),
        Output("stop", "value", allow_duplicate=True),
        Input("graph", "relayoutData"),
        State("request", "data"),
        State("home", "data"),
        prevent_initial_call=True,
    )
    def zoom(relayout: dict | None, request: dict | None, home: list[int] | None) -> Any:
        if not request:
            return (no_update,) * 4
        view = View.from_dict(request)
        try:
            current = window_of(view)
        except ViewError:
            return (no_update,) * 4
        back = (int(home[0]), int(home[1])) if home else None
        window = zoomed(relayout or {}, back)
        if window is None:
            return (no_update,) * 4
        if window != back:
            window = rounded(window, rounding_step(viewer.cadences(view)))
        if window == current:
            return (no_update,) * 4
        new = replace(view, start=short_time(window[0]), stop=short_time(window[1]))
        return new.as_dict(), new.query(), new.start, new.stop

    @app.callback(
        Output("graph", "figure"),
        Output("graph", "style"),
        Output("view", "data"),
        Output("stats", "children"),
        Output("hapi-links", "children"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("request", "data"),
        State("columns", "data"),
        prevent_initial_call=True,
    )
    def draw(request: dict | None, columns: int | None) -> Any:
        hidden = {"display": "none"}
        if not request:
            return no_update, hidden, None, "", [], no_update, no_update
        view = View.from_dict(request)
        try:
            window = window_of(view)
        except ViewError as exc:
            return no_update, hidden, None, "", [], str(exc), False
        width = int(columns or 1000)
        try:
            data, summaries = viewer.panels(view, window, width)
            title = f"{short_time(window[0])} to {short_time(window[1])}"
            figure, stats = build_figure(data, window, columns=width, title=title)
        except (HapiClientError, NoDataError) as exc:
            message = str(exc)
            if isinstance(exc, NoDataError):
                message = f"{', '.join(view.datasets)}: {exc}."
            return no_update, hidden, None, "", [], message, False
        except Exception:
            logger.exception("viz: plotting %s failed", view.query())
            message = "This view could not be drawn (the server log has the details)."
            return no_update, hidden, None, "", [], message, False
        style = {"height": f"{figure_height(len(view.panels))}px"}
        links = _hapi_links(viewer, view, window)
        return figure, style, view.as_dict(), describe(stats, summaries), links, "", True

    # The browser tells how wide the plot is: that many pixel columns, no more.
    app.clientside_callback(
        """
        function(_) {
            const area = document.querySelector('.plot-area');
            const width = area ? area.clientWidth : window.innerWidth;
            return Math.max(200, Math.min(4000, Math.round(width - 250)));
        }
        """,
        Output("columns", "data"),
        Input("url", "pathname"),
    )


def describe(stats: FigureStats, summaries: dict[str, str]) -> str:
    """The line under the figure: records read (per dataset), points sent, how reduced."""
    parts = []
    for dataset, records in stats.records.items():
        text = f"{records:,} records"
        if dataset in summaries:
            text += f" of the summary {summaries[dataset]}"
        parts.append(text if len(stats.records) == 1 else f"{dataset}: {text}")
    detail = ", ".join([*parts, f"{stats.points:,} points sent"])
    if summaries:
        return detail + " (min/max per pixel column)"
    if stats.reduced:
        return detail + " (reduced to the plot's width: min/max per pixel column)"
    return detail


def _hapi_links(viewer: Viewer, view: View, window: tuple[int, int]) -> list[html.A]:
    """One link per dataset to the same request on the HAPI server."""
    base = viewer.server(view.server).url
    links = []
    for dataset in view.datasets:
        names = ",".join(dict.fromkeys(p.parameter for p in view.panels if p.dataset == dataset))
        query = {
            "dataset": dataset,
            "parameters": names,
            "start": format_time(window[0], 3),
            "stop": format_time(window[1], 3),
        }
        href = f"{base}/data?{urlencode(query, safe=':,')}"
        text = "Open in HAPI" if len(view.datasets) == 1 else f"{dataset} in HAPI"
        links.append(html.A(text, href=href, target="_blank", className="hapi-link"))
    return links
