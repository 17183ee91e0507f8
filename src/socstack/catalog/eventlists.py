"""The ``event_lists`` table: event lists a person made, beside those the rules make.

A detector rule's list is a product (versioned files with provenance). A catalog someone
uploads, or what a similarity search found, belongs to a person instead: its row keeps
who made it, from what (the search's request and the archive files it read, so that it is
shown to no one who may not read them), and where its events are stored in the archive.
A search is executed as a pipeline :class:`~socstack.catalog.models.Job` (queue
``mining``), so claiming, heartbeats, retries and time-outs are the pipeline's own.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from socstack.catalog.models import Base, BigId, utcnow

__all__ = ["EventListRow"]

_Json = JSON().with_variant(JSONB(), "postgresql")


class EventListRow(Base):
    """One uploaded catalog or one similarity search and its result."""

    __tablename__ = "event_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    #: ``upload`` or ``search``.
    kind: Mapped[str] = mapped_column(String(16))
    mission: Mapped[str] = mapped_column(String(32), default="")
    owner: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The search's job (None for an upload).
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), unique=True)
    #: A search's request: dataset, parameters, query interval, range, k.
    request: Mapped[dict[str, Any]] = mapped_column(_Json, default=dict)
    #: Archive key of the events (JSON, see socstack.mining.catalogs); None until made.
    key: Mapped[str | None] = mapped_column(String(255))
    sha256: Mapped[str | None] = mapped_column(String(64))
    events: Mapped[int] = mapped_column(default=0)
    start: Mapped[dt.datetime | None]
    stop: Mapped[dt.datetime | None]
    #: The archive files a search read (names): who may see the result.
    reads: Mapped[list[str]] = mapped_column(_Json, default=list)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "owner"), Index(None, "created_at"))
