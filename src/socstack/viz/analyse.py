"""*Analyse this interval*: the plot page's view as a notebook run, and its result in the page.

The button opens a run form for a library notebook (``GET /api/notebooks``), the
``interval`` template first, its parameters filled from what the page shows: the
visible interval and the panels' datasets and parameters. Submitting posts the run
(``POST /api/runs``) as the page's user (the viz's credential of the request, as every
other read of the API here); the page then polls ``GET /api/runs/{id}``, showing its
status and progress, and when the run ends shows its HTML output in a sandboxed frame.

The HTML is fetched here, as the user, and given to the frame as ``srcdoc`` with an
empty ``sandbox``: it runs no script and has no origin, whatever the notebook printed;
and the API's own answer, framed by no page (``frame-ancestors 'none'``), stays so.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import dash
import httpx
from dash import ALL, Input, Output, State, dcc, html

from socstack.viz.api import ApiError, PageApi
from socstack.viz.links import Endpoints, View

__all__ = [
    "TEMPLATE",
    "RunsApi",
    "analyse_button",
    "analyse_section",
    "prefill",
    "register_analyse",
]

#: The notebook the form opens with when the library has it (a mission's
#: ``notebooks/interval.ipynb``, listed as ``demo/interval.ipynb``).
TEMPLATE = "interval"
#: Statuses of a run still under way (any other is final).
_UNDER_WAY = frozenset({"queued", "running", "blocked"})
NO_RUNS = "Notebook runs are not available on this server (it has no /api/notebooks and /api/runs)."
SIGN_IN = "Sign in with a token of scope run to analyse an interval."


class RunsError(Exception):
    """The runs API could not do what the page asked; the message is for the page."""


def analyse_button() -> html.Button:
    """The button beside the exports."""
    return html.Button("Analyse this interval", id="analyse-open")


def analyse_section() -> html.Section:
    """The run form, the run's status, its result (hidden until the button is pressed)."""
    return html.Section(
        [
            dcc.Store(id="analyse-notebooks"),
            dcc.Store(id="analyse-context"),
            dcc.Store(id="analyse-run"),
            dcc.Interval(id="analyse-tick", interval=1000, disabled=True),
            html.H3("Analyse this interval"),
            html.Div(id="analyse-message", role="alert", className="message", hidden=True),
            html.Label("Notebook", htmlFor="analyse-notebook"),
            dcc.Dropdown(id="analyse-notebook", clearable=False),
            html.Div(id="analyse-fields", className="analyse-fields"),
            html.Button("Run", id="analyse-submit", className="primary"),
            html.Div(id="analyse-status", role="status", className="hint"),
            html.Div(id="analyse-result"),
        ],
        id="analyse-section",
        className="analyse",
        hidden=True,
    )


def is_template(name: str) -> bool:
    """Whether a library notebook's name is the interval template's (any mission's)."""
    return PurePosixPath(name).stem == TEMPLATE


def prefill(view: View) -> dict[str, Any]:
    """The template's parameters from a view: its first dataset, that one's parameters."""
    if not view.panels:
        return {"start": view.start, "stop": view.stop}
    dataset = view.panels[0].dataset
    names = list(dict.fromkeys(p.parameter for p in view.panels if p.dataset == dataset))
    return {"dataset": dataset, "parameters": names, "start": view.start, "stop": view.stop}


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _typed(text: str | None, spec: dict[str, Any]) -> Any:
    """A field's text as the notebook parameter's type (its declared type, or its default's)."""
    kind = str(spec.get("type") or "").lower()
    default = spec.get("default")
    text = (text or "").strip()
    if kind.startswith("list") or isinstance(default, list):
        return [part.strip() for part in text.split(",") if part.strip()]
    try:
        if kind == "int" or (isinstance(default, int) and not isinstance(default, bool)):
            return int(text)
        if kind == "float" or isinstance(default, float):
            return float(text)
    except ValueError:
        return text
    if kind == "bool" or isinstance(default, bool):
        return text.lower() in ("1", "true", "yes")
    return text


