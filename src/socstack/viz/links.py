"""Where the viz finds its data: a HAPI server and socstack's API, and the shared URL.

The page's URL query holds the whole view (server, dataset, parameters, time range), so
a copied link reopens it. Times in the link are HAPI times, readable as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

__all__ = ["Endpoints", "View", "view_from_query"]


@dataclass
class Endpoints:
    """Base URLs the viz reads, resolved when asked (a server's port is known late)."""

    hapi: Callable[[], str]
    api: Callable[[], str]
    #: How the browser reaches the API for quicklook images (same origin by default).
    api_for_browser: str = "/api"


@dataclass
class View:
    """What a link shows."""

    server: str = ""
    dataset: str = ""
    parameters: list[str] = field(default_factory=list)
    start: str = ""
    stop: str = ""

    @property
    def complete(self) -> bool:
        """Everything a plot needs is given."""
        return bool(self.server and self.dataset and self.parameters and self.start and self.stop)

    def query(self) -> str:
        """The ``?...`` of a link to this view."""
        items = {
            "server": self.server,
            "dataset": self.dataset,
            "parameters": ",".join(self.parameters),
            "start": self.start,
            "stop": self.stop,
        }
        return "?" + urlencode({k: v for k, v in items.items() if v}, safe=":,/")

    def as_dict(self) -> dict[str, object]:
        """The view as a Dash store holds it."""
        return {
            "server": self.server,
            "dataset": self.dataset,
            "parameters": list(self.parameters),
            "start": self.start,
            "stop": self.stop,
        }


def view_from_query(search: str | None) -> View:
    """The view a link's query asks for (missing parts empty)."""
    values = parse_qs((search or "").lstrip("?"))

    def one(key: str) -> str:
        return values.get(key, [""])[0].strip()

    parameters = [p for p in one("parameters").split(",") if p]
    return View(one("server"), one("dataset"), parameters, one("start"), one("stop"))
