"""Event lists on the plot page: shaded over the panels, listed below, a click zooms.

The picker offers the lists the page's user may see (``GET /api/eventlists``: the
missions' detector lists, and people's uploaded catalogs and search results). The
chosen lists' events are asked over the window last asked for with Plot or a link (the
``home`` window, so the list stays put while one zooms into its events), as the page's
user, and every event that overlaps the window shown is drawn as a shaded band across
the stacked panels (a line for an event of no duration). The list below the figure
holds each event with its attributes (a person's list whole: a search's matches are
away from the query shown); its Zoom button asks for the event with a margin of its own
length each side, as a zoom of the figure would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import dash
import numpy as np
from dash import ALL, Input, Output, Patch, State, dcc, html, no_update

from socstack.mining.catalogs import read_catalog
from socstack.mining.events import EventListError
from socstack.times import format_time
from socstack.viz.api import ApiError, PageApi
from socstack.viz.links import View
from socstack.viz.viewer import Viewer
from socstack.viz.window import ViewError, rounded, rounding_step, short_time, window_of

__all__ = ["COLOURS", "Shown", "events_controls", "events_section", "register_events"]

#: One colour per chosen list, in the order chosen.
COLOURS = ("#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")
#: Rows of the list view (the shading shows every event).
MAX_ROWS = 200
#: The least margin a Zoom leaves each side of an event (one of no duration, say).
MIN_MARGIN = 5 * 60 * 10**9
_ATTRIBUTES_SHOWN = 4


def events_controls() -> list[Any]:
    """The event-list picker, in the controls beside the figure."""
    return [
        html.Label("Event lists", htmlFor="eventlists"),
        dcc.Dropdown(id="eventlists", multi=True, placeholder="Shade event lists"),
    ]


def events_section() -> html.Section:
    """The list view under the figure (hidden while no list is chosen)."""
    return html.Section(
        [
            dcc.Store(id="event-rows"),
            html.H3("Events"),
            html.Div(id="events-message", role="alert", className="message", hidden=True),
            html.Div(id="event-table"),
        ],
        id="events-section",
        className="events",
        hidden=True,
    )


@dataclass(frozen=True)
class Shown:
    """One event of a chosen list, as the page draws and lists it (times in ns)."""

    list_name: str
    title: str
    colour: str
    start: int
    stop: int
    attributes: dict[str, Any]


def _label(entry: dict[str, Any]) -> str:
    if entry.get("kind") == "dataset":
        return f"{entry['title']} ({entry['name']})"
    return f"{entry['title']} (your {entry['kind']} {entry['name']})"


def list_options(api: PageApi) -> list[dict[str, str]]:
    """The picker's options: every ready list the page's user may see."""
    listing = api.get("/eventlists")["lists"]
    return [
        {"label": _label(e), "value": str(e["name"]), "title": str(e["title"])}
        for e in listing
        if e.get("status", "ready") == "ready"
    ]


def fetch(api: PageApi, name: str, span: tuple[int, int]) -> Any:
    """A list's events over ``span``: a dataset's asked for it, a person's filtered to it."""
    params: dict[str, str] = {"format": "json"}
    if not name.isdigit():
        params |= {"start": format_time(span[0], 9), "stop": format_time(span[1], 9)}
    return read_catalog(api.checked("GET", f"/eventlists/{name}", params=params).content, "json")


def shown_events(
    api: PageApi, names: list[str], titles: dict[str, str], span: tuple[int, int]
) -> list[Shown]:
    """The chosen lists' events, list by list.

    A mission's that overlap ``span``, in time order; all of a person's (a search's
    matches are elsewhere than the query shown), by rank when they have one.
    """
    out: list[Shown] = []
    for k, name in enumerate(names):
        events = fetch(api, name, span)
        starts = events.start.astype("datetime64[ns]").astype(np.int64)
        stops = events.stop.astype("datetime64[ns]").astype(np.int64)
        if name.isdigit():
            order = np.argsort(events.attributes.get("rank", starts), kind="stable")
        else:
            order = np.argsort(starts, kind="stable")
            order = order[(starts[order] < span[1]) & (stops[order] >= span[0])]
        for i in order:
            attributes = {a: _plain(v[i]) for a, v in events.attributes.items()}
            out.append(
                Shown(
                    name,
                    titles.get(name, name),
                    COLOURS[k % len(COLOURS)],
                    int(starts[i]),
                    int(stops[i]),
                    attributes,
                )
            )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 4)
    return value


