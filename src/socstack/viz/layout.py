"""The page: a top bar, the plot page (controls beside the figure) and the other pages.

The stores carry the state between callbacks: ``wanted`` is what the link asks for,
``stack`` the panels being edited, ``request`` the view to draw (what the link then
holds), ``home`` the window of the last plot asked for (where a double click goes
back to), ``view`` the view drawn (what the exports hold), ``columns`` the plot's
width in pixels.
"""

from __future__ import annotations

from dash import dcc, html

from socstack.viz.analyse import analyse_button, analyse_section
from socstack.viz.events import events_controls, events_section
from socstack.viz.pages import quicklooks_layout, status_layout
from socstack.viz.signin import signin_layout
from socstack.viz.similar import similar_controls
from socstack.viz.stack import stack_controls

__all__ = ["PREFIX", "page_layout"]

PREFIX = "/viz/"


def page_layout() -> html.Div:
    """Every page of the app; the URL's path shows one."""
    return html.Div(
        [
            dcc.Location(id="url", refresh=False),
            dcc.Store(id="wanted"),
            dcc.Store(id="stack", data=[]),
            dcc.Store(id="request"),
            dcc.Store(id="home"),
            dcc.Store(id="view"),
            dcc.Store(id="columns", data=1000),
            html.Header(
                [
                    html.Span("socstack", className="brand"),
                    dcc.Link("Plot", href=PREFIX, id="nav-plot"),
                    dcc.Link("Quicklooks", href=PREFIX + "quicklooks", id="nav-quicklooks"),
                    dcc.Link("Pipeline", href=PREFIX + "status", id="nav-status"),
                    html.Span(
                        [
                            html.Span(id="who", className="who"),
                            dcc.Link("Sign in", href=PREFIX + "signin", id="nav-signin"),
                            html.Form(
                                html.Button("Sign out", type="submit", id="signout"),
                                action="/viz/session/end",
                                method="POST",
                                id="signout-form",
                                style={"display": "none"},
                            ),
                        ],
                        className="account",
                    ),
                ],
                className="topbar",
            ),
            html.Main(
                [
                    html.Div(_plot_page(), id="page-plot"),
                    html.Div(quicklooks_layout(), id="page-quicklooks", style={"display": "none"}),
                    html.Div(status_layout(), id="page-status", style={"display": "none"}),
                    html.Div(signin_layout(), id="page-signin", style={"display": "none"}),
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
                    *stack_controls(),
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
                            analyse_button(),
                            html.Span(id="hapi-links", className="hapi-links"),
                        ],
                        className="exports",
                    ),
                    dcc.Download(id="download"),
                    *events_controls(),
                    similar_controls(),
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
                            # Responsive to the width; the height is the figure's own,
                            # set on the graph's box by the drawing callback.
                            responsive=True,
                            style={"display": "none"},
                        ),
                        type="dot",
                        delay_show=300,
                    ),
                    html.Div(id="stats", className="hint"),
                    events_section(),
                    analyse_section(),
                ],
                className="plot-area",
            ),
        ],
        className="plot-page",
    )
