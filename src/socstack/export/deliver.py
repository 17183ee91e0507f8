"""SPDF-style delivery of the released CDF files to a long-term archive's folder or bucket.

Why: a long-term archive (SPDF, or a mission's own deep archive) takes files that pass
its checks, with a description of each dataset and a list of checksums to verify them
on arrival; it wants each file once, and a new version when one is made. This module
puts together what the export package has: the one selection of what the public may see
(:func:`~socstack.export.cloudcatalog.released_files`), the ISTP check SPDF applies
(:func:`~socstack.export.istp.check_istp`), the SPASE description
(:func:`~socstack.export.spase.spase_document`) and the store code the CloudCatalog
writes a folder or bucket with.

Layout at the destination, per dataset::

    <dataset>/<file.cdf>           each released file that passed the check
    <dataset>/<dataset>.xml        its SPASE NumericalData description
    <dataset>/MANIFEST.sha256      sha256sum lines of the files delivered (newest per day)

Incremental: the ``deliveries`` table records each file delivered to a destination with
its checksum, so a file already there is not copied again, and a new version of a day is
copied alone (the older one stays, in the bucket and in the table). The description and
the manifest say what was delivered (the description's coverage is the days delivered,
its release date the last delivery), and are rewritten only when their bytes change: a
run that delivers nothing rewrites nothing, a held file included. A file that fails the ISTP
check is not copied and not listed; its row says why, and it is checked again on the
next delivery (a fixed file comes as a new version, which is delivered once it passes).
Only CDF products are delivered (SPDF takes CDF); file listings (``files: true``) are
not data and are left out, as in the SPASE export.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse
from urllib.request import url2pathname

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from socstack._exceptions import ConfigError, NotFoundError, StorageError
from socstack.access.intervals import ns, union
from socstack.archive.store import Store
from socstack.catalog.deliveries import Delivery, DeliveryStatus
from socstack.catalog.models import utcnow
from socstack.export.cloudcatalog import (
    ChangedWriter,
    ReleasedFile,
    destination_store,
    released_files,
)
from socstack.export.istp import check_istp
from socstack.export.spase import check_describable, spase_document
from socstack.hapi.source import ArchiveSource
from socstack.mission.datasets import Dataset
from socstack.mission.model import Mission
from socstack.mission.versions import Version

if TYPE_CHECKING:
    from socstack.runtime import Runtime

__all__ = [
    "MANIFEST",
    "DatasetDelivery",
    "DeliveryResult",
    "HeldFile",
    "deliver",
    "destination_url",
]

logger = logging.getLogger(__name__)

#: The checksum list of a dataset's folder (``sha256sum -c MANIFEST.sha256`` in it).
MANIFEST = "MANIFEST.sha256"
_DELIVERED_FORMAT = "cdf"
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class HeldFile:
    """A released file not delivered, and why (its ISTP problems)."""

    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class DatasetDelivery:
    """What one delivery did for one dataset.

    ``skipped`` says why nothing of the dataset was considered (not CDF, nothing
    released); ``error`` why it could not be delivered although it should be (its
    description cannot be made): an operator must act on an error, not on a skip.
    """

    dataset: str
    mission: str
    product: str
    delivered: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    held: tuple[HeldFile, ...] = ()
    written: tuple[str, ...] = ()  # SPASE and manifest keys created or changed
    skipped: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class DeliveryResult:
    """What one delivery did, per dataset, at ``destination``."""

    destination: str
    datasets: tuple[DatasetDelivery, ...] = field(default_factory=tuple)

    @property
    def held(self) -> list[tuple[str, HeldFile]]:
        """Every held file with its dataset."""
        return [(d.dataset, h) for d in self.datasets for h in d.held]

    @property
    def ok(self) -> bool:
        """Whether everything released was delivered (nothing held, no dataset in error)."""
        return not any(d.held or d.error for d in self.datasets)


def destination_url(dest: str) -> str:
    """The URL a destination is recorded under: a plain path as an absolute ``file://``.

    Why: the same folder given as ``out``, ``./out/`` or its absolute path must be one
    destination in the table, or a delivery would copy everything again.
    """
    text = dest.strip()
    if not text:
        raise ConfigError("no destination given: a folder or a bucket URL (s3://bucket/prefix)")
    if "://" not in text:
        return Path(text).expanduser().resolve().as_uri()
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return Path(url2pathname(parsed.path)).resolve().as_uri()
    return text.rstrip("/")


def _open_destination(runtime: Runtime, url: str) -> Store:
    """The destination's store, checked reachable before anything is read for it."""
    archive = runtime.settings.archive_url.rstrip("/")
    if url == archive or url.startswith(f"{archive}/"):
        raise ConfigError(f"cannot deliver into the archive itself ({url}): give another folder")
    store = destination_store(runtime, url)
    try:
        if store.local:
            Path(store.root).mkdir(parents=True, exist_ok=True)
        elif not store.fs.exists(store.root.split("/", 1)[0]):
            raise StorageError(f"cannot deliver to {url}: no such bucket")
    except StorageError:
        raise
    except Exception as exc:  # OSError, botocore's errors: the boundary of the store
        raise StorageError(f"cannot deliver to {url}: {type(exc).__name__}: {exc}") from exc
    return store


