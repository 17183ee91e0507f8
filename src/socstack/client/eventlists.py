"""Event lists through the client (``/api/eventlists``): read, upload, find similar.

A mission's lists (the detectors' shocks, say) and a person's (uploaded catalogs, search
results) come back as :class:`~socstack.mining.events.EventList` s; ``to_dataset()``
makes one an xarray Dataset. A similarity search is a job on the data center's workers:
:meth:`EventLists.similar` submits it and, by default, waits for its list.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socstack._exceptions import ClientError
from socstack.client.api import Api, _params

if TYPE_CHECKING:
    from socstack.mining.events import EventList

__all__ = ["EventLists"]

#: Where a search's list ends up (anything else is still queued or running).
_ENDED = frozenset({"ready", "failed", "timed_out"})


class EventLists:
    """Event lists (``/api/eventlists``) of the data center."""

    def __init__(self, api: Callable[[], Api]):
        self._api = api

    def list(self) -> list[dict[str, Any]]:
        """The lists you may see: the missions' (``kind`` dataset) and people's."""
        return list(self._api().json("GET", "/eventlists")["lists"])

    def get(self, name: str | int, start: Any = None, stop: Any = None) -> EventList:
        """A list's events: a dataset's that overlap [start, stop), or a person's by id."""
        from socstack.mining.catalogs import read_catalog

        params = _params({"format": "json", "start": start, "stop": stop})
        response = self._api().request("GET", f"/eventlists/{name}", params=params)
        return read_catalog(response.content, "json")

    def export(self, name: str | int, fmt: str, dest: str | Path, **times: Any) -> Path:
        """A list written as ``fmt`` (csv, json or votable, AMDA's TimeTable) to ``dest``."""
        params = _params({"format": fmt, **times})
        response = self._api().request("GET", f"/eventlists/{name}", params=params)
        path = Path(dest)
        path.write_bytes(response.content)
        return path

    def upload(self, path: str | Path, *, name: str = "", description: str = "") -> dict[str, Any]:
        """A catalog file (CSV, JSON or AMDA VOTable) as a list of yours."""
        source = Path(path)
        files = {"file": (source.name, source.read_bytes())}
        data = {"name": name, "description": description}
        return dict(self._api().json("POST", "/eventlists", files=files, data=data))

    def similar(
        self,
        dataset: str,
        parameters: list[str],
        start: Any,
        stop: Any,
        *,
        range_start: Any = None,
        range_stop: Any = None,
        k: int = 10,
        wait: bool = True,
        timeout: float = 600.0,
        poll: float = 1.0,
    ) -> EventList | dict[str, Any]:
        """The ``k`` intervals most like [start, stop) of ``parameters`` (z-normalised).

        With ``wait`` (the default) the list, each match with its ``distance`` and
        ``rank``; else the submitted search (its ``id``, for :meth:`get` later).
        """
        body = _params(
            {
                "dataset": dataset,
                "parameters": list(parameters),
                "query_start": start,
                "query_stop": stop,
                "start": range_start,
                "stop": range_stop,
                "k": k,
            }
        )
        submitted = dict(self._api().json("POST", "/eventlists/similar", json=body))
        if not wait:
            return submitted
        deadline = time.monotonic() + timeout
        while True:
            meta = self._api().json(
                "GET", f"/eventlists/{submitted['id']}", params={"meta": "true"}
            )
            if meta.get("status") in _ENDED:
                break
            if time.monotonic() >= deadline:
                raise ClientError(
                    f"search {submitted['id']} is still {meta.get('status')} after {timeout:g} s"
                )
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))
        if meta["status"] != "ready":
            raise ClientError(f"search {submitted['id']} {meta['status']}: {meta.get('error')}")
        return self.get(submitted["id"])
