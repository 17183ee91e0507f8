"""Event lists as the API hands them out: a rule's product over a range, or a person's list.

Two kinds, one form (:class:`~socstack.mining.events.EventList`):

- a mission's event-list dataset (an interval dataset, such as the shocks a detector
  rule found), read from its archived files like any HAPI request: every event that
  overlaps the range, cut to what the asker may see (the one authorization function);
- a list a person made: a catalog they uploaded, or what a similarity search found,
  kept as a row of ``event_lists`` and a JSON file in the archive. Its owner and
  operators see it; a search's result also whoever may read every file it read (a
  derived list is no more public than its inputs). An upload has no inputs: it is its
  owner's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy import select

from socstack._exceptions import AccessDenied, NotFoundError, SocError
from socstack.access import Action
from socstack.access.identity import Identity
from socstack.access.intervals import Intervals
from socstack.catalog.eventlists import EventListRow
from socstack.hapi.metadata import HapiDataset
from socstack.hapi.source import ArchiveSource
from socstack.mining.catalogs import read_catalog, write_catalog
from socstack.mining.events import EventList
from socstack.runtime import Runtime

__all__ = [
    "LISTS_PREFIX",
    "dataset_events",
    "event_datasets",
    "list_events",
    "may_see",
    "store_events",
    "upload",
    "visible_lists",
]

#: Where the events of people's lists live in the archive.
LISTS_PREFIX = "eventlists"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _aware(value: np.datetime64) -> dt.datetime:
    micros = int(np.datetime64(value, "us").astype(np.int64))
    return _EPOCH + dt.timedelta(microseconds=micros)


# -- a mission's event-list datasets --------------------------------------------------------------


def event_datasets(runtime: Runtime) -> list[HapiDataset]:
    """Every interval dataset of the loaded missions (whoever may see it)."""
    return [d for d in ArchiveSource(runtime).datasets() if d.config.intervals]


def _seen(runtime: Runtime, identity: Identity, dataset: HapiDataset) -> Intervals:
    decision = runtime.access.authorize(
        identity, Action.READ, mission=dataset.mission.name, product=dataset.product.id
    )
    return decision.intervals if decision.allowed else []


def dataset_events(
    runtime: Runtime,
    identity: Identity,
    dataset_id: str,
    start: int | None = None,
    stop: int | None = None,
) -> EventList:
    """The events of an interval dataset that overlap [start, stop), as ``identity`` sees them.

    Raises
    ------
    NotFoundError
        No such event-list dataset, or one the identity may see nothing of (the same
        answer, so a list's existence is not told to who may not see it).
    """
    source = ArchiveSource(runtime)
    dataset = source.dataset(dataset_id)
    if dataset is None or not dataset.config.intervals:
        raise NotFoundError(f"no event list {dataset_id!r}")
    seen = _seen(runtime, identity, dataset)
    coverage = source.coverage(dataset, seen) if seen else None
    if coverage is None:
        raise NotFoundError(f"no event list {dataset_id!r}")
    lo = coverage.start if start is None else start
    hi = coverage.stop if stop is None else stop
    parameters = dataset.parameters[1:]  # stopTime comes as the stop
    blocks = list(source.records(dataset, dataset.parameters, lo, hi, seen))
    times = np.concatenate([b.times for b in blocks]) if blocks else np.array([], np.int64)
    attrs = {
        p.name: (
            np.concatenate([np.asarray(b.values[p.name]) for b in blocks])
            if blocks
            else np.array([], dtype=np.float64)
        )
        for p in parameters
    }
    stops = (
        np.concatenate([np.asarray(b.values[dataset.parameters[0].name]) for b in blocks])
        if blocks
        else np.array([], dtype="datetime64[ns]")
    )
    units = {
        p.name: str(p.description["units"])
        for p in parameters
        if isinstance(p.description.get("units"), str)
    }
    descriptions = {p.name: str(p.description.get("description") or "") for p in parameters}
    return EventList(
        times.astype("datetime64[ns]"),
        np.asarray(stops, dtype="datetime64[ns]"),
        attrs,
        name=dataset.id,
        description=dataset.config.description or dataset.title,
        units=units,
        descriptions={k: v for k, v in descriptions.items() if v},
    )


# -- people's lists -----------------------------------------------------------------------------


def may_see(runtime: Runtime, identity: Identity, row: EventListRow) -> bool:
    """Its owner, operators, and for a search whoever may read every file it read."""
    if identity.staff or (identity.name is not None and identity.name == row.owner):
        return True
    if row.kind != "search" or not row.reads or not identity.can("read"):
        return False
    return runtime.access.may_read_every(identity, list(row.reads))


def visible_lists(runtime: Runtime, identity: Identity) -> list[EventListRow]:
    """The lists people made that ``identity`` may see, newest first."""
    with runtime.catalog.session() as session:
        rows = list(session.scalars(select(EventListRow).order_by(EventListRow.id.desc())))
    return [r for r in rows if may_see(runtime, identity, r)]


def get_list(runtime: Runtime, identity: Identity, list_id: int) -> EventListRow:
    """One list by id, if ``identity`` may see it (NotFoundError either way otherwise)."""
    with runtime.catalog.session() as session:
        row = session.get(EventListRow, list_id)
    if row is None or not may_see(runtime, identity, row):
        raise NotFoundError(f"no event list {list_id}")
    return row


def store_events(runtime: Runtime, row_id: int, events: EventList, **values: object) -> None:
    """Archive ``events`` as list ``row_id``'s JSON and record what it holds."""
    data = write_catalog(events, "json")
    key = f"{LISTS_PREFIX}/{row_id}.json"
    with tempfile.TemporaryDirectory(prefix="socstack-list-") as scratch:
        path = Path(scratch) / f"{row_id}.json"
        path.write_bytes(data)
        runtime.archive.put(path, key)
    with runtime.catalog.transaction() as session:
        row = session.get(EventListRow, row_id)
        if row is None:
            raise NotFoundError(f"no event list {row_id}")
        row.key = key
        row.sha256 = hashlib.sha256(data).hexdigest()
        row.events = len(events)
        row.start = _aware(events.start.min()) if len(events) else None
        row.stop = _aware(events.stop.max()) if len(events) else None
        for name, value in values.items():
            setattr(row, name, value)


def list_events(runtime: Runtime, row: EventListRow) -> EventList:
    """The events of a person's list (empty while a search has not finished)."""
    if row.key is None:
        return EventList.empty()
    with runtime.archive.open(row.key) as handle:
        data = handle.read()
    if row.sha256 and hashlib.sha256(data).hexdigest() != row.sha256:
        raise SocError(f"event list {row.id}: the archived events do not match their checksum")
    return read_catalog(data, "json")


def upload(
    runtime: Runtime,
    identity: Identity,
    data: bytes,
    *,
    filename: str = "",
    fmt: str | None = None,
    name: str = "",
    mission: str = "",
    description: str = "",
) -> EventListRow:
    """A catalog someone uploads (CSV, JSON or an AMDA VOTable) as a list of theirs.

    Raises
    ------
    AccessDenied
        The identity may not analyse (scope ``run``): anonymous visitors upload nothing.
    CatalogFormatError
        The file is not a catalog in any of the formats (nothing is kept).
    """
    decision = runtime.access.authorize(identity, Action.ANALYSE)
    if not decision.allowed or identity.name is None:
        raise AccessDenied(decision.reason or "uploading a catalog needs a signed-in user")
    events = read_catalog(data, fmt, filename=filename)
    title = (name or events.name or Path(filename).stem or "uploaded catalog")[:128]
    with runtime.catalog.transaction() as session:
        row = EventListRow(
            name=title,
            description=description or events.description,
            kind="upload",
            mission=mission,
            owner=identity.name,
            request={"filename": filename[:255]},
            reads=[],
            events=0,
        )
        session.add(row)
        session.flush()
        row_id = row.id
    events.name = title
    store_events(runtime, row_id, events)
    with runtime.catalog.session() as session:
        stored = session.get(EventListRow, row_id)
    assert stored is not None  # noqa: S101 - made above
    return stored