def shapes(events: list[Shown], window: tuple[int, int]) -> list[dict[str, Any]]:
    """A band across every panel per event inside ``window`` (a line if it has no length)."""
    out = []
    for n, event in enumerate(events):
        start, stop = max(event.start, window[0]), min(event.stop, window[1])
        if start > stop or (start == stop and event.start != event.stop):
            continue
        common = {
            "name": f"{event.list_name}#{n}",
            "xref": "x",
            "yref": "paper",
            "x0": format_time(start, 9),
            "x1": format_time(stop, 9),
            "y0": 0,
            "y1": 1,
            "layer": "above",
        }
        if start == stop:
            out.append({**common, "type": "line", "line": {"color": event.colour, "width": 2}})
        else:
            band = {"type": "rect", "fillcolor": event.colour, "opacity": 0.2, "line": {"width": 0}}
            out.append({**common, **band})
    return out


def table(events: list[Shown]) -> list[Any]:
    """The list view: one row per event, its list's colour, times, attributes and Zoom."""
    if not events:
        return [html.P("No events of the chosen lists in this window.", className="hint")]
    rows = []
    for n, event in enumerate(events[:MAX_ROWS]):
        described = ", ".join(
            f"{k}={v}" for k, v in list(event.attributes.items())[:_ATTRIBUTES_SHOWN]
        )
        rows.append(
            html.Tr(
                [
                    html.Td("\N{FULL BLOCK}", style={"color": event.colour}, title=event.title),
                    html.Td(event.title, className="event-list"),
                    html.Td(short_time(event.start), className="event-start"),
                    html.Td(short_time(event.stop), className="event-stop"),
                    html.Td(described, className="event-attributes"),
                    html.Td(html.Button("Zoom", id={"type": "event-zoom", "index": n})),
                ],
                className="event",
            )
        )
    header = html.Thead(
        html.Tr([html.Th(h) for h in ("", "list", "start", "stop", "attributes", "")])
    )
    out: list[Any] = [html.Table([header, html.Tbody(rows)], className="jobs events-table")]
    if len(events) > MAX_ROWS:
        more = f"The first {MAX_ROWS} of {len(events):,} events: zoom in to list the others."
        out.append(html.P(more, className="hint"))
    return out


def event_window(start: int, stop: int) -> tuple[int, int]:
    """What a Zoom on an event shows: the event and its own length (5 min at least) each side."""
    margin = max(stop - start, MIN_MARGIN)
    return start - margin, stop + margin


def register_events(app: dash.Dash, viewer: Viewer, api: PageApi) -> None:
    """The picker's options, the shading and list of a view, and Zoom."""

    @app.callback(
        Output("eventlists", "options"),
        Input("url", "pathname"),
    )
    def options(_: str | None) -> Any:
        try:
            return list_options(api)
        except ApiError:
            return []  # a server without event lists: nothing to offer

    @app.callback(
        Output("graph", "figure", allow_duplicate=True),
        Output("event-table", "children"),
        Output("event-rows", "data"),
        Output("events-section", "hidden"),
        Output("events-message", "children"),
        Output("events-message", "hidden"),
        Input("view", "data"),
        Input("eventlists", "value"),
        State("eventlists", "options"),
        State("home", "data"),
        prevent_initial_call=True,
    )
    def shade(
        shown: dict[str, Any] | None,
        chosen: list[str] | None,
        choices: list[dict[str, str]] | None,
        home: list[int] | None,
    ) -> Any:
        if not shown:
            return no_update, [], [], not chosen, "", True
        try:
            window = window_of(View.from_dict(shown))
        except ViewError:
            return (no_update,) * 6
        figure = Patch()
        if not chosen:
            figure["layout"]["shapes"] = []
            return figure, [], [], True, "", True
        span = (min(window[0], home[0]), max(window[1], home[1])) if home else window
        titles = {c["value"]: str(c.get("title") or c["value"]) for c in choices or []}
        try:
            events = shown_events(api, list(chosen), titles, span)
        except (ApiError, EventListError) as exc:
            figure["layout"]["shapes"] = []
            return figure, [], [], False, str(exc), False
        figure["layout"]["shapes"] = shapes(events, window)
        rows = [[e.start, e.stop] for e in events[:MAX_ROWS]]
        return figure, table(events), rows, False, "", True

    @app.callback(
        Output("request", "data", allow_duplicate=True),
        Output("url", "search", allow_duplicate=True),
        Output("start", "value", allow_duplicate=True),
        Output("stop", "value", allow_duplicate=True),
        Input({"type": "event-zoom", "index": ALL}, "n_clicks"),
        State("event-rows", "data"),
        State("request", "data"),
        prevent_initial_call=True,
    )
    def zoom(_: list[int | None], rows: list[list[int]] | None, request: Any) -> Any:
        trigger = dash.ctx.triggered_id
        clicked = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        if not isinstance(trigger, dict) or not clicked or not request or not rows:
            return (no_update,) * 4  # the list drawn anew, not a click
        index = int(trigger["index"])
        if not 0 <= index < len(rows):
            return (no_update,) * 4
        view = View.from_dict(request)
        window = rounded(event_window(*rows[index]), rounding_step(viewer.cadences(view)))
        new = replace(view, start=short_time(window[0]), stop=short_time(window[1]))
        return new.as_dict(), new.query(), new.start, new.stop
