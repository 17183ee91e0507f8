"""Event lists: intervals with attributes, the one form every mining tool speaks.

A detector returns one, similarity search returns one (distances as an attribute), an
uploaded catalog becomes one; the archive keeps each as a CDF product whose record time
(``epoch``) is the event's start, with ``stop`` and the attributes as variables beside
it. So an event list is versioned, given provenance and released like any product, and
served over HAPI as an interval dataset.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from socstack._exceptions import SocError

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["Event", "EventList", "EventListError"]

_NS = "datetime64[ns]"
#: The CDF variable holding each event's stop (its start is the record time).
STOP_VARIABLE = "stop"
TIME_VARIABLE = "epoch"


class EventListError(SocError):
    """An event list is malformed (stop before start, attribute of the wrong length)."""


@dataclass(frozen=True)
class Event:
    """One event: [start, stop] and its attributes."""

    start: np.datetime64
    stop: np.datetime64
    attributes: dict[str, Any]


def _times(values: Any, what: str) -> np.ndarray:
    try:
        out = np.asarray(values, dtype=_NS)
    except (TypeError, ValueError) as exc:
        raise EventListError(f"{what}: not times ({exc})") from exc
    if out.ndim != 1:
        raise EventListError(f"{what}: one time per event, got shape {out.shape}")
    return out


@dataclass
class EventList:
    """Events in start order: ``start`` and ``stop`` (datetime64[ns]) and attributes.

    ``attributes`` map a name to one value per event: numbers (float or int) or text.
    ``units`` and ``descriptions`` are per attribute, for the CDF and the HAPI info.
    """

    start: np.ndarray
    stop: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    units: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.start = _times(self.start, "start")
        self.stop = _times(self.stop, "stop")
        if len(self.start) != len(self.stop):
            raise EventListError(f"{len(self.start)} starts but {len(self.stop)} stops")
        if np.any(np.isnat(self.start)) or np.any(np.isnat(self.stop)):
            raise EventListError("every event needs a start and a stop time")
        backwards = np.flatnonzero(self.stop < self.start)
        if len(backwards):
            n = int(backwards[0])
            raise EventListError(
                f"event {n} stops ({self.stop[n]}) before it starts ({self.start[n]})"
            )
        attributes: dict[str, np.ndarray] = {}
        for key, values in self.attributes.items():
            array = np.asarray(values)
            if array.dtype.kind == "O":
                array = array.astype(str)
            if array.shape[:1] != (len(self.start),):
                raise EventListError(
                    f"attribute {key!r} has {array.shape[0] if array.ndim else 0} values"
                    f" for {len(self.start)} events"
                )
            if key in (TIME_VARIABLE, STOP_VARIABLE, "start"):
                raise EventListError(f"{key!r} is the event's time; name the attribute otherwise")
            attributes[str(key)] = array
        order = np.argsort(self.start, kind="stable")
        if np.any(order != np.arange(len(order))):
            self.start, self.stop = self.start[order], self.stop[order]
            attributes = {k: v[order] for k, v in attributes.items()}
        self.attributes = attributes

    @classmethod
    def empty(cls, attributes: Mapping[str, np.dtype | type] | None = None) -> EventList:
        """No events (with typed, empty attribute columns)."""
        none = np.array([], dtype=_NS)
        return cls(none, none, {k: np.array([], dtype=d) for k, d in (attributes or {}).items()})

    def __len__(self) -> int:
        return len(self.start)

    def __iter__(self) -> Iterator[Event]:
        for n in range(len(self)):
            yield Event(
                self.start[n],
                self.stop[n],
                {
                    k: v[n].item() if hasattr(v[n], "item") else v[n]
                    for k, v in self.attributes.items()
                },
            )

    def select(self, keep: np.ndarray) -> EventList:
        """The events where ``keep`` (a boolean mask or indices) holds."""
        return EventList(
            self.start[keep],
            self.stop[keep],
            {k: v[keep] for k, v in self.attributes.items()},
            name=self.name,
            description=self.description,
            units=dict(self.units),
            descriptions=dict(self.descriptions),
        )

    def starting_in(self, start: np.datetime64, stop: np.datetime64) -> EventList:
        """The events that start in [start, stop): how a day's margin finds an event once."""
        return self.select((self.start >= start) & (self.start < stop))

    def overlapping(self, start: np.datetime64, stop: np.datetime64) -> EventList:
        """The events that overlap [start, stop) (HAPI's proposed interval semantics)."""
        return self.select((self.start < stop) & (self.stop > start))

    def to_dataset(self) -> xr.Dataset:
        """The list as the Dataset its CDF product is written from."""
        import xarray as xr

        variables: dict[str, Any] = {STOP_VARIABLE: ((TIME_VARIABLE,), self.stop)}
        for key, values in self.attributes.items():
            dims = (TIME_VARIABLE, *(f"{key}_dim{n}" for n in range(1, values.ndim)))
            variables[key] = (dims, values)
        out = xr.Dataset(variables, coords={TIME_VARIABLE: self.start})
        for key in self.attributes:
            if key in self.units:
                out[key].attrs["UNITS"] = self.units[key]
            if key in self.descriptions:
                out[key].attrs["CATDESC"] = self.descriptions[key]
        return out

    @classmethod
    def from_dataset(cls, data: xr.Dataset, *, name: str = "") -> EventList:
        """The list a product's file holds (``epoch`` the start, ``stop`` beside it)."""
        if TIME_VARIABLE not in data or STOP_VARIABLE not in data:
            raise EventListError(
                f"an event list needs {TIME_VARIABLE!r} and {STOP_VARIABLE!r} variables;"
                f" this holds {', '.join(map(str, data.variables))}"
            )
        attributes = {
            str(k): np.asarray(v.values)
            for k, v in data.data_vars.items()
            if k != STOP_VARIABLE and v.dims[:1] == (TIME_VARIABLE,)
        }
        units = {
            str(k): str(data[k].attrs["UNITS"]) for k in attributes if "UNITS" in data[k].attrs
        }
        return cls(
            data[TIME_VARIABLE].values,
            data[STOP_VARIABLE].values,
            attributes,
            name=name,
            units=units,
        )

    @staticmethod
    def concat(lists: list[EventList]) -> EventList:
        """Several lists as one (the attributes of the first; missing ones fail)."""
        if not lists:
            return EventList.empty()
        keys = list(lists[0].attributes)
        for other in lists[1:]:
            if list(other.attributes) != keys:
                raise EventListError(
                    f"cannot join lists with attributes {keys} and {list(other.attributes)}"
                )
        return EventList(
            np.concatenate([x.start for x in lists]),
            np.concatenate([x.stop for x in lists]),
            {k: np.concatenate([x.attributes[k] for x in lists]) for k in keys},
            name=lists[0].name,
            description=lists[0].description,
            units=dict(lists[0].units),
            descriptions=dict(lists[0].descriptions),
        )
