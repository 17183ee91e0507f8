"""Where the viz finds its data, and the shared link that holds a whole view.

The page's URL query holds the view: the server, the stack of panels (each a dataset's
parameter with its y-axis options) and the time range, so a copied link reopens it::

    ?server=https://example.org/hapi
    &panel=demo_mag_l2_1s/B_GSE
    &panel=demo_pls_l2/density;scale=log;range=0.1:100
    &panel=demo_pls_l2/eflux
    &start=2025-01-01T06:00Z&stop=2025-01-01T12:00Z

Times are HAPI times and names are written as they are, so a link stays readable; a
``/`` or ``;`` inside a dataset's or parameter's name is percent-encoded within the
panel. Links of one dataset from before stacks (``dataset=D&parameters=a,b``) still
open, as one panel per parameter: they were shared already.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, cast
from urllib.parse import parse_qs, unquote, urlencode

__all__ = [
    "SCALES",
    "Endpoints",
    "LinkError",
    "Panel",
    "View",
    "number_text",
    "view_from_query",
]

Scale = Literal["auto", "linear", "log"]
#: A panel's y-axis: "auto" is log for a spectrogram's positive bins, else linear.
SCALES: tuple[Scale, ...] = ("auto", "linear", "log")


class LinkError(ValueError):
    """A link's query that does not describe a view; the message is for the page."""


@dataclass
class Endpoints:
    """Base URLs the viz reads, resolved when asked (a server's port is known late)."""

    hapi: Callable[[], str]
    api: Callable[[], str]
    #: How the browser reaches the API for quicklook images (same origin by default).
    api_for_browser: str = "/api"


@dataclass(frozen=True)
class Panel:
    """One panel of the stack: a dataset's parameter and how its y-axis is drawn."""

    dataset: str
    parameter: str
    scale: Scale = "auto"
    low: float | None = None  # the y-axis's fixed ends; None follows the data
    high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The panel as a Dash store holds it."""
        return {
            "dataset": self.dataset,
            "parameter": self.parameter,
            "scale": self.scale,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Panel:
        """The panel a store holds (what :meth:`as_dict` wrote)."""
        scale = data.get("scale") or "auto"
        return cls(
            str(data["dataset"]),
            str(data["parameter"]),
            cast("Scale", scale if scale in SCALES else "auto"),
            _number(data.get("low")),
            _number(data.get("high")),
        )

    def problem(self) -> str | None:
        """Why the panel's y-axis cannot be drawn as asked, or None."""
        if self.low is not None and self.high is not None and self.low >= self.high:
            return "the y-axis's low end must be below its high end"
        if self.scale == "log" and any(v is not None and v <= 0 for v in (self.low, self.high)):
            return "a log y-axis must end above 0"
        return None

    def text(self) -> str:
        """The panel as a link writes it: ``dataset/parameter[;scale=...][;range=a:b]``."""
        words = [f"{_escape(self.dataset)}/{_escape(self.parameter)}"]
        if self.scale != "auto":
            words.append(f"scale={self.scale}")
        if self.low is not None or self.high is not None:
            words.append(f"range={number_text(self.low)}:{number_text(self.high)}")
        return ";".join(words)

    @classmethod
    def parse(cls, text: str) -> Panel:
        """The panel of a link's ``panel=`` value; :class:`LinkError` if malformed."""
        head, *options = text.strip().split(";")
        dataset, slash, parameter = head.partition("/")
        if not slash or not dataset or not parameter or "/" in parameter:
            raise LinkError(f"Panel {text!r}: write it as dataset/parameter.")
        panel = cls(unquote(dataset), unquote(parameter))
        for option in options:
            key, _, value = option.partition("=")
            if key == "scale" and value in SCALES:
                panel = replace(panel, scale=cast("Scale", value))
            elif key == "range" and ":" in value:
                low, _, high = value.partition(":")
                try:
                    panel = replace(panel, low=_read(low), high=_read(high))
                except ValueError:
                    raise LinkError(f"Panel {text!r}: range {value!r} is not low:high.") from None
            elif option:
                raise LinkError(
                    f"Panel {text!r}: {option!r} is neither scale=auto|linear|log "
                    "nor range=low:high."
                )
        return panel


@dataclass
class View:
    """What a link shows: a server, a stack of panels, a time range."""

    server: str = ""
    panels: list[Panel] = field(default_factory=list)
    start: str = ""
    stop: str = ""
    #: A dataset a link names without parameters (a link of before): it opens with the
    #: dataset's first parameters.
    dataset: str = ""

    @property
    def complete(self) -> bool:
        """Everything a plot needs is given."""
        return bool(self.server and self.panels and self.start and self.stop)

    @property
    def datasets(self) -> list[str]:
        """The datasets of the stack, each once, in the order they first appear."""
        return list(dict.fromkeys(p.dataset for p in self.panels))

    def query(self) -> str:
        """The ``?...`` of a link to this view."""
        items: list[tuple[str, str]] = [("server", self.server)]
        items += [("panel", p.text()) for p in self.panels]
        items += [("start", self.start), ("stop", self.stop)]
        return "?" + urlencode([(k, v) for k, v in items if v], safe=":,/;=")

    def as_dict(self) -> dict[str, Any]:
        """The view as a Dash store holds it."""
        return {
            "server": self.server,
            "panels": [p.as_dict() for p in self.panels],
            "start": self.start,
            "stop": self.stop,
            "dataset": self.dataset,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> View:
        """The view a store holds (what :meth:`as_dict` wrote); empty for None."""
        if not data:
            return cls()
        return cls(
            str(data.get("server") or ""),
            [Panel.from_dict(p) for p in data.get("panels") or []],
            str(data.get("start") or ""),
            str(data.get("stop") or ""),
            str(data.get("dataset") or ""),
        )


def view_from_query(search: str | None) -> View:
    """The view a link's query asks for (missing parts empty); :class:`LinkError` if malformed.

    ``panel=`` values are the stack; a link without them may name one ``dataset`` and
    its comma-separated ``parameters`` (the links of before), each a panel, or the
    dataset alone.
    """
    values = parse_qs((search or "").lstrip("?"))

    def one(key: str) -> str:
        return values.get(key, [""])[0].strip()

    panels = [Panel.parse(text) for text in values.get("panel", []) if text.strip()]
    dataset = "" if panels else one("dataset")
    if dataset:
        names = [p.strip() for p in one("parameters").split(",") if p.strip()]
        panels = [Panel(dataset, name) for name in names]
    return View(one("server"), panels, one("start"), one("stop"), "" if panels else dataset)


def _escape(name: str) -> str:
    """A name with the panel's separators (and ``%``) percent-encoded, else as it is."""
    for char in "%/;=":
        name = name.replace(char, f"%{ord(char):02X}")
    return name


def _number(value: object) -> float | None:
    if value in (None, ""):
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _read(text: str) -> float | None:
    """A range end of a link: a number, or empty for "follow the data"."""
    if not text.strip():
        return None
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(text)
    return number


def number_text(value: float | None) -> str:
    """A range end as a link (or a field) writes it: as short as it reads back exactly."""
    if value is None:
        return ""
    return f"{value:g}" if float(f"{value:g}") == value else repr(value)
