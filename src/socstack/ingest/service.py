"""The one ingest path behind every door (CLI, upload, drop box, harvest, pipeline).

For each file:

1. the name must match exactly one product's pattern;
2. a name already archived is an idempotent no-op if the checksum matches, and is
   refused (nothing overwritten) if it does not. A name without a version (a product
   whose pattern has none, as ground stations deliver) is given one first: the
   product's initial version, or the next revision when its content differs from the
   newest of its partition, so a redelivery is a new version, not a conflict;
3. the content must open with the product's reader, and its time coverage must agree
   with the partition in the name;
4. the file is staged (copied and checksummed beside its final place), then one
   database transaction inserts the catalog row, marks older versions of the partition
   superseded, appends ``file.archived``, renames the staged file into place and
   commits. Either all of that happens or none of it.

A file that fails any step is kept in quarantine with its reason; nothing is dropped.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socstack._exceptions import (
    ConflictError,
    FileChanged,
    FileRejected,
    FormatError,
    StorageError,
)
from socstack.archive.checksum import sha256_file
from socstack.archive.layout import archive_key
from socstack.archive.store import Staged, Store, fingerprint
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event, file_payload
from socstack.catalog.models import File, FileSource, FileStatus, Provenance, utcnow
from socstack.formats.base import Inspection
from socstack.ingest.quarantine import Quarantine
from socstack.ingest.results import IngestResult, Lineage, Outcome
from socstack.mission.loader import MissionRegistry
from socstack.mission.model import Product
from socstack.mission.patterns import FileName
from socstack.mission.versions import Version

__all__ = ["Ingestor"]

logger = logging.getLogger(__name__)

#: Tries to name a versionless delivery when others of its name arrive at the same time.
VERSIONLESS_ATTEMPTS = 5

#: Files from this size on are inspected while they are copied (see _stage_and_inspect).
PARALLEL_INSPECTION_BYTES = 8 << 20

#: How far a daily file's content may reach beyond its day (clock drift, packets that
#: straddle midnight) before the name and the content are said to disagree.
COVERAGE_SLACK = dt.timedelta(hours=1)


@dataclass
class _Existing:
    id: int
    sha256: str


@dataclass(frozen=True)
class _Delivery:
    """A file that arrived, under the product its name matched."""

    path: Path
    name: str
    size: int
    source: FileSource
    product: Product
    parsed: FileName
    lineage: Lineage | None = None

    def result(self, outcome: Outcome, sha256: str, file_id: int) -> IngestResult:
        return IngestResult(
            name=self.name,
            outcome=outcome,
            size=self.size,
            sha256=sha256,
            mission=self.product.mission,
            product=self.product.id,
            file_id=file_id,
        )


def _check_unchanged(path: Path, name: str, before: tuple[int, int, int]) -> None:
    """Raise :class:`FileChanged` if ``path`` is no longer the file first seen."""
    if fingerprint(path) != before:
        raise FileChanged(f"{name} changed while it was being ingested; nothing was kept")


def _midnight(date: dt.date) -> dt.datetime:
    return dt.datetime(date.year, date.month, date.day, tzinfo=dt.UTC)


def coverage(
    product: Product, name: FileName, inspection: Inspection
) -> tuple[dt.datetime, dt.datetime | None]:
    """The file's time coverage, checked against the partition its name gives.

    Raises
    ------
    FormatError
        If a daily file's content lies outside its day (beyond :data:`COVERAGE_SLACK`).
    """
    day = _midnight(name.date)
    if product.partition == "valid_from":
        return day, _valid_until(product, name, inspection)
    start = inspection.start or day
    stop = inspection.stop or day + dt.timedelta(days=1)
    if start < day - COVERAGE_SLACK or stop > day + dt.timedelta(days=1) + COVERAGE_SLACK:
        raise FormatError(
            f"content covers {start:%Y-%m-%dT%H:%M:%SZ} to {stop:%Y-%m-%dT%H:%M:%SZ},"
            f" outside the day {name.date.isoformat()} in its name"
        )
    return start, stop


def _valid_until(product: Product, name: FileName, inspection: Inspection) -> dt.datetime | None:
    """A calibration's end of validity (exclusive): from its name, its content or the YAML.

    Raises
    ------
    FormatError
        If the validity ends before it starts.
    """
    until: dt.datetime | None = None
    if name.until is not None:
        until = _midnight(name.until) + dt.timedelta(days=1)
    elif inspection.stop is not None:
        until = inspection.stop
    elif product.validity_days is not None:
        until = _midnight(name.date) + dt.timedelta(days=product.validity_days)
    if until is not None and until <= _midnight(name.date):
        raise FormatError(
            f"valid from {name.date.isoformat()} but only until {until:%Y-%m-%dT%H:%M:%SZ}"
        )
    return until


class Ingestor:
    """Archives files, or quarantines them with a reason."""

    def __init__(
        self, catalog: Catalog, archive: Store, quarantine: Store, missions: MissionRegistry
    ):
        self.catalog = catalog
        self.archive = archive
        self.missions = missions
        self.quarantine = Quarantine(catalog, quarantine)

    def ingest(
        self,
        path: Path,
        *,
        source: FileSource,
        name: str | None = None,
        lineage: Lineage | None = None,
    ) -> IngestResult:
        """Ingest one local file; ``name`` overrides the file's own (uploads).

        Pipeline outputs pass their ``lineage``: the producing job, the code version and
        the input files, stored with the file as its provenance.

        Never raises for a bad file (the result says quarantined and why); raises
        ``StorageError`` or ``CatalogError`` when the archive or catalog is unavailable,
        in which case nothing changed and the caller may retry. Raises ``FileChanged``
        (a ``StorageError``) when the file changed, was replaced or went away while it
        was being read: its writer is not done, so it is neither archived nor
        quarantined, and the caller tries again once it holds still.
        """
        name = name or path.name
        product: Product | None = None
        try:
            before = fingerprint(path)
            try:
                product, parsed = self.missions.parse_name(name)
                size = before[0]
                if size == 0:
                    raise FormatError("empty file")
                for attempt in range(VERSIONLESS_ATTEMPTS):
                    delivery = _Delivery(path, name, size, source, product, parsed, lineage)
                    try:
                        return self._ingest(delivery, before)
                    except ConflictError:
                        if parsed.versioned or attempt == VERSIONLESS_ATTEMPTS - 1:
                            raise
                        # Another delivery of this versionless name took the next version
                        # meanwhile: decide again from what is archived now.
                raise AssertionError("unreachable")  # pragma: no cover
            except FileRejected as exc:
                # A verdict on a file its writer is still changing would be about content
                # that never existed whole: wait for the file to hold still instead. The
                # quarantine checks again once it has its copy.
                _check_unchanged(path, name, before)
                logger.info("quarantined %s: %s", name, exc)
                return self.quarantine.keep(path, name, source, exc, product, unchanged=before)
        except FileNotFoundError as exc:
            if path.exists():  # something else vanished (a staged temporary): a store error
                raise StorageError(f"cannot archive {name}: {exc}") from exc
            gone = f"{name} went away before it was read whole; nothing was kept"
            raise FileChanged(gone) from exc

    def _ingest(self, delivery: _Delivery, before: tuple[int, int, int]) -> IngestResult:
        if not delivery.parsed.versioned:
            versioned = self._version_delivery(delivery)
            if isinstance(versioned, IngestResult):
                return versioned
            delivery = versioned
        existing = self._lookup(delivery.name)
        if existing is not None:
            return self._same_or_conflict(delivery, existing)
        staged, inspection = self._stage_and_inspect(delivery)
        try:
            _check_unchanged(delivery.path, delivery.name, before)
            return self._commit(delivery, staged, inspection)
        finally:
            self.archive.discard(staged)

    def _version_delivery(self, delivery: _Delivery) -> _Delivery | IngestResult:
        """Name a delivery that came without a version, from what its partition holds.

        The first delivery of a partition gets the product's initial version; one whose
        content differs from the newest archived gets the next revision (the newest is
        then superseded as usual); the same content again is unchanged.
        """
        product, parsed = delivery.product, delivery.parsed
        query = (
            select(
                File.id,
                File.name,
                File.sha256,
                File.version_major,
                File.version_minor,
                File.version_patch,
            )
            .where(
                (File.mission == product.mission)
                & (File.product == product.id)
                & (File.partition == parsed.partition)
            )
            .order_by(
                File.version_major.desc(), File.version_minor.desc(), File.version_patch.desc()
            )
            .limit(1)
        )
        with self.catalog.connect() as connection:
            newest = connection.execute(query).first()
        version = parsed.version
        if newest is not None:
            digest = sha256_file(delivery.path)
            if digest == newest.sha256:
                same = dataclasses.replace(delivery, name=newest.name)
                return same.result(Outcome.UNCHANGED, digest, newest.id)
            version = Version(
                newest.version_major, newest.version_minor, newest.version_patch
            ).bump("revision")
        named = product.file_name(parsed.date, version, parsed.until)
        return dataclasses.replace(delivery, name=named.name, parsed=named)

    def _stage_and_inspect(self, delivery: _Delivery) -> tuple[Staged, Inspection]:
        """Copy and checksum the file while its content is inspected.

        Large files overlap the two (the copy and the checksum run outside the GIL), so
        a big delivery costs little more than a plain copy; small files do one after
        the other, which is quicker than starting a thread.
        """
        reader = delivery.product.reader
        key = archive_key(delivery.parsed)
        if delivery.size < PARALLEL_INSPECTION_BYTES:
            inspection = reader.inspect(delivery.path, delivery.product)
            return self.archive.stage(delivery.path, key), inspection
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage") as pool:
            staging = pool.submit(self.archive.stage, delivery.path, key)
            try:
                inspection = reader.inspect(delivery.path, delivery.product)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.archive.discard(staging.result())
                raise
            return staging.result(), inspection

    def _lookup(self, name: str) -> _Existing | None:
        query = select(File.id, File.sha256).where(File.name == name)
        with self.catalog.connect() as connection:
            row = connection.execute(query).first()
        return _Existing(row.id, row.sha256) if row else None

    def _same_or_conflict(self, delivery: _Delivery, existing: _Existing) -> IngestResult:
        digest = sha256_file(delivery.path)
        if digest != existing.sha256:
            raise ConflictError(
                f"{delivery.name} is archived already with other content (sha256"
                f" {existing.sha256[:12]}…, this file {digest[:12]}…); nothing was"
                " overwritten. Deliver a new version."
            )
        return delivery.result(Outcome.UNCHANGED, digest, existing.id)

    def _commit(self, delivery: _Delivery, staged: Staged, inspection: Inspection) -> IngestResult:
        start, stop = coverage(delivery.product, delivery.parsed, inspection)
        row = _catalog_row(delivery, staged, inspection, start, stop)
        try:
            with self.catalog.transaction() as session:
                file_id = self._insert(session, delivery, row)
                self.archive.commit(staged)
        except IntegrityError:
            # The unique name decides between concurrent ingests of one name, on every
            # backend: the loser's insert fails here, before its file was renamed.
            existing = self._lookup(delivery.name)
            if existing is None:  # pragma: no cover - the winner rolled back meanwhile
                raise ConflictError(f"{delivery.name} was being archived; try again") from None
            if existing.sha256 != staged.sha256:
                raise ConflictError(
                    f"{delivery.name} was archived meanwhile with other content;"
                    " nothing was overwritten"
                ) from None
            return delivery.result(Outcome.UNCHANGED, staged.sha256, existing.id)
        logger.info("archived %s (%d bytes)", delivery.name, staged.size)
        return delivery.result(Outcome.ARCHIVED, staged.sha256, file_id)

    def _insert(self, session: Session, delivery: _Delivery, row: dict[str, Any]) -> int:
        """Insert the catalog row and its events; return the row's id."""
        # One writer per partition at a time: the newest-version decision below must see
        # every committed sibling.
        partition = f"partition:{delivery.product.key}/{delivery.parsed.partition}"
        file_id = self.catalog.insert(session, File, row, lock=partition)
        if delivery.lineage is not None and delivery.lineage.inputs:
            session.execute(
                insert(Provenance),
                [
                    {"output_id": file_id, "input_id": i}
                    for i in sorted(set(delivery.lineage.inputs))
                ],
            )
        superseded = self._supersede(session, file_id, row)
        append_event(self.catalog, session, "file.archived", delivery.name, file_payload(row))
        for old in superseded:
            payload = {"name": old, "by": delivery.name}
            append_event(self.catalog, session, "file.superseded", old, payload)
        return file_id

    def _supersede(self, session: Session, file_id: int, row: dict[str, Any]) -> list[str]:
        """Keep one archived version per partition: the newest. Return what was superseded."""
        siblings = session.execute(
            select(
                File.id, File.name, File.version_major, File.version_minor, File.version_patch
            ).where(
                (File.mission == row["mission"])
                & (File.product == row["product"])
                & (File.partition == row["partition"])
                & (File.status == FileStatus.ARCHIVED)
                & (File.id != file_id)
            )
        ).all()
        mine = (row["version_major"], row["version_minor"], row["version_patch"])
        if any(tuple(s[2:]) > mine for s in siblings):
            # A late delivery of an older version: kept, but not the one served.
            row["status"] = FileStatus.SUPERSEDED
            session.execute(
                update(File).where(File.id == file_id).values(status=FileStatus.SUPERSEDED)
            )
            return []
        older = [s for s in siblings if tuple(s[2:]) < mine]
        if older:
            session.execute(
                update(File)
                .where(File.id.in_([s.id for s in older]))
                .values(status=FileStatus.SUPERSEDED)
            )
        return [s.name for s in older]


def _catalog_row(
    delivery: _Delivery,
    staged: Staged,
    inspection: Inspection,
    start: dt.datetime,
    stop: dt.datetime | None,
) -> dict[str, Any]:
    """The catalog row of an archived file.

    Plain values, inserted with Core rather than the ORM: this runs once per file, and
    the unit of work's bookkeeping would cost more than the database does.
    """
    product, version = delivery.product, delivery.parsed.version
    return {
        "name": delivery.name,
        "mission": product.mission,
        "product": product.id,
        "instrument": product.instrument,
        "level": product.level,
        "descriptor": product.descriptor,
        "partition": delivery.parsed.partition,
        "start": start,
        "stop": stop,
        "version": str(version),
        "version_major": version.major,
        "version_minor": version.minor,
        "version_patch": version.patch,
        "format": product.format,
        "size": staged.size,
        "sha256": staged.sha256,
        "uri": staged.key,
        "records": inspection.records,
        "status": FileStatus.ARCHIVED,
        "source": delivery.source,
        "ingested_at": utcnow(),
        "job_id": delivery.lineage.job_id if delivery.lineage else None,
        "code_version": delivery.lineage.code_version if delivery.lineage else None,
        "quality": delivery.lineage.quality if delivery.lineage else None,
    }
