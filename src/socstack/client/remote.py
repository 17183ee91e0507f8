"""The HAPI transport: any HAPI server (socstack's or a peer's) over HTTP.

Reads HAPI binary (csv where a server lacks it) with :class:`~socstack.client.hapi.HapiServer`,
sending the token as ``Authorization: Bearer``. A request longer than the dataset's
``maxRequestDuration`` is asked in pieces, so a year is one call for the scientist
whatever the server allows at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from socstack.analysis import runenv
from socstack.client.hapi import HapiServer, Table
from socstack.times import duration_ns, format_time

__all__ = ["HapiTransport", "concatenate"]


class HapiTransport:
    """Reads the HAPI server at ``url`` (ending in ``/hapi``) as the holder of ``token``."""

    kind = "hapi"

    def __init__(self, url: str, token: str | None, *, timeout: float = 60.0):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.hapi = HapiServer(url, headers=headers, timeout=timeout)
        self.server = self.hapi.url

    def catalog(self) -> list[tuple[str, str]]:
        """The ids and titles the server lists to this token."""
        return [(d.id, d.title) for d in self.hapi.catalog()]

    def info(self, dataset: str) -> dict[str, Any]:
        """The dataset's info without the response's own ``HAPI`` and ``status``."""
        info = self.hapi.info(dataset)
        return {k: v for k, v in info.items() if k not in ("HAPI", "status")}

    def table(self, dataset: str, names: list[str], start: int, stop: int) -> Table:
        """The records of ``names`` in [start, stop), in pieces the server accepts."""
        limit = duration_ns(self.info(dataset).get("maxRequestDuration")) or (stop - start)
        pieces = []
        lo = start
        while lo < stop:
            hi = min(lo + limit, stop)
            pieces.append(self.hapi.data(dataset, names, lo, hi))
            lo = hi
        return concatenate(pieces)

    def record(self, dataset: str, start: int, stop: int) -> None:
        """Note the read for a notebook run: the dataset and window, not file names.

        A HAPI server does not say which files it read, so the run's provenance names
        the dataset (as the entry's ``name``), the window and the server's URL.
        """
        runenv.record_read(
            dataset,
            dataset=dataset,
            start=format_time(start, 9),
            stop=format_time(stop, 9),
            url=self.server,
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self.hapi.client.close()


def concatenate(tables: list[Table]) -> Table:
    """Tables of consecutive windows as one (column-major, as HapiServer gives them)."""
    if len(tables) == 1:
        return tables[0]
    names = list(tables[0].values)
    return Table(
        np.concatenate([t.time for t in tables]),
        {n: np.asfortranarray(np.concatenate([t.values[n] for t in tables])) for n in names},
    )
