"""The one ingest path behind every door (CLI, upload, drop box, harvest, pipeline).

For each file:

1. the name must match exactly one product's pattern;
2. a name already archived is an idempotent no-op if the checksum matches, and is
   refused (nothing overwritten) if it does not;
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
import datetime as dt
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socstack._exceptions import ConflictError, FileRejected, FormatError
from socstack.archive.checksum import sha256_file
from socstack.archive.layout import archive_key
from socstack.archive.store import Staged, Store
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event, file_payload
from socstack.catalog.models import File, FileSource, FileStatus, utcnow
from socstack.formats import registry
from socstack.formats.base import Inspection
from socstack.ingest.quarantine import Quarantine
from socstack.ingest.results import IngestResult, Outcome
from socstack.mission.loader import MissionRegistry
from socstack.mission.model import Product
from socstack.mission.patterns import FileName

__all__ = ["Ingestor"]

logger = logging.getLogger(__name__)

#: Files from this size on are inspected while they are copied (see _stage_and_inspect).
PARALLEL_INSPECTION_BYTES = 8 << 20

#: How far a daily file's content may reach beyond its day (clock drift, packets that
#: straddle midnight) before the name and the content are said to disagree.
COVERAGE_SLACK = dt.timedelta(hours=1)


@dataclass
class _Existing:
    id: int
    sha256: str


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
        return day, None
    start = inspection.start or day
    stop = inspection.stop or day + dt.timedelta(days=1)
    if start < day - COVERAGE_SLACK or stop > day + dt.timedelta(days=1) + COVERAGE_SLACK:
        raise FormatError(
            f"content covers {start:%Y-%m-%dT%H:%M:%SZ} to {stop:%Y-%m-%dT%H:%M:%SZ},"
            f" outside the day {name.date.isoformat()} in its name"
        )
    return start, stop


class Ingestor:
    """Archives files, or quarantines them with a reason."""

    def __init__(
        self, catalog: Catalog, archive: Store, quarantine: Store, missions: MissionRegistry
    ):
        self.catalog = catalog
        self.archive = archive
        self.missions = missions
        self.quarantine = Quarantine(catalog, quarantine)

    def ingest(self, path: Path, *, source: FileSource, name: str | None = None) -> IngestResult:
        """Ingest one local file; ``name`` overrides the file's own (uploads).

        Never raises for a bad file (the result says quarantined and why); raises
        ``StorageError`` or ``CatalogError`` when the archive or catalog is unavailable,
        in which case nothing changed and the caller may retry.
        """
        name = name or path.name
        product: Product | None = None
        size = path.stat().st_size
        try:
            product, parsed = self.missions.parse_name(name)
            if size == 0:
                raise FormatError("empty file")
            existing = self._lookup(name)
            if existing is not None:
                return self._same_or_conflict(path, name, size, product, existing)
            staged, inspection = self._stage_and_inspect(path, size, product, parsed)
            try:
                start, stop = coverage(product, parsed, inspection)
                return self._commit(
                    staged,
                    name=name,
                    product=product,
                    parsed=parsed,
                    inspection=inspection,
                    start=start,
                    stop=stop,
                    source=source,
                )
            finally:
                self.archive.discard(staged)
        except FileRejected as exc:
            logger.info("quarantined %s: %s", name, exc)
            return self.quarantine.keep(path, name, source, exc, product)

    def _stage_and_inspect(
        self, path: Path, size: int, product: Product, parsed: FileName
    ) -> tuple[Staged, Inspection]:
        """Copy and checksum the file while its content is inspected.

        Large files overlap the two (the copy and the checksum run outside the GIL), so
        a big delivery costs little more than a plain copy; small files do one after
        the other, which is quicker than starting a thread.
        """
        reader = registry.get(product.format)
        key = archive_key(parsed)
        if size < PARALLEL_INSPECTION_BYTES:
            inspection = reader.inspect(path, product)
            return self.archive.stage(path, key), inspection
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="stage") as pool:
            staging = pool.submit(self.archive.stage, path, key)
            try:
                inspection = reader.inspect(path, product)
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

    def _same_or_conflict(
        self, path: Path, name: str, size: int, product: Product, existing: _Existing
    ) -> IngestResult:
        digest = sha256_file(path)
        if digest != existing.sha256:
            raise ConflictError(
                f"{name} is archived already with other content (sha256 {existing.sha256[:12]}…,"
                f" this file {digest[:12]}…); nothing was overwritten. Deliver a new version."
            )
        return IngestResult(
            name=name,
            outcome=Outcome.UNCHANGED,
            size=size,
            sha256=digest,
            mission=product.mission,
            product=product.id,
            file_id=existing.id,
        )

    def _commit(
        self,
        staged: Staged,
        *,
        name: str,
        product: Product,
        parsed: FileName,
        inspection: Inspection,
        start: dt.datetime,
        stop: dt.datetime | None,
        source: FileSource,
    ) -> IngestResult:
        try:
            with self.catalog.transaction() as session:
                file_id = self._insert(
                    session,
                    staged,
                    name=name,
                    product=product,
                    parsed=parsed,
                    inspection=inspection,
                    start=start,
                    stop=stop,
                    source=source,
                )
                self.archive.commit(staged)
        except IntegrityError:
            # The unique name decides between concurrent ingests of one name, on every
            # backend: the loser's insert fails here, before its file was renamed.
            existing = self._lookup_row(name)
            if existing.sha256 != staged.sha256:
                raise ConflictError(
                    f"{name} was archived meanwhile with other content; nothing was overwritten"
                ) from None
            return IngestResult(
                name=name,
                outcome=Outcome.UNCHANGED,
                size=staged.size,
                sha256=staged.sha256,
                mission=product.mission,
                product=product.id,
                file_id=existing.id,
            )
        logger.info("archived %s (%d bytes)", name, staged.size)
        return IngestResult(
            name=name,
            outcome=Outcome.ARCHIVED,
            size=staged.size,
            sha256=staged.sha256,
            mission=product.mission,
            product=product.id,
            file_id=file_id,
        )

    def _lookup_row(self, name: str) -> _Existing:
        found = self._lookup(name)
        if found is None:  # pragma: no cover - the conflicting row was rolled back
            raise ConflictError(f"{name} was being archived by another process; try again")
        return found

    def _insert(
        self,
        session: Session,
        staged: Staged,
        *,
        name: str,
        product: Product,
        parsed: FileName,
        inspection: Inspection,
        start: dt.datetime,
        stop: dt.datetime | None,
        source: FileSource,
    ) -> int:
        """Insert the catalog row and its events; return the row's id.

        Core statements rather than ORM objects: this runs once per file and the unit of
        work's bookkeeping would cost more than the database does.
        """
        version = parsed.version
        row: dict[str, Any] = {
            "name": name,
            "mission": product.mission,
            "product": product.id,
            "instrument": product.instrument,
            "level": product.level,
            "descriptor": product.descriptor,
            "partition": parsed.partition,
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
            "source": source,
            "ingested_at": utcnow(),
        }
        # One writer per partition at a time: the newest-version decision below must see
        # every committed sibling.
        partition = f"partition:{product.key}/{parsed.partition}"
        file_id = self.catalog.insert(session, File, row, lock=partition)
        superseded = self._supersede(session, file_id, row)
        append_event(self.catalog, session, "file.archived", name, file_payload(row))
        for old in superseded:
            append_event(self.catalog, session, "file.superseded", old, {"name": old, "by": name})
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
