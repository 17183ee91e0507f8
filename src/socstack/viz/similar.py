"""*Find similar*: the window shown as a query by example, its matches as an event list.

Zoom to the interval to look for (a drag, or an event's Zoom), then Find similar: the
page posts a search (``POST /api/eventlists/similar``) of the first panel's dataset, in
the parameters of it the stack shows, over the dataset's whole coverage, as the page's
user (scope ``run``). The search is a job on the ``mining`` workers; the page polls its
list until it is ready, then adds it to the chosen event lists, so the matches are
shaded and listed (with their ``distance`` and ``rank``) like any list. A search that
fails says why, in the page.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from socstack.times import format_time
from socstack.viz.api import ApiError, PageApi
from socstack.viz.events import list_options
from socstack.viz.links import View
from socstack.viz.window import ViewError, short_time, window_of

__all__ = ["register_similar", "search_body", "similar_controls"]

#: Statuses of a search still under way (any other is final).
_UNDER_WAY = frozenset({"queued", "running", "blocked"})
SIGN_IN = "Sign in with a token of scope run to find similar intervals."
PLOT_FIRST = "Plot something first, and zoom to the interval to look for."


def similar_controls() -> html.Div:
    """The button, how many matches, and the search's status line."""
    return html.Div(
        [
            dcc.Store(id="similar-job"),
            dcc.Interval(id="similar-tick", interval=1000, disabled=True),
            html.Div(
                [
                    html.Button(
                        "Find similar",
                        id="similar-find",
                        title="The intervals most like the window shown (z-normalised), "
                        "over the dataset's coverage",
                    ),
                    html.Label("matches", htmlFor="similar-k"),
                    dcc.Input(id="similar-k", type="number", min=1, max=100, value=5),
                ],
                className="similar-row",
            ),
            html.Div(id="similar-status", role="status", className="hint"),
        ],
        className="similar",
    )


def search_body(view: View, k: int | None) -> dict[str, Any]:
    """The search a view asks for: its window, in its first dataset's parameters shown."""
    start, stop = window_of(view)
    dataset = view.panels[0].dataset
    names = list(dict.fromkeys(p.parameter for p in view.panels if p.dataset == dataset))
    return {
        "dataset": dataset,
        "parameters": names,
        "query_start": format_time(start, 9),
        "query_stop": format_time(stop, 9),
        "k": int(k or 5),
        "name": f"like {dataset} {short_time(start)} to {short_time(stop)}",
    }


def register_similar(app: Any, api: PageApi) -> None:
    """Submit a search from the view shown; poll it; add its list to the chosen ones."""

    @app.callback(
        Output("similar-job", "data"),
        Output("similar-tick", "disabled"),
        Output("similar-status", "children"),
        Input("similar-find", "n_clicks"),
        State("view", "data"),
        State("similar-k", "value"),
        prevent_initial_call=True,
    )
    def submit(clicked: int | None, shown: dict[str, Any] | None, k: int | None) -> Any:
        if not clicked:
            return no_update, no_update, no_update
        if not shown:
            return None, True, PLOT_FIRST
        try:
            body = search_body(View.from_dict(shown), k)
        except ViewError as exc:
            return None, True, str(exc)
        try:
            made = api.json("POST", "/eventlists/similar", json=body)
        except ApiError as exc:
            if exc.status in (401, 403):
                return None, True, SIGN_IN
            return None, True, f"Find similar: {exc.detail or exc}"
        searched = f"{', '.join(body['parameters'])} of {body['dataset']}"
        return {"id": made["id"], "what": searched}, False, f"Searching {searched}: queued"

    @app.callback(
        Output("similar-status", "children", allow_duplicate=True),
        Output("similar-tick", "disabled", allow_duplicate=True),
        Output("eventlists", "options", allow_duplicate=True),
        Output("eventlists", "value", allow_duplicate=True),
        Input("similar-tick", "n_intervals"),
        State("similar-job", "data"),
        State("eventlists", "value"),
        prevent_initial_call=True,
    )
    def poll(_: int | None, job: dict[str, Any] | None, chosen: list[str] | None) -> Any:
        if not job:
            return no_update, True, no_update, no_update
        try:
            found = api.get(f"/eventlists/{job['id']}", meta="true")
        except ApiError as exc:
            return f"Find similar: {exc}", True, no_update, no_update
        status = found.get("status")
        if status in _UNDER_WAY:
            return f"Searching {job['what']}: {status}", False, no_update, no_update
        if status != "ready":
            why = found.get("error") or f"the search ended {status}"
            return f"Find similar failed: {why}", True, no_update, no_update
        try:
            options = list_options(api)
        except ApiError as exc:
            return f"Find similar: {exc}", True, no_update, no_update
        name = str(found["name"])
        value = [*(c for c in chosen or [] if c != name), name]
        done = f"Found {found.get('events', 0)} intervals like the window in {job['what']}"
        return f"{done}: shaded and listed as {found['title']!r}.", True, options, value