def _chosen(runtime: Runtime, dataset_id: str | None) -> list[tuple[Mission, Dataset]]:
    """The data datasets to deliver (every one, or the one named), each id once."""
    every = runtime.missions.datasets()
    if dataset_id is None:
        return list({d.id: (m, d) for m, d in every if not d.files}.values())
    for mission, dataset in every:
        if dataset.id == dataset_id and dataset.files:
            raise NotFoundError(
                f"{dataset_id} is a file listing, not data: deliver its product's data dataset"
            )
        if dataset.id == dataset_id:
            return [(mission, dataset)]
    raise NotFoundError(f"no dataset {dataset_id!r}")


def deliver(
    runtime: Runtime,
    dest: str,
    dataset_id: str | None = None,
    *,
    on_dataset: Callable[[DatasetDelivery], None] | None = None,
) -> DeliveryResult:
    """Deliver what changed since the last delivery to ``dest`` (a folder or bucket URL).

    One dataset (``dataset_id``) or every data dataset. Returns, per dataset, the files
    delivered, those unchanged since the last delivery and those held back with their
    ISTP problems; raises :class:`~socstack._exceptions.NotFoundError` for an unknown
    dataset and :class:`~socstack._exceptions.StorageError` for a destination that cannot
    be written. ``on_dataset`` is told of each dataset as it is done (a first delivery
    copies the whole archive: the CLI shows its progress with it).
    """
    chosen = _chosen(runtime, dataset_id)
    url = destination_url(dest)
    store = _open_destination(runtime, url)
    source = ArchiveSource(runtime)
    results = []
    with tempfile.TemporaryDirectory(prefix="deliver-") as scratch:
        for mission, dataset in chosen:
            run = _DatasetRun(
                runtime, store, url, mission=mission, dataset=dataset, scratch=Path(scratch)
            )
            results.append(run.deliver(source))
            if on_dataset is not None:
                on_dataset(results[-1])
    return DeliveryResult(url, tuple(results))


