"""The stack of panels: picking a dataset's parameters to add, and editing the panels.

Each panel is one dataset's parameter (any dataset of the server), drawn on the time
axis all panels share. The list below the pickers moves a panel up or down, removes
it, and sets its y-axis: auto, linear or log, and a fixed low or high end. The stack
lives in the ``stack`` store; once something is drawn, an edit redraws at once (see
:mod:`socstack.viz.plotting`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import dash
from dash import ALL, Input, Output, State, dcc, html, no_update

from socstack.client.hapi import HapiClientError
from socstack.viz.figures import parameter_specs
from socstack.viz.links import SCALES, Panel, number_text
from socstack.viz.viewer import Viewer

__all__ = ["register_stack", "stack_controls"]

_MOVES = {"panel-up": -1, "panel-down": 1}


def stack_controls() -> list[Any]:
    """The dataset and parameter pickers, the Add button and the list of panels."""
    return [
        html.Label("Dataset", htmlFor="dataset"),
        dcc.Dropdown(id="dataset", placeholder="Search datasets...", clearable=False),
        html.Div(id="coverage-text", className="hint"),
        html.Label("Parameters", htmlFor="parameters"),
        dcc.Dropdown(id="parameters", multi=True, placeholder="Pick parameters"),
        html.Button("Add panels", id="add-panels", title="Add the parameters as panels"),
        html.Label("Panels (top to bottom)"),
        html.Ol(id="panel-list", className="panel-list"),
    ]


def register_stack(app: dash.Dash, viewer: Viewer) -> None:
    """The pickers' and the panel list's callbacks."""

    @app.callback(
        Output("parameters", "options"),
        Output("parameters", "value"),
        Output("coverage-text", "children"),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("dataset", "value"),
        State("server", "value"),
        prevent_initial_call=True,
    )
    def load_info(dataset: str | None, server: str | None) -> Any:
        if not dataset or not server:
            return [], [], "", no_update, no_update
        try:
            info = viewer.server(server).info(dataset)
        except HapiClientError as exc:
            return [], [], "", str(exc), False
        options = [
            {"label": _parameter_label(name, spec), "value": name}
            for name, spec in parameter_specs(info).items()
        ]
        text = f"{info.get('startDate', '')} to {info.get('stopDate', '')}"
        if info.get("cadence"):
            text += f", cadence {info['cadence']}"
        return options, [], text, no_update, no_update

    @app.callback(
        Output("stack", "data"),
        Output("parameters", "value", allow_duplicate=True),
        Output("message", "children", allow_duplicate=True),
        Output("message", "hidden", allow_duplicate=True),
        Input("add-panels", "n_clicks"),
        Input({"type": "panel-up", "index": ALL}, "n_clicks"),
        Input({"type": "panel-down", "index": ALL}, "n_clicks"),
        Input({"type": "panel-remove", "index": ALL}, "n_clicks"),
        Input({"type": "panel-scale", "index": ALL}, "value"),
        Input({"type": "panel-low", "index": ALL}, "value"),
        Input({"type": "panel-high", "index": ALL}, "value"),
        State("stack", "data"),
        State("dataset", "value"),
        State("parameters", "value"),
        prevent_initial_call=True,
    )
    def edit(*args: Any) -> Any:
        stack, dataset, parameters = args[-3:]
        panels = [Panel.from_dict(p) for p in stack or []]
        trigger = dash.ctx.triggered_id
        value = dash.ctx.triggered[0]["value"] if dash.ctx.triggered else None
        nothing = (no_update,) * 4
        if trigger == "add-panels":
            if not value or not dataset or not parameters:
                return nothing
            new = [Panel(dataset, p) for p in parameters]
            have = {(p.dataset, p.parameter) for p in panels}
            panels += [p for p in new if (p.dataset, p.parameter) not in have]
            return [p.as_dict() for p in panels], [], "", True  # "add panels" is done
        if not isinstance(trigger, dict):
            return nothing
        index = int(trigger["index"])
        try:
            edited = _edited(panels, trigger["type"], index, value)
        except ValueError:
            return no_update, no_update, f"Panel {index + 1}: {value!r} is not a number.", False
        if edited is None or edited == panels:
            return nothing
        return [p.as_dict() for p in edited], no_update, no_update, no_update

    @app.callback(
        Output("panel-list", "children"),
        Input("stack", "data"),
        State({"type": "panel-scale", "index": ALL}, "value"),
        State({"type": "panel-low", "index": ALL}, "value"),
        State({"type": "panel-high", "index": ALL}, "value"),
        State({"type": "panel-name", "index": ALL}, "title"),
    )
    def render(
        stack: list[dict[str, Any]] | None,
        scales: list[str],
        lows: list[str | None],
        highs: list[str | None],
        names: list[str],
    ) -> Any:
        panels = [Panel.from_dict(p) for p in stack or []]
        # An edit typed into the list is already shown: drawing the list anew would
        # take the focus from the field the user moves on to.
        if _shows(panels, list(zip(names, scales, lows, highs, strict=False))):
            return no_update
        return [_panel_row(i, p, len(panels)) for i, p in enumerate(panels)]


def _shows(panels: list[Panel], rows: list[tuple[str, str, str | None, str | None]]) -> bool:
    """Whether the list's rows (name, scale, low, high as shown) show ``panels`` already."""
    if len(rows) != len(panels):
        return False
    try:
        shown = [(name, scale, _end(low), _end(high)) for name, scale, low, high in rows]
    except ValueError:
        return False
    return shown == [(_name(p), p.scale, p.low, p.high) for p in panels]


