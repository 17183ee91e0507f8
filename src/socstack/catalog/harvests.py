"""The harvest tables: what was pulled from each peer, day by day, and how it went.

A harvested product is a peer's HAPI dataset made into daily files of the archive. Its
source row keeps what the peer last said (its ``info``'s schema hash, its
``modificationDate``) and the interface version the schema maps to; a day row keeps the
checksum of the records archived for that day, so a later pass knows a changed day from
an unchanged one without keeping the records, and a crash mid-harvest resumes where
the rows end. A failed day keeps its reason (the peer's error, a truncated response) for
``/api/harvest`` and the next pass.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socstack.catalog.models import Base, BigId, utcnow

__all__ = ["HarvestDay", "HarvestSourceRow"]


class HarvestSourceRow(Base):
    """One harvested product: the peer's dataset and what it last said."""

    __tablename__ = "harvest_sources"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(64))
    peer: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(512))
    dataset: Mapped[str] = mapped_column(String(128))
    #: The sha256 of the parameters' schema (names, types, units, sizes, fill, bins).
    info_hash: Mapped[str] = mapped_column(String(64), default="")
    #: The interface version (X) the current schema is archived under.
    interface: Mapped[int] = mapped_column(default=1)
    #: The peer's modificationDate at the last pass that finished ("" if none given).
    peer_modified: Mapped[str] = mapped_column(String(40), default="")
    #: Whether the peer's data responses carry Last-Modified: then a day archived is
    #: checked with If-Modified-Since (a 304 costs no records), not fetched again.
    conditional: Mapped[bool] = mapped_column(default=False)
    last_pass_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("mission", "product"),)


class HarvestDay(Base):
    """One day of a harvested product: its records' checksum and the file made of them."""

    __tablename__ = "harvest_days"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(64))
    #: The day, ``YYYY-MM-DD``.
    partition: Mapped[str] = mapped_column(String(10))
    #: archived, unchanged, empty (the peer had no records) or failed.
    status: Mapped[str] = mapped_column(String(16))
    #: The sha256 of the day's records as fetched (times and values); "" until fetched.
    checksum: Mapped[str] = mapped_column(String(64), default="")
    records: Mapped[int] = mapped_column(default=0)
    interface: Mapped[int] = mapped_column(default=1)
    #: The archive file made of the records (the newest version).
    file: Mapped[str | None] = mapped_column(String(255))
    #: When the records were asked for (a change after it is newer than them).
    fetched_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("mission", "product", "partition"),
        Index(None, "mission", "product", "status"),
    )