class _DatasetRun:
    """The delivery of one dataset to one destination."""

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        url: str,
        *,
        mission: Mission,
        dataset: Dataset,
        scratch: Path,
    ):
        self.runtime = runtime
        self.store = store
        self.url = url
        self.mission = mission
        self.dataset = dataset
        self.scratch = scratch
        self.delivered: list[str] = []
        self.unchanged: list[str] = []
        self.held: list[HeldFile] = []

    def _result(
        self,
        *,
        written: tuple[str, ...] = (),
        skipped: str | None = None,
        error: str | None = None,
    ) -> DatasetDelivery:
        return DatasetDelivery(
            self.dataset.id,
            self.mission.name,
            self.dataset.product,
            delivered=tuple(self.delivered),
            unchanged=tuple(self.unchanged),
            held=tuple(self.held),
            written=written,
            skipped=skipped,
            error=error,
        )

    def deliver(self, source: ArchiveSource) -> DatasetDelivery:
        """Check and copy what is new, then bring the description and manifest up to date."""
        fmt = self.mission.products[self.dataset.product].format.lower()
        if fmt != _DELIVERED_FORMAT:
            return self._result(skipped=f"its product's files are {fmt}, not CDF (SPDF takes CDF)")
        try:  # before any file: a dataset that cannot be described is not delivered half
            check_describable(self.mission, self.dataset)
        except ConfigError as exc:
            return self._result(error=f"no SPASE description: {exc}")
        released = released_files(self.runtime, self.mission, self.dataset)
        if not released:
            return self._result(skipped="nothing of it is released")
        known = self._rows()
        for file in released:
            row = known.get((file.name, file.sha256))
            if row is not None and row.status == DeliveryStatus.DELIVERED:
                self.unchanged.append(file.name)
            else:
                self._deliver_file(file)
        current = self._current()
        if not current:  # only held files: nothing to list or describe there yet
            return self._result()
        # Described as delivered: the days it holds, as of its last delivered file.
        days = tuple(
            (ns(_midnight(r.partition)), ns(_midnight(r.partition) + _DAY)) for r in current
        )
        document = spase_document(
            self.runtime,
            self.mission,
            self.dataset,
            source=source,
            within=union((), days),
            release_date=max(r.delivered_at or r.checked_at for r in current),
        )
        writer = ChangedWriter(self.store, self.scratch)
        ident = self.dataset.id
        if document is not None:
            writer.put(f"{ident}/{ident}.xml", document)
        manifest = "".join(f"{r.sha256}  {r.name}\n" for r in current)
        writer.put(f"{ident}/{MANIFEST}", manifest.encode())
        return self._result(written=tuple(writer.written))

    def _rows(self) -> dict[tuple[str, str], Delivery]:
        statement = select(Delivery).where(
            (Delivery.destination == self.url) & (Delivery.dataset == self.dataset.id)
        )
        with self.runtime.catalog.session() as session:
            return {(r.name, r.sha256): r for r in session.scalars(statement)}

    def _deliver_file(self, released: ReleasedFile) -> None:
        """Check one file and copy it if it passes; record either outcome."""
        archive = self.runtime.archive
        local = archive.fetch(released.uri, self.scratch / released.name)
        try:
            reasons = [str(problem) for problem in check_istp(local)]
            if not reasons:
                reasons = self._copy(local, released)
        finally:
            if local != archive.local_path(released.uri):
                local.unlink(missing_ok=True)
        if reasons:
            logger.info("held %s: %s", released.name, "; ".join(reasons))
            self.held.append(HeldFile(released.name, tuple(reasons)))
            self._record(released, DeliveryStatus.HELD, reasons)
        else:
            logger.info("delivered %s to %s", released.name, self.url)
            self.delivered.append(released.name)
            self._record(released, DeliveryStatus.DELIVERED, [])

    def _copy(self, local: Path, released: ReleasedFile) -> list[str]:
        """Copy to ``<dataset>/<name>``, unless the bytes are not those the catalog knows."""
        staged = self.store.stage(local, f"{self.dataset.id}/{released.name}")
        if released.sha256 and staged.sha256 != released.sha256:
            self.store.discard(staged)
            return [
                f"file: its archived bytes (sha256 {staged.sha256}) are not those the catalog"
                f" recorded ({released.sha256}); the archive's copy is damaged"
            ]
        try:
            self.store.commit(staged)
        except BaseException:
            self.store.discard(staged)
            raise
        return []

    def _record(self, released: ReleasedFile, status: DeliveryStatus, reasons: list[str]) -> None:
        """Insert or update the file's row (a second delivery at once may insert it first)."""
        for attempt in range(2):
            try:
                self._write_row(released, status, reasons)
                return
            except IntegrityError:
                if attempt:
                    raise

    def _write_row(
        self, released: ReleasedFile, status: DeliveryStatus, reasons: list[str]
    ) -> None:
        now = utcnow()
        with self.runtime.catalog.transaction() as session:
            row = session.scalars(
                select(Delivery).where(
                    (Delivery.destination == self.url)
                    & (Delivery.dataset == self.dataset.id)
                    & (Delivery.name == released.name)
                    & (Delivery.sha256 == released.sha256)
                )
            ).one_or_none()
            if row is None:
                row = Delivery(
                    destination=self.url,
                    mission=self.mission.name,
                    product=self.dataset.product,
                    dataset=self.dataset.id,
                    partition=released.day.date().isoformat(),
                    name=released.name,
                    version=released.version,
                    sha256=released.sha256,
                    size=released.size,
                )
                session.add(row)
            row.status = status
            row.reasons = "\n".join(reasons) or None
            row.checked_at = now
            row.delivered_at = now if status == DeliveryStatus.DELIVERED else None

    def _current(self) -> list[Delivery]:
        """The newest delivered version of each day, by name: what the manifest lists."""
        statement = select(Delivery).where(
            (Delivery.destination == self.url)
            & (Delivery.dataset == self.dataset.id)
            & (Delivery.status == DeliveryStatus.DELIVERED)
        )
        with self.runtime.catalog.session() as session:
            return _newest_per_day(session.scalars(statement))


def _newest_per_day(rows: Iterable[Delivery]) -> list[Delivery]:
    newest: dict[str, Delivery] = {}
    for row in rows:
        current = newest.get(row.partition)
        if current is None or _order(row) > _order(current):
            newest[row.partition] = row
    return sorted(newest.values(), key=lambda r: r.name)


def _midnight(partition: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(partition), dt.time(), dt.UTC)


def _order(row: Delivery) -> tuple[Version, dt.datetime]:
    return Version.parse(row.version), row.delivered_at or row.checked_at
