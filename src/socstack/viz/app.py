"""The Dash app: a stack of panels from any datasets of a HAPI server; quicklooks; status.

Every figure is built on the server from data reduced to the graph's pixel width, so
the browser gets a few thousand points whatever the time range; zooming sends the
new window back here and the figure is rebuilt at the window's own resolution from
the cached download. Errors (an unreachable server, an unknown dataset, an empty
range, a HAPI error status) become a message on the page, never a traceback.

The parts: :mod:`~socstack.viz.layout` (the page), :mod:`~socstack.viz.opening` (a link
or the default view), :mod:`~socstack.viz.stack` (adding and editing panels),
:mod:`~socstack.viz.plotting` (requests, zooms, the figure), :mod:`~socstack.viz.exports`,
:mod:`~socstack.viz.pages` (quicklooks and pipeline status), :mod:`~socstack.viz.analyse`
(a notebook run of the interval shown), :mod:`~socstack.viz.events` (event lists shaded
and listed) and :mod:`~socstack.viz.similar` (Find similar); the API as the pages read
it is :mod:`~socstack.viz.api`; the data side is
:mod:`~socstack.viz.viewer`, :mod:`~socstack.viz.figures` and :mod:`~socstack.viz.reduce`.
"""

from __future__ import annotations

from pathlib import Path

import dash

from socstack.viz.analyse import register_analyse
from socstack.viz.api import PageApi
from socstack.viz.cache import TableCache
from socstack.viz.events import register_events
from socstack.viz.exports import register_exports
from socstack.viz.layout import PREFIX, page_layout
from socstack.viz.links import Endpoints
from socstack.viz.opening import register_opening
from socstack.viz.pages import register_pages
from socstack.viz.plotting import register_plotting
from socstack.viz.signin import register_signin
from socstack.viz.similar import register_similar
from socstack.viz.stack import register_stack
from socstack.viz.viewer import Viewer

__all__ = ["PREFIX", "create_dash"]


def create_dash(
    endpoints: Endpoints,
    *,
    cache_bytes: int = 1 << 30,
    timeout: float = 60.0,
    default_view: str = "",
) -> dash.Dash:
    """The viz app, served at ``/viz/`` (its Flask server is ``app.server``).

    ``default_view`` is the query of a link (``panel=DATASET/PARAMETER&...``) that the
    plot page opens without one; empty: the first dataset's first parameters.
    """
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
    app.layout = page_layout()
    app.viewer = viewer  # type: ignore[attr-defined] - for tests and the benchmark
    register_opening(app, viewer, default_view)
    register_stack(app, viewer)
    register_plotting(app, viewer)
    register_exports(app, viewer)
    register_pages(app, endpoints, timeout)
    register_signin(app, endpoints, timeout)
    register_analyse(app, endpoints, timeout)
    api = PageApi(endpoints, timeout)
    register_events(app, viewer, api)
    register_similar(app, api)
    return app
