"""The viz's server-side state: the HAPI servers it reads and the cache of downloads.

Each panel of a stack is downloaded on its own (a dataset's parameter over the window),
side by side, and kept in the shared cache: adding a panel downloads that panel only,
zooming downloads nothing. A panel whose pixel columns each span many records of the
dataset's summary (``x_socstack.summary``: per-interval minima and maxima) is drawn
from the summary instead, with the same envelope from far fewer records.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from socstack.client.hapi import HapiClientError, HapiServer, Table
from socstack.times import duration_ns, parse_time
from socstack.viz.cache import TableCache
from socstack.viz.figures import PanelData, parameter_specs
from socstack.viz.links import Endpoints, View
from socstack.viz.signin import CREDENTIAL, fingerprint, headers_for
from socstack.viz.traces import with_gaps

__all__ = ["SUMMARY_RECORDS_PER_COLUMN", "Summary", "Viewer", "summary_covers"]

logger = logging.getLogger(__name__)

#: A summary dataset is drawn instead of the data when each pixel column spans at least
#: this many of its records: its envelope is then that of the data to within a record's
#: share of a column (a tenth of a pixel at most).
SUMMARY_RECORDS_PER_COLUMN = 10
#: Panels downloaded at once: a stack of a few datasets arrives in the time of one,
#: without one page taking every connection a server allows.
_DOWNLOADS_AT_ONCE = 4


@dataclass
class Summary:
    """Parameters from the dataset's summary: minima as a table, maxima beside."""

    dataset: str
    low: Table
    high: dict[str, np.ndarray]