def _name(panel: Panel) -> str:
    return f"{panel.dataset}/{panel.parameter}"


def _end(text: str | None) -> float | None:
    return None if not str(text or "").strip() else float(str(text))


def _edited(panels: list[Panel], kind: str, index: int, value: Any) -> list[Panel] | None:
    """The stack after one control of panel ``index`` changed to ``value`` (None: no edit).

    A button's value is its click count: None when the list was drawn anew, not clicked.
    A y-axis end that is not a number raises ValueError.
    """
    if not 0 <= index < len(panels):
        return None
    out = list(panels)
    if kind in _MOVES:
        other = index + _MOVES[kind]
        if not value or not 0 <= other < len(out):
            return None
        out[index], out[other] = out[other], out[index]
    elif kind == "panel-remove":
        if not value:
            return None
        del out[index]
    elif kind == "panel-scale" and value in SCALES:
        out[index] = replace(out[index], scale=value)
    elif kind in ("panel-low", "panel-high"):
        end = None if not str(value or "").strip() else float(value)
        if end is not None and not math.isfinite(end):
            raise ValueError(value)
        out[index] = replace(out[index], **{"low" if kind == "panel-low" else "high": end})
    else:
        return None
    return out


def _panel_row(index: int, panel: Panel, count: int) -> html.Li:
    def key(kind: str) -> dict[str, Any]:
        return {"type": kind, "index": index}

    return html.Li(
        [
            html.Div(
                [
                    html.Span(
                        panel.parameter,
                        id=key("panel-name"),
                        title=_name(panel),
                        className="panel-parameter",
                    ),
                    html.Span(panel.dataset, className="panel-dataset hint"),
                    html.Span(
                        [
                            html.Button(
                                "↑",
                                id=key("panel-up"),
                                className="panel-up",
                                title="Move up",
                                disabled=index == 0,
                            ),
                            html.Button(
                                "↓",
                                id=key("panel-down"),
                                className="panel-down",
                                title="Move down",
                                disabled=index == count - 1,
                            ),
                            html.Button(
                                "\N{MULTIPLICATION SIGN}",
                                id=key("panel-remove"),
                                className="panel-remove",
                                title="Remove",
                            ),
                        ],
                        className="panel-buttons",
                    ),
                ],
                className="panel-head",
            ),
            html.Div(
                [
                    dcc.RadioItems(
                        id=key("panel-scale"),
                        options=[{"label": s, "value": s} for s in SCALES],
                        value=panel.scale,
                        inline=True,
                        className="panel-scale",
                    ),
                    dcc.Input(
                        id=key("panel-low"),
                        type="text",
                        inputMode="decimal",
                        value=number_text(panel.low),
                        placeholder="y low",
                        debounce=True,
                        className="panel-low",
                    ),
                    dcc.Input(
                        id=key("panel-high"),
                        type="text",
                        inputMode="decimal",
                        value=number_text(panel.high),
                        placeholder="y high",
                        debounce=True,
                        className="panel-high",
                    ),
                ],
                className="panel-axis",
            ),
        ],
        className="panel",
    )


def _parameter_label(name: str, spec: dict[str, Any]) -> str:
    units = spec.get("units")
    units = units[0] if isinstance(units, list) and units else units
    kind = " (spectrogram)" if spec.get("bins") else ""
    suffix = f" [{units}]" if units and units != "dimensionless" else ""
    return f"{name}{suffix}{kind}"
