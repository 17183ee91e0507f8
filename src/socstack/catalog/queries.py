"""Queries on the catalog that more than one service asks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from socstack.catalog.models import Event, File, FileStatus
from socstack.mission.versions import Version

__all__ = ["FileQuery", "events_after", "find_files"]


@dataclass(frozen=True)
class FileQuery:
    """Filters of a file search; ``None`` means no filter.

    ``version`` is ``"latest"`` (the archived version of each partition), ``"all"``
    (superseded versions too) or one exact version.
    """

    mission: str | None = None
    instrument: str | None = None
    level: str | None = None
    product: str | None = None
    start: dt.datetime | None = None
    stop: dt.datetime | None = None
    version: str | Version = "latest"
    ingested_since: dt.datetime | None = None

    def statement(self) -> Select[tuple[File]]:
        """The SELECT for these filters, without order or paging."""
        query = select(File)
        for column, value in (
            (File.mission, self.mission),
            (File.instrument, self.instrument),
            (File.level, self.level),
            (File.product, self.product),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.version == "latest":
            query = query.where(File.status == FileStatus.ARCHIVED)
        elif self.version == "all":
            query = query.where(File.status.in_([FileStatus.ARCHIVED, FileStatus.SUPERSEDED]))
        else:
            query = query.where(File.version == str(self.version))
        # Overlap with [start, stop): calibration files (no stop) stay valid onwards.
        if self.stop is not None:
            query = query.where(File.start < self.stop)
        if self.start is not None:
            query = query.where(or_(File.stop.is_(None), File.stop >= self.start))
        if self.ingested_since is not None:
            query = query.where(File.ingested_at >= self.ingested_since)
        return query


def find_files(
    session: Session,
    query: FileQuery,
    *,
    limit: int,
    offset: int = 0,
    where: ColumnElement[bool] | None = None,
) -> tuple[list[File], int]:
    """Matching files ordered by start time and name, and how many match in all.

    ``where`` is a further condition (what the asker may see): the count and the page
    both carry it, so a page is full and the total counts only what may be listed.
    """
    statement = query.statement()
    if where is not None:
        statement = statement.where(where)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.scalars(
        statement.order_by(File.start, File.name, File.id).limit(limit).offset(offset)
    )
    return list(rows), int(total)


def events_after(
    session: Session, after: int, *, limit: int, kind: str | None = None
) -> list[Event]:
    """Events with an id above ``after``, oldest first."""
    statement = select(Event).where(Event.id > after)
    if kind is not None:
        statement = statement.where(Event.kind == kind)
    return list(session.scalars(statement.order_by(Event.id).limit(limit)))
