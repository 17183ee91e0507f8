"""The quicklook gallery and the pipeline status page, both read from socstack's API.

The gallery lists the daily quicklook PNGs the pipeline made (``level=ql``), by day and
instrument; the status page shows job counts by status, blocked jobs with what they
wait for, the latest failures, and each harvested product's days (a failed day with
its reason), refreshed every few seconds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import dash
from dash import Input, Output, dcc, html

from socstack.viz.api import ApiError, PageApi
from socstack.viz.links import Endpoints
from socstack.viz.signin import CREDENTIAL

__all__ = ["quicklooks_layout", "register_pages", "status_layout"]

_STATUSES = (
    "queued",
    "running",
    "blocked",
    "succeeded",
    "skipped",
    "failed",
    "timed_out",
    "superseded",
)
#: What the gallery says when no loaded mission has quicklooks: the API then refuses
#: ``level=ql`` as a level no mission has (422), which is no error of the page's.
NO_QUICKLOOKS = "No mission here makes quicklooks (products of level ql)."
SIGN_IN_FOR_JOBS = "Sign in as a mission's team member or an operator to see the pipeline."
NOT_YOUR_JOBS = "The pipeline is for the missions' teams and operators; this sign-in is neither."


def quicklooks_layout() -> html.Div:
    """The gallery: an instrument, the last day and how many days before it."""
    return html.Div(
        [
            html.H2("Quicklooks"),
            html.Div(
                [
                    html.Label("Instrument", htmlFor="ql-instrument"),
                    dcc.Dropdown(id="ql-instrument", placeholder="All instruments"),
                    html.Label("Last day shown", htmlFor="ql-day"),
                    dcc.Input(id="ql-day", type="text", placeholder="YYYY-MM-DD", debounce=True),
                    html.Label("Days", htmlFor="ql-days"),
                    dcc.Input(id="ql-days", type="number", min=1, max=60, value=7, debounce=True),
                ],
                className="ql-controls",
            ),
            html.Div(id="ql-message", role="alert", className="message", hidden=True),
            html.Div(id="ql-gallery", className="gallery"),
        ]
    )


def status_layout() -> html.Div:
    """Counts by status, blocked jobs, latest failures; refreshed every 5 s."""
    return html.Div(
        [
            html.H2("Pipeline"),
            dcc.Interval(id="status-tick", interval=5_000),
            html.Div(id="status-message", role="alert", className="message", hidden=True),
            html.Div(id="status-counts", className="counts"),
            html.H3("Blocked: waiting for inputs"),
            html.Div(id="status-blocked"),
            html.H3("Latest failures"),
            html.Div(id="status-failed"),
            html.H3("Harvest from peers"),
            html.Div(id="status-harvest"),
        ]
    )


def register_pages(app: dash.Dash, endpoints: Endpoints, timeout: float) -> None:
    """The two pages' callbacks, reading socstack's API over HTTP."""
    # As the page's user: the gallery and the jobs are what they may see.
    get = PageApi(endpoints, timeout).get

    @app.callback(
        Output("ql-instrument", "options"),
        Output("ql-day", "value"),
        Output("ql-message", "children", allow_duplicate=True),
        Output("ql-message", "hidden", allow_duplicate=True),
        Input("url", "pathname"),
        prevent_initial_call="initial_duplicate",
    )
    def quicklook_choices(pathname: str | None) -> Any:
        if not (pathname or "").rstrip("/").endswith("quicklooks"):
            return dash.no_update, dash.no_update, dash.no_update, dash.no_update
        try:
            files = get("/files", level="ql", limit=10_000)["files"]
        except ApiError as exc:
            return [], None, NO_QUICKLOOKS if exc.status == 422 else str(exc), False
        instruments = sorted({f["instrument"] for f in files})
        latest = max((f["partition"] for f in files), default=None)
        return [{"label": i, "value": i} for i in instruments], _day_text(latest), "", True

    @app.callback(
        Output("ql-gallery", "children"),
        Output("ql-message", "children"),
        Output("ql-message", "hidden"),
        Input("ql-instrument", "value"),
        Input("ql-day", "value"),
        Input("ql-days", "value"),
    )
    def gallery(instrument: str | None, day: str | None, days: int | None) -> Any:
        if not day:
            return [], "", True
        try:
            last = dt.date.fromisoformat(day.strip())
        except ValueError:
            return [], f"Day {day!r}: use YYYY-MM-DD.", False
        first = last - dt.timedelta(days=max(1, int(days or 7)) - 1)
        params: dict[str, Any] = {
            "level": "ql",
            "start": first.isoformat(),
            "stop": (last + dt.timedelta(days=1)).isoformat(),
            "limit": 10_000,
        }
        if instrument:
            params["instrument"] = instrument
        try:
            files = get("/files", **params)["files"]
        except ApiError as exc:
            return [], NO_QUICKLOOKS if exc.status == 422 else str(exc), False
        if not files:
            return [], f"No quicklooks from {first} to {last}.", False
        by_day: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in files:
            by_day[f["partition"]].append(f)
        browser = endpoints.api_for_browser.rstrip("/")
        rows = []
        for partition in sorted(by_day, reverse=True):
            cards = [
                html.Figure(
                    [
                        html.A(
                            html.Img(src=f"{browser}/files/{f['name']}", alt=f["name"]),
                            href=f"{browser}/files/{f['name']}",
                            target="_blank",
                        ),
                        html.Figcaption(f"{f['instrument']} v{f['version']}"),
                    ],
                    className="card",
                )
                for f in sorted(by_day[partition], key=lambda f: f["instrument"])
            ]
            rows.append(
                html.Section([html.H4(_day_text(partition)), html.Div(cards, className="cards")])
            )
        return rows, "", True

    _register_status(app, get)


def _register_status(app: dash.Dash, get: Callable[..., dict[str, Any]]) -> None:
    """The pipeline page: counts, blocked jobs and failures, as its user may see them."""

    @app.callback(
        Output("status-counts", "children"),
        Output("status-blocked", "children"),
        Output("status-failed", "children"),
        Output("status-harvest", "children"),
        Output("status-message", "children"),
        Output("status-message", "hidden"),
        Input("status-tick", "n_intervals"),
        Input("url", "pathname"),
    )
    def status(_: int | None, pathname: str | None) -> Any:
        if not (pathname or "").rstrip("/").endswith("status"):
            return (dash.no_update,) * 6
        if CREDENTIAL.get() is None:  # jobs are the teams' and operators': do not even ask
            return [], [], [], [], SIGN_IN_FOR_JOBS, False
        try:
            counts = get("/jobs", limit=1)["counts"]
            blocked = get("/jobs", status="blocked", limit=50)["jobs"]
            failed = get("/jobs", status="failed", limit=10)["jobs"]
            timed_out = get("/jobs", status="timed_out", limit=10)["jobs"]
            harvest = _harvest(get("/harvest")["sources"])
        except ApiError as exc:
            refused = exc.status in (401, 403)
            return [], [], [], [], NOT_YOUR_JOBS if refused else str(exc), False
        tiles = [
            html.Div([html.Strong(f"{counts.get(s, 0):,}"), html.Span(s)], className=f"tile {s}")
            for s in _STATUSES
        ]
        waiting = _table(
            ["job", "rule", "day", "waiting for"],
            [[j["id"], j["rule"], j["partition"], ", ".join(j["missing"])] for j in blocked],
            "Nothing is blocked.",
        )
        latest = sorted([*failed, *timed_out], key=lambda j: j["id"], reverse=True)[:10]
        failures = _table(
            ["job", "rule", "day", "status", "error"],
            [[j["id"], j["rule"], j["partition"], j["status"], j["error"] or ""] for j in latest],
            "No failures.",
        )
        return tiles, waiting, failures, harvest, "", True


def _harvest(sources: list[dict[str, Any]]) -> Any:
    """Each harvested product: its peer, last pass, days by status; each failed day, why."""
    rows = []
    for s in sources:
        days = ", ".join(f"{n} {status}" for status, n in sorted(s["days"].items())) or "none yet"
        waiting = "; ".join(f"{f['day']}: {f['error']}" for f in s["failed"]) or s["last_error"]
        rows.append(
            [
                f"{s['mission']}/{s['product']}",
                f"{s['dataset']} at {s['peer']} ({s['url'] or 'no URL set'})",
                s["last_pass_at"] or "never",
                days,
                waiting or "",
            ]
        )
    return _table(
        ["product", "from", "last pass", "days", "failed: fetched again next pass"],
        rows,
        "No product here is harvested from a peer.",
    )


def _table(header: list[str], rows: list[list[Any]], empty: str) -> html.Div | html.Table:
    if not rows:
        return html.P(empty, className="hint")
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(str(c)) for c in row]) for row in rows]),
        ],
        className="jobs",
    )


def _day_text(partition: str | None) -> str | None:
    """``2025-01-01`` from a partition written either way."""
    if not partition:
        return None
    text = partition.replace("-", "")
    return f"{text[:4]}-{text[4:6]}-{text[6:8]}" if len(text) == 8 else partition
