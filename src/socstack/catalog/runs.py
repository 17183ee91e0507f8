"""The ``runs`` table: what is particular to a notebook run beside its job.

A run is executed as a pipeline :class:`~socstack.catalog.models.Job` (queue
``analysis``), so claiming, heartbeats, the stale-worker requeue, time-outs and the
dependency hash are the pipeline's own. This row keeps what only a run has: the notebook
and its hash, the parameters, who submitted it, its progress through the cells, and the
outputs it left.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from socstack.catalog.models import Base, BigId, utcnow

__all__ = ["Run"]

_Json = JSON().with_variant(JSONB(), "postgresql")


class Run(Base):
    """One execution of a notebook with its parameters, for one submitter."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"), unique=True)
    #: The mission whose library holds the notebook, or "" for the deployment's library.
    mission: Mapped[str] = mapped_column(String(32), default="")
    notebook: Mapped[str] = mapped_column(String(255))
    notebook_sha256: Mapped[str] = mapped_column(String(64))
    #: Where the notebook came from: ``mission``, ``library`` or ``upload``.
    origin: Mapped[str] = mapped_column(String(16))
    parameters: Mapped[dict[str, Any]] = mapped_column(_Json, default=dict)
    submitter: Mapped[str] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cells_done: Mapped[int] = mapped_column(default=0)
    cells_total: Mapped[int] = mapped_column(default=0)
    #: ``[{"name", "kind", "key"}]``: the run's artifacts in the archive, and its products.
    outputs: Mapped[list[dict[str, Any]]] = mapped_column(_Json, default=list)
    #: The archive files the kernel read (names), the provenance of what it published.
    reads: Mapped[list[str]] = mapped_column(_Json, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    #: The kernel's token id (never its secret), revoked when the run ends.
    token_id: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (Index(None, "submitter"), Index(None, "submitted_at"))
