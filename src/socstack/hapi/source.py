"""Where the HAPI server gets datasets and records: a small protocol, and the archive.

The HTTP layer talks only to :class:`HapiSource`, so tests can hand it a fake and a
mission could serve data from elsewhere. :class:`ArchiveSource` serves the archive:
coverage from the catalog, records read file by file (the newest version of each
partition, never a mix) so memory stays bounded for any request length.

Who may see what is not decided here. The HTTP layer asks the one access rule
(:meth:`socstack.access.Access.authorize`) and passes what the asker may see, ``seen``
(time ranges in ns, sorted and disjoint), to every call. The source then answers as if
the archive held only that: coverage, file counts, modification times and bins come
only from files that hold visible records, and only records whose times lie in ``seen``
are read out. ``ALL``, the default, is the whole archive.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import tempfile
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Protocol

import numpy as np
from sqlalchemy import ColumnElement, and_, false, func, or_, select, true

from socstack.access.intervals import ALL, Intervals, contains, file_span, intersect
from socstack.catalog.models import File, FileStatus
from socstack.formats.cdf import read_variables
from socstack.hapi.metadata import Coverage, HapiDataset, HapiParameter, build_dataset
from socstack.mission.datasets import STOP_TIME, URI
from socstack.runtime import Runtime

__all__ = ["ArchiveSource", "Block", "HapiSource"]

_NS = 1_000_000_000
_DAY = 86_400 * _NS
_US = 1000
_FIRST, _LAST = ALL[0]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SAMPLE_SECONDS = 3600
#: A file listing's sample: files a day, so several days make a sample with a cadence.
SAMPLE_FILES_DAYS = 10
#: Records per block: small enough that the first bytes leave quickly and a block's
#: encoded form stays a few MB, large enough that per-block costs vanish.
BLOCK_RECORDS = 16_384
#: Bin tables kept in memory (one per dataset and file read from).
SUPPORT_CACHE = 64


@dataclass(frozen=True)
class Block:
    """Records in time order: times (ns, int64) and one array per parameter name."""

    times: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.times)


class HapiSource(Protocol):
    """What the HAPI endpoints need from a data source.

    ``seen`` is what the asker may see (:data:`~socstack.access.intervals.ALL`: all).
    """

    def datasets(self) -> list[HapiDataset]:
        """Every dataset the source serves (whoever may see it)."""

    def coverage(self, dataset: HapiDataset, seen: Intervals = ALL) -> Coverage | None:
        """What the source holds of ``dataset`` within ``seen`` (None: nothing)."""

    def support(self, dataset: HapiDataset, seen: Intervals = ALL) -> dict[str, np.ndarray]:
        """Static support variables the metadata needs (bin centers and ranges)."""

    def data_modified(
        self, dataset: HapiDataset, start: int, stop: int, seen: Intervals = ALL
    ) -> dt.datetime | None:
        """When the visible records of [start, stop) last changed (None: no records)."""

    def records(
        self,
        dataset: HapiDataset,
        parameters: list[HapiParameter],
        start: int,
        stop: int,
        seen: Intervals = ALL,
    ) -> Iterator[Block]:
        """Records of [start, stop) within ``seen``, in time order, in bounded blocks."""


def _midnight(partition: str) -> int:
    return int(np.datetime64(partition, "ns").astype(np.int64))


def _ns(value: dt.datetime) -> int:
    return int(value.timestamp() * 1e6) * 1000


def _datetime(value: int) -> dt.datetime:
    """ns since 1970 as an aware datetime, floored to the microsecond the catalog keeps."""
    return _EPOCH + dt.timedelta(microseconds=value // _US)


def _floor(value: int) -> int:
    return value - value % _NS


def _ceil(value: int) -> int:
    return -_floor(-value)


#: Visible ranges written into SQL as they are; beyond this many (SQLite's expression
#: depth ends near 1000 terms), SQL selects by their hull and Python by the ranges.
SQL_RANGES = 100


def _holding(seen: Intervals) -> tuple[ColumnElement[bool] | None, bool]:
    """A condition on files that hold a record in ``seen``, and whether it is exact.

    None is every file. A file's ``start`` and ``stop`` are its first and last record's
    times, to the microsecond; ``stop`` is None for a file valid until further notice.
    Not exact (too many ranges): the condition selects the ranges' hull, and
    :func:`_holds` must be asked of each file it selects.
    """
    if seen == ALL:
        return None, True
    if not seen:
        return false(), True
    exact = len(seen) <= SQL_RANGES
    terms = []
    for lo, hi in seen if exact else ((seen[0][0], seen[-1][1]),):
        parts: list[ColumnElement[bool]] = [true()]
        if lo > _FIRST:
            parts.append(File.stop.is_(None) | (File.stop >= _datetime(lo - _US)))
        if hi < _LAST:
            parts.append(File.start < _datetime(hi))
        terms.append(and_(*parts))
    return or_(*terms), exact


def _holds(start: dt.datetime | None, stop: dt.datetime | None, seen: Intervals) -> bool:
    """True if a file of these first and last record times holds a record in ``seen``.

    The same test as :func:`_holding`'s, one file at a time: the first range that ends
    after the file starts is the only one that can begin before the file stops.
    """
    if seen == ALL:
        return True
    first = _ns(start) if start is not None else _FIRST
    k = bisect.bisect_right([hi // _US * _US for _, hi in seen], first)
    if k == len(seen):
        return False
    return stop is None or _ns(stop) >= (seen[k][0] - _US) // _US * _US


class ArchiveSource:
    """Datasets of the configured missions, served from the archive and its catalog."""

    def __init__(
        self,
        runtime: Runtime,
        on_read: Callable[[HapiDataset, File], None] | None = None,
        read_ahead: int = 0,
    ):
        self.runtime = runtime
        # Told of every archive file read (socstack.client records a notebook run's reads).
        self.on_read = on_read
        # Files read in threads while the caller uses the previous one (0: none). The
        # server leaves this off, its requests running side by side already; a client
        # reading a year in one call has cores to spare.
        self.read_ahead = read_ahead
        self._datasets = {
            config.id: build_dataset(mission, config)
            for mission, config in runtime.missions.datasets()
        }
        self._support: OrderedDict[tuple[str, int], dict[str, np.ndarray]] = OrderedDict()
        self._lock = Lock()

    # -- which files -------------------------------------------------------------------------
    @staticmethod
    def _archived(dataset: HapiDataset, seen: Intervals) -> tuple[ColumnElement[bool], bool]:
        """The archived files of ``dataset`` that hold records in ``seen`` (see _holding)."""
        condition = (
            (File.mission == dataset.mission.name)
            & (File.product == dataset.product.id)
            & (File.status == FileStatus.ARCHIVED)
        )
        holding, exact = _holding(seen)
        return (condition if holding is None else condition & holding), exact

    def datasets(self) -> list[HapiDataset]:
        """Every configured dataset, in the order of the mission files."""
        return list(self._datasets.values())

    def dataset(self, dataset_id: str) -> HapiDataset | None:
        """A configured dataset by id (whether anyone may see it is the caller's question)."""
        return self._datasets.get(dataset_id)

    def _extent(
        self, dataset: HapiDataset, seen: Intervals
    ) -> tuple[str, str, dt.datetime, int, dt.datetime | None] | None:
        """First and last partition, last ingest, count and first record of visible files."""
        where, exact = self._archived(dataset, seen)
        with self.runtime.catalog.session() as session:
            if exact:
                first, last, modified, count = session.execute(
                    select(
                        func.min(File.partition),
                        func.max(File.partition),
                        func.max(File.ingested_at),
                        func.count(),
                    ).where(where)
                ).one()
                if not count:
                    return None
                begins = session.scalar(
                    select(func.min(File.start)).where(where & (File.partition == first))
                )
                return first, last, modified, int(count), begins
            rows = session.execute(
                select(File.partition, File.start, File.stop, File.ingested_at).where(where)
            ).all()
        rows = [r for r in rows if _holds(r.start, r.stop, seen)]
        if not rows:
            return None
        first = min(r.partition for r in rows)
        begins = min((r.start for r in rows if r.partition == first and r.start), default=None)
        last = max(r.partition for r in rows)
        return first, last, max(r.ingested_at for r in rows), len(rows), begins

    # -- metadata ----------------------------------------------------------------------------
    def coverage(self, dataset: HapiDataset, seen: Intervals = ALL) -> Coverage | None:
        """Coverage from the partitions of the archived files that hold visible records.

        Cut to ``seen``: for someone who sees part of a product the stop date is where
        what they see ends (a release's boundary, an embargo's), to the second.
        """
        extent = self._extent(dataset, seen)
        if extent is None:
            return None
        first, last, modified, count, begins = extent
        start, stop = _midnight(first), _midnight(last) + _DAY
        raw = _ns(begins) if begins else start
        sample_start = _floor(raw)
        sample = SAMPLE_FILES_DAYS * _DAY if dataset.config.files else SAMPLE_SECONDS * _NS
        sample_stop = min(sample_start + sample, stop)
        if seen != ALL:
            shown = intersect(seen, ((start, stop),))
            if not shown:
                return None
            start, stop = _floor(shown[0][0]), _ceil(shown[-1][1])
            lo, hi = next((piece for piece in shown if piece[1] > raw), shown[0])
            sample_start = max(_floor(raw), _ceil(lo)) if raw >= lo else _ceil(lo)
            sample_stop = min(sample_start + sample, _ceil(hi), stop)
            if sample_stop <= sample_start:  # a visible range shorter than a second
                sample_start, sample_stop = _floor(lo), _ceil(hi)
        return Coverage(
            start=start,
            stop=stop,
            sample_start=sample_start,
            sample_stop=sample_stop,
            modified=modified.replace(microsecond=0),
            files=count,
        )

    def support(self, dataset: HapiDataset, seen: Intervals = ALL) -> dict[str, np.ndarray]:
        """Bin support variables, read from the newest file with visible records (cached)."""
        names = sorted({v for p in dataset.parameters for v in p.bin_variables})
        if not names:
            return {}
        where, exact = self._archived(dataset, seen)
        with self.runtime.catalog.session() as session:
            newest = session.scalars(
                select(File)
                .where(where)
                .order_by(File.partition.desc())
                .limit(1 if exact else None)
            )
            row = next((r for r in newest if exact or _holds(r.start, r.stop, seen)), None)
        if row is None:
            return {}
        key = (dataset.id, row.id)
        with self._lock:
            cached = self._support.get(key)
            if cached is not None:
                self._support.move_to_end(key)
        if cached is None:
            cached = self._read(dataset, row, names)
            with self._lock:
                self._support[key] = cached
                while len(self._support) > SUPPORT_CACHE:
                    self._support.popitem(last=False)
        return cached

    def data_modified(
        self, dataset: HapiDataset, start: int, stop: int, seen: Intervals = ALL
    ) -> dt.datetime | None:
        """The last ingest among the files that hold visible records of [start, stop)."""
        window = intersect(seen, ((start - dataset.config.lookback_ns, stop),))
        if not window:
            return None
        where, exact = self._in_window(dataset, window, seen)
        with self.runtime.catalog.session() as session:
            if exact:
                latest = session.scalar(select(func.max(File.ingested_at)).where(where))
            else:
                rows = session.execute(
                    select(File.start, File.stop, File.ingested_at).where(where)
                ).all()
                latest = max(
                    (r.ingested_at for r in rows if _holds(r.start, r.stop, window)), default=None
                )
        return latest.replace(microsecond=0) if latest else None

    # -- records -----------------------------------------------------------------------------
    @staticmethod
    def _partitions(start: int, stop: int) -> tuple[str, str]:
        first = np.datetime64(start, "ns").astype("datetime64[D]")
        last = np.datetime64(stop - 1, "ns").astype("datetime64[D]")
        return str(first), str(last)

    def _in_window(
        self, dataset: HapiDataset, window: Intervals, seen: Intervals
    ) -> tuple[ColumnElement[bool], bool]:
        """The files of the partitions of ``window`` (the visible part of a request)."""
        first, last = self._partitions(window[0][0], window[-1][1])
        where, exact = self._archived(dataset, ALL if seen == ALL else window)
        return where & (File.partition >= first) & (File.partition <= last), exact

    def _files(self, dataset: HapiDataset, window: Intervals, seen: Intervals) -> list[File]:
        where, exact = self._in_window(dataset, window, seen)
        with self.runtime.catalog.session() as session:
            rows = list(session.scalars(select(File).where(where).order_by(File.partition)))
        return rows if exact else [r for r in rows if _holds(r.start, r.stop, window)]

    def _read(self, dataset: HapiDataset, row: File, variables: list[str]) -> dict[str, np.ndarray]:
        if self.on_read is not None:
            self.on_read(dataset, row)
        local = self.runtime.archive.local_path(row.uri)
        if local is not None:  # no scratch folder to make and remove: 2 ms a file
            return self._decode(dataset, local, variables, row.sha256)
        with tempfile.TemporaryDirectory(prefix="socstack-hapi-") as scratch:
            path = self.runtime.archive.fetch(row.uri, Path(scratch) / row.name)
            return self._decode(dataset, path, variables, row.sha256)

    @staticmethod
    def _decode(
        dataset: HapiDataset, path: Path, variables: list[str], sha256: str
    ) -> dict[str, np.ndarray]:
        if dataset.product.format == "cdf":
            return read_variables(path, variables, sha256=sha256)
        decoded = dataset.product.reader.read(path, dataset.product)
        out = {name: decoded[name].values for name in variables if name in decoded}
        out[dataset.config.time_variable] = decoded["epoch"].values
        return out

    def _reads(
        self, dataset: HapiDataset, rows: list[File], variables: list[str]
    ) -> Iterator[tuple[File, dict[str, np.ndarray]]]:
        """Each file's variables in order; with ``read_ahead``, the next ones read meanwhile.

        Bounded: at most ``read_ahead`` files wait decoded, so memory stays a few files
        whatever the request's length.
        """
        if self.read_ahead <= 0 or len(rows) < 2:
            for row in rows:
                yield row, self._read(dataset, row, variables)
            return
        with ThreadPoolExecutor(self.read_ahead, thread_name_prefix="socstack-read") as pool:
            upcoming = iter(rows)
            pending: deque[tuple[File, Future[dict[str, np.ndarray]]]] = deque()
            for row in itertools.islice(upcoming, self.read_ahead + 1):
                pending.append((row, pool.submit(self._read, dataset, row, variables)))
            while pending:
                row, future = pending.popleft()
                following = next(upcoming, None)
                if following is not None:
                    pending.append(
                        (following, pool.submit(self._read, dataset, following, variables))
                    )
                yield row, future.result()

    def _intervals(
        self,
        dataset: HapiDataset,
        parameters: list[HapiParameter],
        start: int,
        stop: int,
        seen: Intervals,
    ) -> Iterator[Block]:
        """Every interval that overlaps [start, stop), whose start may be seen.

        The files searched reach back ``max_interval`` before the request, for an event
        that began earlier and is still going on at its start. Records stay in start
        order: a detector keeps each event in the file of the day it starts.
        """
        window = intersect(seen, ((start - dataset.config.lookback_ns, stop),))
        if not window:
            return
        edges = np.array(window, dtype=np.int64).ravel()
        time_variable = dataset.config.time_variable
        stop_variable = dataset.parameters[0].variable
        variables = [time_variable, stop_variable, *dict.fromkeys(p.variable for p in parameters)]
        for _, data in self._reads(dataset, self._files(dataset, window, seen), variables):
            times = np.asarray(data[time_variable], dtype="datetime64[ns]").view(np.int64)
            stops = np.asarray(data[stop_variable], dtype="datetime64[ns]").view(np.int64)
            inside = np.searchsorted(edges, times, side="right") % 2 == 1
            keep = np.flatnonzero(inside & _overlapping(times, stops, start, stop))
            if not len(keep):
                continue
            order = keep[np.argsort(times[keep], kind="stable")]
            columns = {
                p.name: _per_record(np.asarray(data[p.variable]), p, len(times))[order]
                for p in parameters
            }
            for first in range(0, len(order), BLOCK_RECORDS):
                last = first + BLOCK_RECORDS
                values = {name: column[first:last] for name, column in columns.items()}
                yield Block(times[order][first:last], values)

    def _listed(
        self,
        dataset: HapiDataset,
        parameters: list[HapiParameter],
        start: int,
        stop: int,
        seen: Intervals,
    ) -> Iterator[Block]:
        """A file listing: the archived files of the product that overlap [start, stop).

        One record per file (the newest version of each day), from the catalog alone.
        Only a file all of whose range may be seen is listed, as ``/api/files`` lists
        and serves it: no link leads to a refusal, and none tells of data held back.
        """
        first, last = self._partitions(start - _DAY, stop)
        where, _ = self._archived(dataset, ALL)
        where = where & (File.partition >= first) & (File.partition <= last)
        with self.runtime.catalog.session() as session:
            rows = session.execute(
                select(File.name, File.partition, File.start, File.stop, File.version)
                .add_columns(File.size, File.sha256)
                .where(where)
            ).all()
        listed = []
        for row in rows:
            lo = _ns(row.start) if row.start is not None else _midnight(row.partition)
            hi = _ns(row.stop) if row.stop is not None else _midnight(row.partition) + _DAY
            # As _overlapping, one file at a time: an instant only if it lies in the request.
            overlapping = lo < stop and (hi > start or (hi == lo and lo >= start))
            if overlapping and contains(seen, *file_span(row.start, row.stop)):
                listed.append((lo, hi, row))
        if not listed:
            return
        listed.sort(key=lambda item: (item[0], item[2].name))
        columns = {
            STOP_TIME: np.array([hi for _, hi, _ in listed], dtype="datetime64[ns]"),
            URI: np.array([r.name for _, _, r in listed], dtype=str),
            "version": np.array([r.version for _, _, r in listed], dtype=str),
            "size": np.array([r.size for _, _, r in listed], dtype=np.float64),
            "sha256": np.array([r.sha256 for _, _, r in listed], dtype=str),
        }
        times = np.array([lo for lo, _, _ in listed], dtype=np.int64)
        for at in range(0, len(times), BLOCK_RECORDS):
            values = {p.name: columns[p.name][at : at + BLOCK_RECORDS] for p in parameters}
            yield Block(times[at : at + BLOCK_RECORDS], values)

    def records(
        self,
        dataset: HapiDataset,
        parameters: list[HapiParameter],
        start: int,
        stop: int,
        seen: Intervals = ALL,
    ) -> Iterator[Block]:
        """Read each file of [start, stop) in turn; cut every file to what may be seen."""
        if dataset.config.files:
            yield from self._listed(dataset, parameters, start, stop, seen)
            return
        if dataset.config.intervals:
            yield from self._intervals(dataset, parameters, start, stop, seen)
            return
        window = intersect(seen, ((start, stop),))
        if not window:
            return
        edges = np.array(window, dtype=np.int64).ravel()
        time_variable = dataset.config.time_variable
        variables = [time_variable, *dict.fromkeys(p.variable for p in parameters)]
        for _, read in self._reads(dataset, self._files(dataset, window, seen), variables):
            data = read
            times = np.asarray(data[time_variable], dtype="datetime64[ns]").view(np.int64)
            if len(times) > 1 and np.any(times[1:] < times[:-1]):
                order = np.argsort(times, kind="stable")
                times = times[order]
                data = {k: np.asarray(v)[order] for k, v in data.items() if k != time_variable}
            # Each visible range [lo, hi) of the request is a run of records [i, j).
            bounds = np.searchsorted(times, edges, side="left").reshape(-1, 2)
            columns: dict[str, np.ndarray] | None = None
            for lo, hi in bounds.tolist():
                if hi <= lo:
                    continue
                if columns is None:
                    columns = {
                        p.name: _per_record(np.asarray(data[p.variable]), p, len(times))
                        for p in parameters
                    }
                for first in range(lo, hi, BLOCK_RECORDS):
                    last = min(first + BLOCK_RECORDS, hi)
                    values = {name: column[first:last] for name, column in columns.items()}
                    yield Block(times[first:last], values)


def _per_record(values: np.ndarray, parameter: HapiParameter, records: int) -> np.ndarray:
    """A variable as one row per record; one a file holds once repeats on every record.

    A non-record-varying variable is, say, the energy table a calibration set. This is
    how time-varying bins are served: a parameter holding the file's table, which the bins
    of another parameter name (HAPI's ``centers: ParameterName``), so each day keeps the
    table of its own file even after a later calibration moved the channels.
    """
    if values.ndim == len(parameter.size) and records:
        return np.broadcast_to(values, (records, *values.shape))
    return values


def _overlapping(starts: np.ndarray, stops: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Which intervals overlap the request [start, stop).

    An interval [a, b] with b > a overlaps when a < stop and b > start; an instant (a == b)
    when it lies in [start, stop), as a sample would.
    """
    instant = stops == starts
    return (starts < stop) & np.where(instant, starts >= start, stops > start)
