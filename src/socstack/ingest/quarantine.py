"""Quarantine: files that could not enter the archive, kept whole with their reason."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path

from sqlalchemy import select

from socstack._exceptions import FileChanged, FileRejected
from socstack.archive.checksum import sha256_file
from socstack.archive.store import Store, fingerprint
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event
from socstack.catalog.models import FileSource, QuarantinedFile
from socstack.ingest.results import IngestResult, Outcome
from socstack.mission.model import Product

__all__ = ["Quarantine"]

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def storage_name(name: str) -> str:
    """A name safe to store (no path, no odd characters), recognisably the original."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    clean = _UNSAFE.sub("_", base).lstrip(".") or "unnamed"
    return clean[:200]


class Quarantine:
    """Stores rejected files and records why."""

    def __init__(self, catalog: Catalog, store: Store):
        self.catalog = catalog
        self.store = store

    def keep(
        self,
        path: Path,
        name: str,
        source: FileSource,
        reason: FileRejected,
        product: Product | None = None,
        *,
        unchanged: tuple[int, int, int] | None = None,
    ) -> IngestResult:
        """Keep ``path`` in quarantine; the same name and content is kept only once.

        ``unchanged`` is the file's fingerprint when it was judged: if the copy kept is
        of another file (its writer went on meanwhile), nothing is kept and
        :class:`FileChanged` is raised, since the reason would be about other bytes.
        """
        digest = sha256_file(path)
        size = path.stat().st_size
        with self.catalog.session() as session:
            existing = session.scalar(
                select(QuarantinedFile).where(
                    (QuarantinedFile.name == name[:255]) & (QuarantinedFile.sha256 == digest)
                )
            )
        if existing is None:
            now = dt.datetime.now(dt.UTC)
            key = f"{now:%Y/%m/%d}/{uuid.uuid4().hex[:12]}_{storage_name(name)}"
            staged = self.store.stage(path, key)
            try:
                if unchanged is not None and fingerprint(path) != unchanged:
                    raise FileChanged(f"{name} changed while it was being judged; nothing was kept")
                self.store.commit(staged)
            finally:
                self.store.discard(staged)
            with self.catalog.transaction() as session:
                existing = QuarantinedFile(
                    name=name[:255],
                    reason=str(reason),
                    kind=reason.kind,
                    source=source,
                    size=size,
                    sha256=digest,
                    uri=key,
                    mission=product.mission if product else None,
                    product=product.id if product else None,
                )
                session.add(existing)
                session.flush()
                payload = {
                    "name": name,
                    "reason": str(reason),
                    "kind": reason.kind,
                    "id": existing.id,
                }
                append_event(self.catalog, session, "file.quarantined", name[:255], payload)
        return IngestResult(
            name=name,
            outcome=Outcome.QUARANTINED,
            size=size,
            sha256=digest,
            mission=product.mission if product else None,
            product=product.id if product else None,
            quarantine_id=existing.id,
            reason=str(reason),
            kind=reason.kind,
        )

    def entries(self, limit: int = 100, offset: int = 0) -> list[QuarantinedFile]:
        """Quarantined files, newest first."""
        with self.catalog.session() as session:
            return list(
                session.scalars(
                    select(QuarantinedFile)
                    .order_by(QuarantinedFile.id.desc())
                    .limit(limit)
                    .offset(offset)
                )
            )
