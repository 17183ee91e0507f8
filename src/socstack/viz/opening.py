"""Opening a view: the page for the URL's path, and the view for the URL's query.

A link names a server, a stack and a time range; opening it reads the server's catalog
(for the dataset picker), checks that the stack's datasets and parameters exist, and
asks for the plot. A link without a stack opens the default view: the one configured
(``SOC_VIZ_DEFAULT_VIEW``), else the catalog's first dataset with its first parameters.
A view without times shows the last day of its datasets' coverage. So the plot page is
never empty on first open.
"""

from __future__ import annotations

import logging
from typing import Any

from dash import Dash, Input, Output, State, no_update

from socstack.client.hapi import Dataset, HapiClientError
from socstack.viz.figures import parameter_specs
from socstack.viz.layout import PREFIX
from socstack.viz.links import LinkError, Panel, View, view_from_query
from socstack.viz.viewer import Viewer
from socstack.viz.window import ViewError, last_days, short_time, window_of

__all__ = ["DEFAULT_PANELS", "opened", "register_opening"]

logger = logging.getLogger(__name__)

#: The default view's panels: the first dataset's first parameters, up to this many.
DEFAULT_PANELS = 3
_PLOTTABLE = ("double", "integer")


def register_opening(app: Dash, viewer: Viewer, default_view: str = "") -> None:
    """Callbacks from the URL to the page shown and to the view opened."""

    @app.callback(
        Output("page-plot", "style"),
        Output("page-quicklooks", "style"),
        Output("page-status", "style"),
        Output("page-signin", "style"),
        Input("url", "pathname"),
    )
    def show_page(pathname: str | None) -> tuple[dict[str, str], ...]:
        page = (pathname or PREFIX).rstrip("/").rsplit("/", 1)[-1]
        shown = {"quicklooks": 1, "status": 2, "signin": 3}.get(page, 0)
        return tuple({} if i == shown else {"display": "none"} for i in range(4))

    @app.callback(
        Output("server", "value"),
        Output("wanted", "data"),
        Input("url", "search"),
        State("request", "data"),
        State("server", "value"),
    )
    def from_url(search: str | None, request: dict | None, server: str | None) -> Any:
        try:
            wanted, error = view_from_query(search), None
        except LinkError as exc:
            wanted, error = View(), str(exc)
        if request and not error and wanted.as_dict() == request:
            return no_update, no_update  # the link we wrote ourselves (a plot, a zoom)
        url = wanted.server or server or viewer.endpoints.hapi()
        return url, {"view": wanted.as_dict(), "error": error}

    @app.callback(
        Output("dataset", "options"),
        Output("dataset", "value"),
        Output("stack", "data", allow_duplicate=True),
        Output("start", "value", allow_duplicate=True),
        Output("stop", "value", allow_duplicate=True),
        Output("request", "data", allow_duplicate=True),
        Output("home", "data", allow_duplicate=True),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("server", "value"),
        State("wanted", "data"),
        prevent_initial_call=True,
    )
    def open_view(server: str | None, wanted: dict | None) -> Any:
        if not server:
            message = "Give the URL of a HAPI server (ending in /hapi)."
            return [], None, [], no_update, no_update, None, None, message, False
        try:
            datasets = viewer.server(server).catalog()
        except HapiClientError as exc:
            message = f"Cannot read the catalog: {exc}"
            return [], None, [], no_update, no_update, None, None, message, False
        options = [
            {"label": _dataset_label(d), "value": d.id, "search": f"{d.id} {d.title}"}
            for d in datasets
        ]
        asked = View.from_dict((wanted or {}).get("view"))
        if asked.server and asked.server.rstrip("/") != server.strip().rstrip("/"):
            asked = View()  # another server was typed in: its own default view
        view, problem = opened(viewer, server, datasets, asked, default_view)
        problem = (wanted or {}).get("error") or problem
        first = view.panels[0].dataset if view.panels else None
        stack = [p.as_dict() for p in view.panels]
        try:
            window = window_of(view)
        except ViewError as exc:
            problem = problem or str(exc)
        if problem:
            return options, first, stack, view.start, view.stop, None, None, problem, False
        return options, first, stack, view.start, view.stop, view.as_dict(), window, "", True


def opened(
    viewer: Viewer, server: str, datasets: list[Dataset], asked: View, default_view: str = ""
) -> tuple[View, str | None]:
    """The view to open on ``server`` for a link asking for ``asked``, and what is wrong.

    The view holds the panels that exist (an unknown dataset or parameter is the
    problem); missing times are the last day of the panels' coverage.
    """
    ids = {d.id for d in datasets}
    panels, problem = list(asked.panels), None
    if not panels and asked.dataset:
        if asked.dataset not in ids:
            return View(server), f"Unknown dataset {asked.dataset!r} on {server}."
        panels = _first_panels(viewer, server, asked.dataset)
    elif not panels:
        asked, panels = _default(viewer, server, datasets, default_view)
        if not panels:
            return View(server), "The server's catalog has no dataset to plot."
    unknown = [p.dataset for p in panels if p.dataset not in ids]
    if unknown:
        problem = f"Unknown dataset {unknown[0]!r} on {server}."
        panels = [p for p in panels if p.dataset in ids]
    for dataset in dict.fromkeys(p.dataset for p in panels):
        try:
            specs = parameter_specs(viewer.server(server).info(dataset))
        except HapiClientError as exc:
            return View(server), str(exc)
        missing = [p.parameter for p in panels if p.dataset == dataset and p.parameter not in specs]
        if missing:
            problem = problem or f"Unknown parameter(s) of {dataset}: {', '.join(missing)}"
            panels = [p for p in panels if p.dataset != dataset or p.parameter in specs]
    start, stop = asked.start, asked.stop
    if not (start and stop):
        coverage = viewer.coverage(server, [p.dataset for p in panels])
        if coverage is not None:
            day = last_days(coverage, 1)
            start, stop = start or short_time(day[0]), stop or short_time(day[1])
    return View(server, panels, start, stop), problem


def _default(
    viewer: Viewer, server: str, datasets: list[Dataset], configured: str
) -> tuple[View, list[Panel]]:
    """The configured default view, else the first dataset with coverage and parameters."""
    if configured:
        try:
            view = view_from_query(configured)
        except LinkError as exc:
            logger.warning("viz: SOC_VIZ_DEFAULT_VIEW is not a link's query: %s", exc)
        else:
            if view.panels:
                return view, view.panels
            if view.dataset:
                return view, _first_panels(viewer, server, view.dataset)
    for dataset in datasets:
        if not (dataset.start and dataset.stop):
            continue
        panels = _first_panels(viewer, server, dataset.id)
        if panels:
            return View(server), panels
    return View(server), []


def _first_panels(viewer: Viewer, server: str, dataset: str) -> list[Panel]:
    """The dataset's first numeric parameters, one panel each (none if unreadable)."""
    try:
        specs = parameter_specs(viewer.server(server).info(dataset))
    except HapiClientError:
        return []
    names = [n for n, s in specs.items() if s.get("type", "double") in _PLOTTABLE]
    return [Panel(dataset, name) for name in names[:DEFAULT_PANELS]]


def _dataset_label(d: Dataset) -> str:
    label = f"{d.id} — {d.title}" if d.title else d.id
    if d.start and d.stop:
        label += f" ({d.start[:10]} to {d.stop[:10]})"
    return label
