"""Exports of the view shown: its records as CSV (on the server), the figure as PNG.

A stack of one dataset exports one CSV (time, then each panel's columns); a stack of
several datasets, whose records have times of their own, exports a zip of one CSV per
dataset. The records come from the viz's cache when the figure was drawn from them; a
view drawn from a summary exports the data themselves, downloaded then.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

import dash
import numpy as np
from dash import Input, Output, State, dcc, no_update

from socstack.client.hapi import HapiClientError, Table
from socstack.times import format_times
from socstack.viz.links import View
from socstack.viz.viewer import Viewer
from socstack.viz.window import ViewError, window_of

__all__ = ["CSV_MAX_RECORDS", "csv_bytes", "register_exports"]

CSV_MAX_RECORDS = 2_000_000


def register_exports(app: dash.Dash, viewer: Viewer) -> None:
    """The Export CSV and Export PNG buttons."""

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
        view = View.from_dict(shown)
        files: dict[str, bytes] = {}
        try:
            window = window_of(view)
            for dataset in view.datasets:
                names = list(
                    dict.fromkeys(p.parameter for p in view.panels if p.dataset == dataset)
                )
                tables = [viewer.table(view.server, dataset, [n], *window) for n in names]
                records = max(len(t.time) for t in tables)
                if records > CSV_MAX_RECORDS:
                    message = (
                        f"{dataset}: the view holds {records:,} records; zoom in below "
                        f"{CSV_MAX_RECORDS:,} or use its 'Open in HAPI' link for the whole range."
                    )
                    return no_update, message, False
                files[f"{dataset}_{view.start}_{view.stop}.csv".replace(":", "")] = csv_bytes(
                    tables, names
                )
        except (HapiClientError, ViewError) as exc:
            return no_update, str(exc), False
        if len(files) == 1:
            ((name, body),) = files.items()
            return dcc.send_bytes(body, name), "", True
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
            for name, body in files.items():
                out.writestr(name, body)
        name = f"socstack_{view.start}_{view.stop}.zip".replace(":", "")
        return dcc.send_bytes(archive.getvalue(), name), "", True

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


def csv_bytes(tables: list[Table], parameters: list[str]) -> bytes:
    """One dataset's records as HAPI-style csv: time, then each parameter's columns.

    ``tables[k]`` holds ``parameters[k]``, each downloaded on its own over the same
    window of the same dataset, so over the same records.
    """
    import pyarrow as pa
    from pyarrow import csv

    time = tables[0].time
    columns: dict[str, Any] = {"time": format_times(time, 3).astype(str)}
    for table, name in zip(tables, parameters, strict=True):
        if not np.array_equal(table.time, time):
            raise HapiClientError(
                f"{name} came with other records than {parameters[0]} (the dataset changed "
                "between downloads): export again"
            )
        values = np.asarray(table.values[name])
        if values.ndim == 1:
            columns[name] = values
        else:
            for k in range(values.shape[1]):
                columns[f"{name}_{k}"] = np.ascontiguousarray(values[:, k])
    out = pa.BufferOutputStream()
    csv.write_csv(pa.table(columns), out)
    return out.getvalue().to_pybytes()
