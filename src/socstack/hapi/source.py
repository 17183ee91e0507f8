"""Where the HAPI server gets datasets and records: a small protocol, and the archive.

The HTTP layer talks only to :class:`HapiSource`, so tests can hand it a fake and a
mission could serve data from elsewhere. :class:`ArchiveSource` serves the archive:
coverage from the catalog, records read file by file (the newest version of each
partition, never a mix) so memory stays bounded for any request length.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from threading import Lock
from typing import Protocol

import numpy as np
from sqlalchemy import func, select

from socstack.catalog.models import File, FileStatus
from socstack.formats.cdf import read_variables
from socstack.hapi.metadata import Coverage, HapiDataset, HapiParameter, build_dataset
from socstack.runtime import Runtime

__all__ = ["ArchiveSource", "Block", "HapiSource"]

_NS = 1_000_000_000
_DAY = 86_400 * _NS
SAMPLE_SECONDS = 3600
#: Records per block: small enough that the first bytes leave quickly and a block's
#: encoded form stays a few MB, large enough that per-block costs vanish.
BLOCK_RECORDS = 16_384


@dataclass(frozen=True)
class Block:
    """Records in time order: times (ns, int64) and one array per parameter name."""

    times: np.ndarray
    values: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.times)


class HapiSource(Protocol):
    """What the HAPI endpoints need from a data source."""

    def datasets(self) -> list[HapiDataset]:
        """Datasets that are visible now."""

    def coverage(self, dataset: HapiDataset) -> Coverage | None:
        """What the source holds of ``dataset`` (None: nothing yet)."""

    def support(self, dataset: HapiDataset) -> dict[str, np.ndarray]:
        """Static support variables the metadata needs (bin centers and ranges)."""

    def last_modified(self) -> dt.datetime:
        """When anything visible last changed."""

    def data_modified(self, dataset: HapiDataset, start: int, stop: int) -> dt.datetime | None:
        """When the records of [start, stop) last changed (None: no records)."""

    def records(
        self, dataset: HapiDataset, parameters: list[HapiParameter], start: int, stop: int
    ) -> Iterator[Block]:
        """Records of [start, stop), in time order, in blocks of bounded size."""


def _midnight(partition: str) -> int:
    return int(np.datetime64(partition, "ns").astype(np.int64))


def _ns(value: dt.datetime) -> int:
    return int(value.timestamp() * 1e6) * 1000


class ArchiveSource:
    """Datasets of the configured missions, served from the archive and its catalog."""

    def __init__(self, runtime: Runtime, *, include_unreleased: bool = False):
        self.runtime = runtime
        self.include_unreleased = include_unreleased
        self._datasets = {
            config.id: build_dataset(mission, config)
            for mission, config in runtime.missions.datasets()
        }
        self._support: dict[tuple[str, int], dict[str, np.ndarray]] = {}
        self._lock = Lock()
        self._started = dt.datetime.now(dt.UTC).replace(microsecond=0)

    # -- visibility --------------------------------------------------------------------------
    def _public(self, dataset: HapiDataset) -> bool:
        return (
            self.include_unreleased
            or dataset.product.level in dataset.mission.release.public_levels
        )

    def _released(self, dataset: HapiDataset):
        condition = (
            (File.mission == dataset.mission.name)
            & (File.product == dataset.product.id)
            & (File.status == FileStatus.ARCHIVED)
        )
        embargo = dataset.mission.release.embargo_days
        if embargo and not self.include_unreleased:
            cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=embargo)
            condition &= File.stop <= cutoff
        return condition

    def datasets(self) -> list[HapiDataset]:
        """Configured datasets that are public and hold files."""
        return [
            d for d in self._datasets.values() if self._public(d) and self.coverage(d) is not None
        ]

    def dataset(self, dataset_id: str) -> HapiDataset | None:
        """A visible dataset by id."""
        found = self._datasets.get(dataset_id)
        if found is None or not self._public(found) or self.coverage(found) is None:
            return None
        return found

    # -- metadata ----------------------------------------------------------------------------
    def coverage(self, dataset: HapiDataset) -> Coverage | None:
        """Coverage from the partitions of the released archived files."""
        statement = select(
            func.min(File.partition),
            func.max(File.partition),
            func.max(File.ingested_at),
            func.count(),
        ).where(self._released(dataset))
        with self.runtime.catalog.session() as session:
            first, last, modified, count = session.execute(statement).one()
            if not count:
                return None
            sample = session.execute(
                select(File.start, File.stop)
                .where(self._released(dataset) & (File.partition == first))
                .limit(1)
            ).one()
        start = _midnight(first)
        sample_start = _ns(sample.start) if sample.start else start
        sample_start -= sample_start % _NS
        sample_stop = min(sample_start + SAMPLE_SECONDS * _NS, _midnight(last) + _DAY)
        return Coverage(
            start=start,
            stop=_midnight(last) + _DAY,
            sample_start=sample_start,
            sample_stop=sample_stop,
            modified=modified.replace(microsecond=0),
            files=int(count),
        )

    def support(self, dataset: HapiDataset) -> dict[str, np.ndarray]:
        """Bin support variables, read from the newest released file (cached per file)."""
        names = sorted({v for p in dataset.parameters for v in p.bin_variables})
        if not names:
            return {}
        with self.runtime.catalog.session() as session:
            row = session.scalars(
                select(File).where(self._released(dataset)).order_by(File.partition.desc()).limit(1)
            ).first()
        if row is None:
            return {}
        key = (dataset.id, row.id)
        with self._lock:
            cached = self._support.get(key)
        if cached is None:
            cached = self._read(dataset, row, names)
            with self._lock:
                self._support = {key: cached}  # one file per dataset is enough to keep
        return cached

    def last_modified(self) -> dt.datetime:
        """The last ingest of any file of a visible dataset (or the server's start)."""
        products = {
            (d.mission.name, d.product.id) for d in self._datasets.values() if self._public(d)
        }
        if not products:
            return self._started
        condition = None
        for mission, product in products:
            clause = (File.mission == mission) & (File.product == product)
            condition = clause if condition is None else condition | clause
        with self.runtime.catalog.session() as session:
            latest = session.scalar(select(func.max(File.ingested_at)).where(condition))
        return (latest or self._started).replace(microsecond=0)

    def data_modified(self, dataset: HapiDataset, start: int, stop: int) -> dt.datetime | None:
        """The last ingest among the files that hold [start, stop)."""
        first, last = self._partitions(start, stop)
        with self.runtime.catalog.session() as session:
            latest = session.scalar(
                select(func.max(File.ingested_at)).where(
                    self._released(dataset) & (File.partition >= first) & (File.partition <= last)
                )
            )
        return latest.replace(microsecond=0) if latest else None

    # -- records -----------------------------------------------------------------------------
    @staticmethod
    def _partitions(start: int, stop: int) -> tuple[str, str]:
        first = np.datetime64(start, "ns").astype("datetime64[D]")
        last = np.datetime64(stop - 1, "ns").astype("datetime64[D]")
        return str(first), str(last)

    def _files(self, dataset: HapiDataset, start: int, stop: int) -> list[File]:
        first, last = self._partitions(start, stop)
        with self.runtime.catalog.session() as session:
            return list(
                session.scalars(
                    select(File)
                    .where(
                        self._released(dataset)
                        & (File.partition >= first)
                        & (File.partition <= last)
                    )
                    .order_by(File.partition)
                )
            )

    def _read(self, dataset: HapiDataset, row: File, variables: list[str]) -> dict[str, np.ndarray]:
        local = self.runtime.archive.local_path(row.uri)
        with tempfile.TemporaryDirectory(prefix="socstack-hapi-") as scratch:
            path = local or self.runtime.archive.fetch(row.uri, Path(scratch) / row.name)
            if dataset.product.format == "cdf":
                return read_variables(path, variables)
            decoded = dataset.product.reader.read(path, dataset.product)
            out = {name: decoded[name].values for name in variables if name in decoded}
            out[dataset.config.time_variable] = decoded["epoch"].values
            return out

    def records(
        self, dataset: HapiDataset, parameters: list[HapiParameter], start: int, stop: int
    ) -> Iterator[Block]:
        """Read each file of [start, stop) in turn; cut every file to the request."""
        time_variable = dataset.config.time_variable
        variables = [time_variable, *dict.fromkeys(p.variable for p in parameters)]
        for row in self._files(dataset, start, stop):
            data = self._read(dataset, row, variables)
            times = np.asarray(data[time_variable]).astype("datetime64[ns]").astype(np.int64)
            if len(times) > 1 and np.any(times[1:] < times[:-1]):
                order = np.argsort(times, kind="stable")
                times = times[order]
                data = {k: np.asarray(v)[order] for k, v in data.items() if k != time_variable}
            lo, hi = np.searchsorted(times, [start, stop], side="left")
            columns = {
                p.name: _per_record(np.asarray(data[p.variable]), p, len(times)) for p in parameters
            }
            for first in range(int(lo), int(hi), BLOCK_RECORDS):
                last = min(first + BLOCK_RECORDS, int(hi))
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
