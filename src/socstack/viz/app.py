"""The Dash app: pick a HAPI dataset and plot it; quicklooks; pipeline status.

Every figure is built on the server from data reduced to the graph's pixel width, so
the browser gets a few thousand points whatever the time range; zooming sends the
new window back here and the figure is rebuilt at the window's own resolution from
the cached download. Errors (an unreachable server, an unknown dataset, an empty
range, a HAPI error status) become a message on the page, never a traceback.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash
import httpx
import numpy as np
from dash import Input, Output, State, dcc, html, no_update

from socstack.times import duration_ns, format_time, format_times, parse_time
from socstack.viz.cache import TableCache
from socstack.viz.client import Dataset, HapiClientError, HapiServer, Table
from socstack.viz.figures import NoDataError, build_figure, parameter_specs, with_gaps
from socstack.viz.links import Endpoints, View, view_from_query
from socstack.viz.pages import quicklooks_layout, register_pages, status_layout

__all__ = ["PREFIX", "create_dash"]

logger = logging.getLogger(__name__)

PREFIX = "/viz/"
_DAY = 86_400 * 10**9
_PRESETS = {"preset-day": 1, "preset-week": 7, "preset-month": 30, "preset-all": None}
_CSV_MAX_RECORDS = 2_000_000
_AXIS_RANGE = re.compile(r"^xaxis\d*\.range(\[[01]\])?$")


#: A summary dataset is drawn instead of the data when each pixel column spans at least
#: this many of its records: its envelope is then that of the data to within a record's
#: share of a column (a tenth of a pixel at most).
SUMMARY_RECORDS_PER_COLUMN = 10


@dataclass
class Summary:
    """A view's parameters from the dataset's summary: minima as a table, maxima beside."""

    dataset: str
    low: Table
    high: dict[str, np.ndarray]


class ViewError(ValueError):
    """A request the page can explain (bad time, nothing picked)."""


class Viewer:
    """Server-side state of the app: HAPI servers and the download cache."""

    def __init__(self, endpoints: Endpoints, cache: TableCache, timeout: float):
        self.endpoints = endpoints
        self.cache = cache
        self.timeout = timeout
        self._servers: dict[str, HapiServer] = {}
        self._http = httpx.Client(timeout=timeout, follow_redirects=True)
        # Uncompressed from servers next door: gzip would cost both ends more CPU than
        # it saves on a loopback or cluster network (a month of 1 Hz data: 3.0 s
        # gzipped, 0.7 s plain, here).
        self._near = httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"Accept-Encoding": "identity"}
        )

    def server(self, url: str) -> HapiServer:
        url = url.strip().rstrip("/")
        if url not in self._servers:
            near = url == self.endpoints.hapi().rstrip("/") or _is_local(url)
            client = self._near if near else self._http
            self._servers[url] = HapiServer(url, timeout=self.timeout, client=client)
        return self._servers[url]

    def table(self, view: View, start: int, stop: int) -> Table:
        server = self.server(view.server)
        # A new file changes the dataset's modificationDate, and so the key: a window
        # downloaded before it arrived is not served from the cache after.
        modified = str(server.info(view.dataset).get("modificationDate", ""))
        key = (server.url, view.dataset, tuple(view.parameters), modified)
        return self.cache.get(
            key,
            start,
            stop,
            lambda a, b: server.data(view.dataset, view.parameters, a, b),
        )

    def summary(
        self, info: dict[str, Any], view: View, start: int, stop: int, columns: int
    ) -> Summary | None:
        """The view from the dataset's coarser summary, when its pixel columns are that wide.

        socstack servers name a dataset's summary (``x_socstack.summary``: a dataset of
        per-interval minima and maxima); a year of 1 Hz data is then 60 times fewer
        records to download, and the envelope drawn is the same.
        """
        spec = (info.get("x_socstack") or {}).get("summary") or {}
        names: dict[str, dict[str, str]] = spec.get("parameters") or {}
        cadence = duration_ns(spec.get("cadence"))
        if not spec.get("dataset") or not cadence or not names:
            return None
        if any(p not in names for p in view.parameters):
            return None
        if (stop - start) / max(columns, 1) < SUMMARY_RECORDS_PER_COLUMN * cadence:
            return None
        wanted = [names[p][edge] for p in view.parameters for edge in ("min", "max")]
        coarse = View(view.server, spec["dataset"], wanted, view.start, view.stop)
        try:
            theirs = self.server(view.server).info(spec["dataset"])
            if not summary_covers(theirs, info, start, stop):
                return None  # the summary lags the data (made after it): draw the data
            table = self.table(coarse, start, stop)
        except HapiClientError as exc:
            logger.warning("viz: summary %s unusable, drawing the data: %s", spec["dataset"], exc)
            return None
        specs = parameter_specs(theirs)
        column = {n: with_gaps(table.values[n], specs[n]) for n in wanted}
        return Summary(
            spec["dataset"],
            Table(table.time, {p: column[names[p]["min"]] for p in view.parameters}),
            {p: column[names[p]["max"]] for p in view.parameters},
        )


def summary_covers(summary: dict[str, Any], data: dict[str, Any], start: int, stop: int) -> bool:
    """Whether the summary's coverage holds all of the data's coverage within the window."""
    try:
        need = (
            max(start, parse_time(str(data["startDate"]))),
            min(stop, parse_time(str(data["stopDate"]))),
        )
        have = (parse_time(str(summary["startDate"])), parse_time(str(summary["stopDate"])))
    except (KeyError, ValueError):
        return False
    return need[0] >= need[1] or (have[0] <= need[0] and need[1] <= have[1])


def create_dash(
    endpoints: Endpoints, *, cache_bytes: int = 1 << 30, timeout: float = 60.0
) -> dash.Dash:
    """The viz app, served at ``/viz/`` (its Flask server is ``app.server``)."""
    viewer = Viewer(endpoints, TableCache(cache_bytes), timeout)
    app = dash.Dash(
        __name__,
        requests_pathname_prefix=PREFIX,
        routes_pathname_prefix=PREFIX,
        assets_folder=str(Path(__file__).with_name("assets")),
        title="socstack viz",
        update_title=None,
        suppress_callback_exceptions=False,
        serve_locally=True,
    )
    app.layout = _layout()
    app.viewer = viewer  # type: ignore[attr-defined] - for tests and the benchmark
    _register(app, viewer)
    register_pages(app, endpoints, timeout)
    return app


# -- layout -----------------------------------------------------------------------------
def _layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="wanted"),
            dcc.Store(id="request"),
            dcc.Store(id="view"),
            dcc.Store(id="zoom"),
            dcc.Store(id="coverage"),
            dcc.Store(id="columns", data=1000),
            html.Header(
                [
                    html.Span("socstack", className="brand"),
                    dcc.Link("Plot", href=PREFIX, id="nav-plot"),
                    dcc.Link("Quicklooks", href=PREFIX + "quicklooks", id="nav-quicklooks"),
                    dcc.Link("Pipeline", href=PREFIX + "status", id="nav-status"),
                ],
                className="topbar",
            ),
            html.Main(
                [
                    html.Div(_plot_page(), id="page-plot"),
                    html.Div(quicklooks_layout(), id="page-quicklooks", style={"display": "none"}),
                    html.Div(status_layout(), id="page-status", style={"display": "none"}),
                ]
            ),
        ]
    )


def _plot_page() -> html.Div:
    return html.Div(
        [
            html.Div(
                [
                    html.Label("HAPI server", htmlFor="server"),
                    dcc.Input(id="server", type="url", debounce=True, className="wide"),
                    html.Label("Dataset", htmlFor="dataset"),
                    dcc.Dropdown(id="dataset", placeholder="Search datasets...", clearable=False),
                    html.Div(id="coverage-text", className="hint"),
                    html.Label("Parameters", htmlFor="parameters"),
                    dcc.Dropdown(id="parameters", multi=True, placeholder="Pick parameters"),
                    html.Div(
                        [
                            html.Div(
                                [
                                    html.Label("Start (UTC)", htmlFor="start"),
                                    dcc.Input(id="start", type="text", debounce=True),
                                ]
                            ),
                            html.Div(
                                [
                                    html.Label("Stop (UTC)", htmlFor="stop"),
                                    dcc.Input(id="stop", type="text", debounce=True),
                                ]
                            ),
                        ],
                        className="times",
                    ),
                    html.Div(
                        [
                            html.Button("Last day", id="preset-day"),
                            html.Button("Last 7 days", id="preset-week"),
                            html.Button("Last 30 days", id="preset-month"),
                            html.Button("Whole mission", id="preset-all"),
                        ],
                        className="presets",
                    ),
                    html.Button("Plot", id="plot", className="primary"),
                    html.Div(
                        [
                            html.Button("Export CSV", id="export-csv"),
                            html.Button("Export PNG", id="export-png"),
                            html.A("Open in HAPI", id="hapi-link", href="", target="_blank"),
                        ],
                        className="exports",
                    ),
                    dcc.Download(id="download"),
                ],
                className="controls",
            ),
            html.Div(
                [
                    html.Div(id="message", role="alert", className="message", hidden=True),
                    dcc.Loading(
                        dcc.Graph(
                            id="graph",
                            config={
                                "displaylogo": False,
                                "toImageButtonOptions": {"format": "png", "scale": 2},
                            },
                            responsive=True,
                            style={"display": "none"},
                        ),
                        type="dot",
                        delay_show=300,
                    ),
                    html.Div(id="stats", className="hint"),
                ],
                className="plot-area",
            ),
        ],
        className="plot-page",
    )


# -- callbacks --------------------------------------------------------------------------
def _register(app: dash.Dash, viewer: Viewer) -> None:
    _navigation(app, viewer)
    _choices(app, viewer)
    _plotting(app, viewer)
    _exports(app, viewer)


def _navigation(app: dash.Dash, viewer: Viewer) -> None:
    """Which page shows; the link's view into the controls; the plot's width."""

    @app.callback(
        Output("page-plot", "style"),
        Output("page-quicklooks", "style"),
        Output("page-status", "style"),
        Input("url", "pathname"),
    )
    def show_page(pathname: str | None) -> tuple[dict[str, str], ...]:
        page = (pathname or PREFIX).rstrip("/").rsplit("/", 1)[-1]
        shown = {"quicklooks": 1, "status": 2}.get(page, 0)
        return tuple({} if i == shown else {"display": "none"} for i in range(3))

    @app.callback(
        Output("server", "value"),
        Output("wanted", "data"),
        Input("url", "search"),
        State("request", "data"),
        State("server", "value"),
    )
    def from_url(search: str | None, request: dict | None, server: str | None) -> Any:
        wanted = view_from_query(search)
        if request and wanted.as_dict() == request:
            return no_update, no_update  # the link we wrote ourselves
        url = wanted.server or server or viewer.endpoints.hapi()
        return url, wanted.as_dict()


def _choices(app: dash.Dash, viewer: Viewer) -> None:
    """Server to datasets, dataset to parameters and coverage, presets to times."""

    @app.callback(
        Output("dataset", "options"),
        Output("dataset", "value"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("server", "value"),
        State("wanted", "data"),
        State("dataset", "value"),
        prevent_initial_call=True,
    )
    def load_catalog(server: str | None, wanted: dict | None, current: str | None) -> Any:
        if not server:
            return [], None, "Give the URL of a HAPI server (ending in /hapi).", False
        try:
            datasets = viewer.server(server).catalog()
        except HapiClientError as exc:
            return [], None, f"Cannot read the catalog: {exc}", False
        options = [
            {"label": _dataset_label(d), "value": d.id, "search": f"{d.id} {d.title}"}
            for d in datasets
        ]
        ids = {d.id for d in datasets}
        want = (wanted or {}).get("dataset")
        if want and want not in ids:
            return options, None, f"Unknown dataset {want!r} on {server}.", False
        value = want or (current if current in ids else None)
        return options, value, "", True

    @app.callback(
        Output("parameters", "options"),
        Output("parameters", "value"),
        Output("coverage", "data"),
        Output("coverage-text", "children"),
        Output("start", "value"),
        Output("stop", "value"),
        Output("request", "data", allow_duplicate=True),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("dataset", "value"),
        State("server", "value"),
        State("wanted", "data"),
        State("start", "value"),
        State("stop", "value"),
        prevent_initial_call=True,
    )
    def load_info(
        dataset: str | None,
        server: str | None,
        wanted: dict | None,
        start: str | None,
        stop: str | None,
    ) -> Any:
        if not dataset or not server:
            return [], [], None, "", no_update, no_update, no_update, no_update, no_update
        try:
            info = viewer.server(server).info(dataset)
        except HapiClientError as exc:
            return [], [], None, "", no_update, no_update, None, str(exc), False
        specs = parameter_specs(info)
        options = [
            {"label": _parameter_label(name, spec), "value": name} for name, spec in specs.items()
        ]
        coverage = {"start": info.get("startDate", ""), "stop": info.get("stopDate", "")}
        text = f"{coverage['start']} to {coverage['stop']}"
        if info.get("cadence"):
            text += f", cadence {info['cadence']}"
        want = View(**wanted) if wanted else View()
        if want.dataset == dataset and want.parameters:
            chosen = [p for p in want.parameters if p in specs]
            unknown = [p for p in want.parameters if p not in specs]
            if unknown:
                message = f"Unknown parameter(s) of {dataset}: {', '.join(unknown)}"
                return options, chosen, coverage, text, no_update, no_update, None, message, False
            first, last = want.start or start, want.stop or stop
            request = View(server, dataset, chosen, first or "", last or "")
            ready = request.as_dict() if request.complete else None
            return options, chosen, coverage, text, first, last, ready, "", True
        first_param = [next(iter(specs))] if specs else []
        first, last = _preset(coverage, 1)
        return options, first_param, coverage, text, first, last, no_update, "", True

    @app.callback(
        Output("start", "value", allow_duplicate=True),
        Output("stop", "value", allow_duplicate=True),
        *(Input(name, "n_clicks") for name in _PRESETS),
        State("coverage", "data"),
        prevent_initial_call=True,
    )
    def preset(*args: Any) -> Any:
        coverage = args[-1]
        if not coverage or dash.ctx.triggered_id not in _PRESETS:
            return no_update, no_update
        return _preset(coverage, _PRESETS[dash.ctx.triggered_id])


def _plotting(app: dash.Dash, viewer: Viewer) -> None:
    """The Plot button to a request and the link; a request or a zoom to a figure."""

    @app.callback(
        Output("request", "data", allow_duplicate=True),
        Output("url", "search"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("plot", "n_clicks"),
        State("server", "value"),
        State("dataset", "value"),
        State("parameters", "value"),
        State("start", "value"),
        State("stop", "value"),
        prevent_initial_call=True,
    )
    def plot(
        _: int | None,
        server: str | None,
        dataset: str | None,
        parameters: list[str] | None,
        start: str | None,
        stop: str | None,
    ) -> Any:
        view = View(server or "", dataset or "", list(parameters or []), start or "", stop or "")
        try:
            _window(view)
        except ViewError as exc:
            return no_update, no_update, str(exc), False
        return view.as_dict(), view.query(), "", True

    # A zoom is its own callback: plotly also sends relayout events that are no zoom
    # (autosize when the graph first shows), and Dash drops the result of a callback
    # still running when the same callback is called again, so those must not reach
    # `draw` while it downloads.
    @app.callback(
        Output("zoom", "data"),
        Input("graph", "relayoutData"),
        State("request", "data"),
        prevent_initial_call=True,
    )
    def zoom(relayout: dict | None, request: dict | None) -> Any:
        if not request:
            return no_update
        try:
            start, stop = _window(View(**request))
        except ViewError:
            return no_update
        window = _zoom(relayout or {}, start, stop)
        return no_update if window is None else {"request": request, "window": list(window)}

    @app.callback(
        Output("graph", "figure"),
        Output("graph", "style"),
        Output("view", "data"),
        Output("stats", "children"),
        Output("hapi-link", "href"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("request", "data"),
        Input("zoom", "data"),
        State("columns", "data"),
        prevent_initial_call=True,
    )
    def draw(request: dict | None, zoomed: dict | None, columns: int | None) -> Any:
        hidden = {"display": "none"}
        if not request:
            return no_update, hidden, None, "", "", no_update, no_update
        view = View(**request)
        try:
            start, stop = _window(view)
        except ViewError as exc:
            return no_update, hidden, None, "", "", str(exc), False
        if dash.ctx.triggered_id == "zoom":
            if not zoomed or zoomed.get("request") != request:
                return (no_update,) * 7  # a zoom of an earlier plot
            start, stop = zoomed["window"]
        try:
            server = viewer.server(view.server)
            info = server.info(view.dataset)
            width = int(columns or 1000)
            summary = viewer.summary(info, view, start, stop, width)
            figure, stats = build_figure(
                info,
                view.parameters,
                summary.low if summary else viewer.table(view, start, stop),
                (start, stop),
                columns=width,
                title=f"{view.dataset}  {_short(start)} to {_short(stop)}",
                upper=summary.high if summary else None,
            )
        except (HapiClientError, NoDataError) as exc:
            return no_update, hidden, None, "", "", _sentence(exc, view), False
        except Exception:
            logger.exception("viz: plotting %s failed", view.dataset)
            message = "This view could not be drawn (the server log has the details)."
            return no_update, hidden, None, "", "", message, False
        shown = View(view.server, view.dataset, view.parameters, _short(start), _short(stop))
        detail = f"{stats.records:,} records, {stats.points:,} points sent"
        if summary:
            detail = (
                f"{stats.records:,} records of the summary {summary.dataset}, "
                f"{stats.points:,} points sent (min/max per pixel column)"
            )
        elif stats.reduced:
            detail += " (reduced to the plot's width: min/max per pixel column)"
        href = (
            f"{server.url}/data?dataset={view.dataset}&parameters={','.join(view.parameters)}"
            f"&start={format_time(start, 3)}&stop={format_time(stop, 3)}"
        )
        return figure, {}, shown.as_dict(), detail, href, "", True


def _exports(app: dash.Dash, viewer: Viewer) -> None:
    """CSV of the records shown (server side), PNG of the figure (in the browser)."""

    @app.callback(
        Output("download", "data"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("export-csv", "n_clicks"),
        State("view", "data"),
        prevent_initial_call=True,
    )
    def export_csv(_: int | None, shown: dict | None) -> Any:
        if not shown:
            return no_update, "Plot something first: the export holds what is shown.", False
        view = View(**shown)
        try:
            start, stop = _window(view)
            table = viewer.table(view, start, stop)
        except (HapiClientError, ViewError) as exc:
            return no_update, str(exc), False
        if len(table.time) > _CSV_MAX_RECORDS:
            message = (
                f"The view holds {len(table.time):,} records; zoom in below "
                f"{_CSV_MAX_RECORDS:,} or use 'Open in HAPI' for the whole range."
            )
            return no_update, message, False
        name = f"{view.dataset}_{view.start}_{view.stop}.csv".replace(":", "")
        return dcc.send_bytes(_csv_bytes(table, view.parameters), name), "", True

    app.clientside_callback(
        """
        function(n) {
            const graph = document.querySelector('#graph .js-plotly-plot');
            if (n && graph && window.Plotly) {
                window.Plotly.downloadImage(graph, {format: 'png', filename: 'socstack-plot',
                                                     scale: 2});
            }
            return window.dash_clientside.no_update;
        }
        """,
        Output("export-png", "title"),
        Input("export-png", "n_clicks"),
        prevent_initial_call=True,
    )

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


# -- helpers ----------------------------------------------------------------------------
def _is_local(url: str) -> bool:
    host = httpx.URL(url).host if url.startswith(("http://", "https://")) else ""
    return host in ("localhost", "127.0.0.1", "::1")


def _dataset_label(d: Dataset) -> str:
    label = f"{d.id} — {d.title}" if d.title else d.id
    if d.start and d.stop:
        label += f" ({d.start[:10]} to {d.stop[:10]})"
    return label


def _parameter_label(name: str, spec: dict[str, Any]) -> str:
    units = spec.get("units")
    units = units[0] if isinstance(units, list) and units else units
    kind = " (spectrogram)" if spec.get("bins") else ""
    suffix = f" [{units}]" if units and units != "dimensionless" else ""
    return f"{name}{suffix}{kind}"


def _preset(coverage: dict[str, str], days: int | None) -> tuple[str, str]:
    """(start, stop) of the last ``days`` of the coverage, or all of it."""
    try:
        stop = parse_time(coverage["stop"])
        first = parse_time(coverage["start"])
    except (KeyError, ValueError):
        return no_update, no_update  # type: ignore[return-value]
    start = first if days is None else max(first, stop - days * _DAY)
    return _short(start), _short(stop)


def _short(ns: int) -> str:
    """A time as short as it can be written exactly (no zero fractions)."""
    text = format_time(int(ns), 9)
    text = re.sub(r"\.?0+Z$", "Z", text)
    return text.replace(":00Z", "Z").replace("T00:00Z", "Z").replace("T00Z", "Z")


def _window(view: View) -> tuple[int, int]:
    if not view.server:
        raise ViewError("Give the URL of a HAPI server.")
    if not view.dataset:
        raise ViewError("Pick a dataset.")
    if not view.parameters:
        raise ViewError("Pick at least one parameter.")
    try:
        start = parse_time(view.start)
    except ValueError as exc:
        raise ViewError(f"Start time {view.start!r}: {exc}") from None
    try:
        stop = parse_time(view.stop)
    except ValueError as exc:
        raise ViewError(f"Stop time {view.stop!r}: {exc}") from None
    if stop <= start:
        raise ViewError("The stop time must be after the start time.")
    return start, stop


def _zoom(relayout: dict[str, Any], start: int, stop: int) -> tuple[int, int] | None:
    """The window a plotly relayout event asks for, or None if it is not a zoom."""
    if any(k.endswith("autorange") and v for k, v in relayout.items()):
        return start, stop
    low = high = None
    for key, value in relayout.items():
        if not _AXIS_RANGE.match(key):
            continue
        if key.endswith("range") and isinstance(value, list) and len(value) == 2:
            low, high = value
        elif key.endswith("[0]"):
            low = value
        elif key.endswith("[1]"):
            high = value
    if low is None or high is None:
        return None
    try:
        a, b = parse_time(_plotly_time(low)), parse_time(_plotly_time(high))
    except ValueError:
        return None
    return (a, b) if b > a else None


def _plotly_time(value: Any) -> str:
    """Plotly's axis times ("2025-01-01 12:00:00.123") as HAPI times."""
    text = str(value).strip().replace(" ", "T")
    return text if text.endswith("Z") else text + "Z"


def _sentence(exc: Exception, view: View) -> str:
    if isinstance(exc, NoDataError):
        return f"{view.dataset}: {exc}."
    return str(exc)


def _csv_bytes(table: Table, parameters: list[str]) -> bytes:
    """The records as HAPI-style csv: time, then each parameter's columns."""
    import pyarrow as pa
    from pyarrow import csv

    columns: dict[str, Any] = {"time": format_times(table.time, 3).astype(str)}
    for name in parameters:
        values = np.asarray(table.values[name])
        if values.ndim == 1:
            columns[name] = values
        else:
            for k in range(values.shape[1]):
                columns[f"{name}_{k}"] = np.ascontiguousarray(values[:, k])
    out = pa.BufferOutputStream()
    csv.write_csv(pa.table(columns), out)
    return out.getvalue().to_pybytes()
