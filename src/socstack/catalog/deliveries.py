"""The ``deliveries`` table: what went to each long-term archive, and what was held back.

Why a table and not a listing of the destination: a delivery is incremental (only what
changed since the last one), and knowing what a bucket already holds by listing it is
slow, costs money, and says nothing about the files that were refused. One row per
destination and file: ``delivered`` (copied, with the checksum it was copied with) or
``held`` (it failed the ISTP check SPDF applies, and ``reasons`` says how). A new version
of a day is a new row; the older one stays, as the record of what the archive was given.
A held file that passes later (a fixed checker) becomes ``delivered`` in place.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import BigInteger, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from socstack.catalog.models import Base, BigId, stored_enum, utcnow

__all__ = ["Delivery", "DeliveryStatus"]


class DeliveryStatus(enum.StrEnum):
    """Where a file stands with one destination."""

    DELIVERED = "delivered"  # copied; listed in the destination's manifest
    HELD = "held"  # failed the check; not copied (``reasons`` says why)


class Delivery(Base):
    """One file of one dataset and one destination: delivered, or held with its reasons."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: The destination's URL (a folder as ``file://``, or ``s3://bucket/prefix``).
    destination: Mapped[str] = mapped_column(String(1024))
    mission: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str] = mapped_column(String(64))
    #: The file's day, ``YYYY-MM-DD``.
    partition: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[DeliveryStatus] = mapped_column(stored_enum(DeliveryStatus))
    #: Why a held file was not delivered: one ISTP problem a line.
    reasons: Mapped[str | None] = mapped_column(Text)
    #: When the file was checked last (its row written or brought up to date).
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("destination", "dataset", "name", "sha256"),
        Index(None, "destination", "dataset", "status"),
    )

    def __repr__(self) -> str:
        return f"<Delivery {self.name} {self.status} {self.destination}>"