class Viewer:
    """HAPI servers by URL and the download cache, shared by every session."""

    def __init__(self, endpoints: Endpoints, cache: TableCache, timeout: float):
        self.endpoints = endpoints
        self.cache = cache
        self.timeout = timeout
        self._servers: dict[tuple[str, str], HapiServer] = {}
        self._http = httpx.Client(timeout=timeout, follow_redirects=True)
        # Uncompressed from servers next door: gzip would cost both ends more CPU than
        # it saves on a loopback or cluster network (a month of 1 Hz data: 3.0 s
        # gzipped, 0.7 s plain, here).
        self._near = httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"Accept-Encoding": "identity"}
        )

    def server(self, url: str) -> HapiServer:
        """The server at ``url`` as this request's user sees it (its infos cached).

        The user's token goes to socstack's own HAPI server only: a server typed into
        the page is asked anonymously, and never learns it.
        """
        url = url.strip().rstrip("/")
        own = url == self.endpoints.hapi().rstrip("/")
        credential = CREDENTIAL.get() if own else None
        key = (url, fingerprint(credential))
        if key not in self._servers:
            client = self._near if own or _is_local(url) else self._http
            self._servers[key] = HapiServer(
                url, timeout=self.timeout, client=client, headers=headers_for(credential)
            )
        return self._servers[key]

    def table(
        self, server_url: str, dataset: str, parameters: Sequence[str], start: int, stop: int
    ) -> Table:
        """Records of ``parameters`` in ``[start, stop)``, from the cache when it holds them."""
        server = self.server(server_url)
        # A new file changes the dataset's modificationDate, and so the key: a window
        # downloaded before it arrived is not served from the cache after.
        modified = str(server.info(dataset).get("modificationDate", ""))
        # Keyed by who asked too: nobody is served what someone allowed more downloaded.
        who = fingerprint(server.headers.get("Authorization"))
        key = (server.url, who, dataset, tuple(parameters), modified)
        return self.cache.get(
            key, start, stop, lambda a, b: server.data(dataset, list(parameters), a, b)
        )

    def summary(
        self,
        server_url: str,
        dataset: str,
        parameters: Sequence[str],
        window: tuple[int, int],
        columns: int,
    ) -> Summary | None:
        """The parameters from the dataset's coarser summary, when its pixel columns are that wide.

        socstack servers name a dataset's summary (``x_socstack.summary``: a dataset of
        per-interval minima and maxima); a year of 1 Hz data is then 60 times fewer
        records to download, and the envelope drawn is the same.
        """
        start, stop = window
        info = self.server(server_url).info(dataset)
        spec = (info.get("x_socstack") or {}).get("summary") or {}
        names: dict[str, dict[str, str]] = spec.get("parameters") or {}
        cadence = duration_ns(spec.get("cadence"))
        if not spec.get("dataset") or not cadence or not names:
            return None
        if any(p not in names for p in parameters):
            return None
        if (stop - start) / max(columns, 1) < SUMMARY_RECORDS_PER_COLUMN * cadence:
            return None
        wanted = [names[p][edge] for p in parameters for edge in ("min", "max")]
        try:
            theirs = self.server(server_url).info(spec["dataset"])
            if not summary_covers(theirs, info, start, stop):
                return None  # the summary lags the data (made after it): draw the data
            table = self.table(server_url, spec["dataset"], wanted, start, stop)
        except HapiClientError as exc:
            logger.warning("viz: summary %s unusable, drawing the data: %s", spec["dataset"], exc)
            return None
        specs = parameter_specs(theirs)
        column = {n: with_gaps(table.values[n], specs[n]) for n in wanted}
        return Summary(
            spec["dataset"],
            Table(table.time, {p: column[names[p]["min"]] for p in parameters}),
            {p: column[names[p]["max"]] for p in parameters},
        )

    def panels(
        self, view: View, window: tuple[int, int], columns: int
    ) -> tuple[list[PanelData], dict[str, str]]:
        """Each panel's records over ``window``, downloaded side by side.

        Also returns, by dataset, the summary dataset a panel was drawn from. When no
        panel's dataset covers any of the window, the server's answer for the first
        panel is the error (often HAPI 1405, outside the coverage): it says why.
        """
        summaries: dict[str, str] = {}

        def one(index: int) -> PanelData:
            panel = view.panels[index]
            info = self.server(view.server).info(panel.dataset)
            spec = parameter_specs(info).get(panel.parameter)
            if spec is None:
                raise HapiClientError(
                    f"Unknown parameter {panel.parameter!r} of {panel.dataset} on {view.server}."
                )
            inside = _within_coverage(info, window)
            if inside is None:
                return PanelData(panel, spec, Table(np.empty(0, dtype=np.int64)))
            summary = self.summary(view.server, panel.dataset, [panel.parameter], inside, columns)
            if summary is not None:
                summaries[panel.dataset] = summary.dataset
                return PanelData(panel, spec, summary.low, summary.high[panel.parameter])
            table = self.table(view.server, panel.dataset, [panel.parameter], *inside)
            return PanelData(panel, spec, table)

        with ThreadPoolExecutor(max_workers=_DOWNLOADS_AT_ONCE) as pool:
            # Each download runs in this request's context: as this request's user.
            futures = [
                pool.submit(contextvars.copy_context().run, one, k) for k in range(len(view.panels))
            ]
            data = [f.result() for f in futures]
        if not any(len(d.table.time) for d in data) and data:
            first = view.panels[0]
            self.table(view.server, first.dataset, [first.parameter], *window)  # raises why
        return data, summaries

    def cadences(self, view: View) -> list[int | None]:
        """The cadence (ns) each dataset of the stack declares; None where it gives none."""
        out: list[int | None] = []
        for dataset in view.datasets:
            try:
                out.append(duration_ns(self.server(view.server).info(dataset).get("cadence")))
            except (HapiClientError, ValueError):
                out.append(None)
        return out

    def coverage(self, server_url: str, datasets: Sequence[str]) -> tuple[int, int] | None:
        """From the earliest start to the latest stop of ``datasets`` (None if none tells)."""
        spans = []
        for dataset in datasets:
            try:
                info = self.server(server_url).info(dataset)
                spans.append(
                    (parse_time(str(info["startDate"])), parse_time(str(info["stopDate"])))
                )
            except (HapiClientError, KeyError, ValueError):
                continue
        if not spans:
            return None
        return min(a for a, _ in spans), max(b for _, b in spans)


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


def _within_coverage(info: dict[str, Any], window: tuple[int, int]) -> tuple[int, int] | None:
    """The part of ``window`` the dataset covers (all of it when the info does not tell).

    Servers refuse a request that reaches outside a dataset's coverage (HAPI 1405); in
    a stack of datasets of different coverage, each panel asks for its own part, and a
    panel wholly outside is drawn empty without asking.
    """
    try:
        start, stop = parse_time(str(info["startDate"])), parse_time(str(info["stopDate"]))
    except (KeyError, ValueError):
        return window
    inside = max(window[0], start), min(window[1], stop)
    return inside if inside[0] < inside[1] else None


def _is_local(url: str) -> bool:
    host = httpx.URL(url).host if url.startswith(("http://", "https://")) else ""
    return host in ("localhost", "127.0.0.1", "::1")
