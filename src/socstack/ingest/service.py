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

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socstack._exceptions import ConflictError, FileRejected, FormatError
from socstack.archive.checksum import sha256_file
from socstack.archive.layout import archive_key
from socstack.archive.store import Staged, Store
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event, file_payload
from socstack.catalog.models import File, FileSource, FileStatus
from socstack.formats import registry
from socstack.formats.base import Inspection
from socstack.ingest.quarantine import Quarantine
from socstack.ingest.results import IngestResult, Outcome
from socstack.mission.loader import MissionRegistry
from socstack.mission.model import Product
from socstack.mission.patterns import FileName

__all__ = ["Ingestor"]

logger = logging.getLogger(__name__)

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
            inspection = registry.get(product.format).inspect(path, product)
            start, stop = coverage(product, parsed, inspection)
            staged = self.archive.stage(path, archive_key(parsed))
            try:
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

    def _lookup(self, name: str) -> _Existing | None:
        with self.catalog.session() as session:
            row = session.execute(select(File.id, File.sha256).where(File.name == name)).first()
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
        file_id: int | None = None
        try:
            with self.catalog.transaction() as session:
                # Checked again under the write lock: another process may have won.
                existing = session.execute(
                    select(File.id, File.sha256).where(File.name == name)
                ).first()
                if existing is None:
                    row = self._insert(
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
                    file_id = row.id
        except IntegrityError:
            # PostgreSQL: a concurrent transaction inserted the same name first.
            existing = self._lookup_row(name)
        if existing is not None:
            if existing.sha256 != staged.sha256:
                raise ConflictError(
                    f"{name} was archived meanwhile with other content; nothing was overwritten"
                )
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

    def _lookup_row(self, name: str) -> _Existing | None:
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
    ) -> File:
        version = parsed.version
        row = File(
            name=name,
            mission=product.mission,
            product=product.id,
            instrument=product.instrument,
            level=product.level,
            descriptor=product.descriptor,
            partition=parsed.partition,
            start=start,
            stop=stop,
            version=str(version),
            version_major=version.major,
            version_minor=version.minor,
            version_patch=version.patch,
            format=product.format,
            size=staged.size,
            sha256=staged.sha256,
            uri=staged.key,
            records=inspection.records,
            status=FileStatus.ARCHIVED,
            source=source,
        )
        session.add(row)
        session.flush()
        superseded = self._supersede(session, row)
        append_event(self.catalog, session, "file.archived", name, file_payload(row))
        for old in superseded:
            append_event(self.catalog, session, "file.superseded", old, {"name": old, "by": name})
        session.flush()  # every write must fail here, before the file is renamed into place
        return row

    def _supersede(self, session: Session, row: File) -> list[str]:
        """Keep one archived version per partition: the newest. Return what was superseded."""
        same = (
            (File.mission == row.mission)
            & (File.product == row.product)
            & (File.partition == row.partition)
            & (File.status == FileStatus.ARCHIVED)
            & (File.id != row.id)
        )
        mine = tuple_(row.version_major, row.version_minor, row.version_patch)
        theirs = tuple_(File.version_major, File.version_minor, File.version_patch)
        newer = session.scalar(select(File.id).where(same & (theirs > mine)).limit(1))
        if newer is not None:
            row.status = FileStatus.SUPERSEDED  # a late delivery of an older version
            return []
        older = list(session.scalars(select(File.name).where(same & (theirs < mine))))
        if older:
            session.execute(
                update(File).where(same & (theirs < mine)).values(status=FileStatus.SUPERSEDED)
            )
        return older