class RunsApi(PageApi):
    """socstack's runs API, asked as the page's user: runs are theirs, and what they read."""

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request to the API (``path`` below ``/api``)."""
        try:
            return super().call(method, path, **kwargs)
        except ApiError as exc:
            raise RunsError(str(exc)) from exc

    def json(self, method: str, path: str, what: str, **kwargs: Any) -> Any:  # type: ignore[override]
        """The JSON of a successful answer; a RunsError saying why otherwise."""
        try:
            return super().json(method, path, **kwargs)
        except ApiError as exc:
            if exc.status == 404 and what == "notebooks":
                raise RunsError(NO_RUNS) from exc
            if exc.status in (401, 403):
                raise RunsError(SIGN_IN) from exc
            raise RunsError(f"{what}: HTTP {exc.status} {exc.detail}".strip()) from exc

    def result(self, run: dict[str, Any]) -> list[Any]:
        """What the page shows of an ended run: its error, and its HTML in a sandbox."""
        parts: list[Any] = []
        if run.get("status") != "succeeded":
            parts.append(html.P(run.get("error") or "The run did not succeed.", className="error"))
            if run.get("log_tail"):
                parts.append(html.Pre(run["log_tail"], className="log"))
        page = next((o for o in run.get("outputs") or [] if o.get("kind") == "html"), None)
        if page is None:
            return parts
        url = str(page["url"])
        try:
            body = self.call("GET", url[len("/api") :] if url.startswith("/api/") else url)
        except RunsError as exc:
            return [*parts, html.P(str(exc), className="error")]
        if body.status_code != 200:
            return [*parts, html.P(f"{url}: HTTP {body.status_code}", className="error")]
        frame = html.Iframe(
            id="analyse-frame",
            srcDoc=body.text,
            sandbox="",  # no scripts, no origin: the notebook's output only
            title=f"run {run['id']}: {page['name']}",
            style={"width": "100%", "height": "70vh", "border": "1px solid #ccc"},
        )
        return [*parts, frame, html.A("Open the page alone", href=url, target="_blank")]


def register_analyse(app: dash.Dash, endpoints: Endpoints, timeout: float) -> None:
    """The form's callbacks: open, fields, submit, poll."""
    runs = RunsApi(endpoints, timeout)

    @app.callback(
        Output("analyse-section", "hidden"),
        Output("analyse-notebooks", "data"),
        Output("analyse-context", "data"),
        Output("analyse-notebook", "options"),
        Output("analyse-notebook", "value"),
        Output("analyse-message", "children"),
        Output("analyse-message", "hidden"),
        Input("analyse-open", "n_clicks"),
        State("view", "data"),
        prevent_initial_call=True,
    )
    def open_form(_: int | None, shown: dict[str, Any] | None) -> Any:
        if not shown:
            return False, None, None, [], None, "Plot something first: the run takes it.", False
        context = prefill(View.from_dict(shown))
        try:
            listing = runs.json("GET", "/notebooks", "notebooks")["notebooks"]
        except RunsError as exc:
            return False, None, context, [], None, str(exc), False
        names = [n["name"] for n in listing]
        chosen = next((n for n in names if is_template(n)), names[0] if names else None)
        options = [{"label": n, "value": n} for n in names]
        return False, listing, context, options, chosen, "", True

    @app.callback(
        Output("analyse-fields", "children"),
        Input("analyse-notebook", "value"),
        State("analyse-notebooks", "data"),
        State("analyse-context", "data"),
    )
    def fields(name: str | None, listing: list[dict[str, Any]] | None, context: Any) -> Any:
        entry = next((n for n in listing or [] if n["name"] == name), None)
        if entry is None:
            return []
        filled = context or {}
        rows = []
        for spec in entry.get("parameters") or []:
            pname = spec["name"]
            value = filled.get(pname, spec.get("default"))
            rows.append(
                html.Div(
                    [
                        html.Label(pname, htmlFor=f"analyse-param-{pname}"),
                        dcc.Input(
                            id={"type": "analyse-param", "name": pname},
                            value=_text(value),
                            type="text",
                            className="wide",
                        ),
                    ],
                    className="analyse-field",
                )
            )
        return rows

    @app.callback(
        Output("analyse-run", "data"),
        Output("analyse-tick", "disabled"),
        Output("analyse-status", "children"),
        Output("analyse-result", "children"),
        Output("analyse-message", "children", allow_duplicate=True),
        Output("analyse-message", "hidden", allow_duplicate=True),
        Input("analyse-submit", "n_clicks"),
        State("analyse-notebook", "value"),
        State({"type": "analyse-param", "name": ALL}, "value"),
        State({"type": "analyse-param", "name": ALL}, "id"),
        State("analyse-notebooks", "data"),
        prevent_initial_call=True,
    )
    def submit(
        _: int | None,
        name: str | None,
        values: list[str | None],
        ids: list[dict[str, str]],
        listing: list[dict[str, Any]] | None,
    ) -> Any:
        entry = next((n for n in listing or [] if n["name"] == name), None)
        if entry is None:
            return None, True, "", [], "Choose a notebook.", False
        specs = {s["name"]: s for s in entry.get("parameters") or []}
        parameters = {
            i["name"]: _typed(v, specs.get(i["name"], {})) for i, v in zip(ids, values, strict=True)
        }
        try:
            body = {"notebook": name, "parameters": parameters}
            run = runs.json("POST", "/runs", "run", json=body)
        except RunsError as exc:
            return None, True, "", [], str(exc), False
        return {"id": run["id"]}, False, _status(run), [], "", True

    @app.callback(
        Output("analyse-status", "children", allow_duplicate=True),
        Output("analyse-result", "children", allow_duplicate=True),
        Output("analyse-tick", "disabled", allow_duplicate=True),
        Input("analyse-tick", "n_intervals"),
        State("analyse-run", "data"),
        prevent_initial_call=True,
    )
    def poll(_: int | None, asked: dict[str, Any] | None) -> Any:
        if not asked:
            return dash.no_update, dash.no_update, True
        try:
            run = runs.json("GET", f"/runs/{asked['id']}", "run")
        except RunsError as exc:
            return str(exc), [], True
        if run.get("status") in _UNDER_WAY:
            return _status(run), dash.no_update, False
        return _status(run), runs.result(run), True


def _status(run: dict[str, Any]) -> str:
    progress = run.get("progress") or {}
    cells = (
        f" — {progress.get('done', 0)}/{progress.get('total', 0)} cells"
        if progress.get("total")
        else ""
    )
    return f"Run {run['id']} ({run.get('notebook', '')}): {run.get('status')}{cells}"
