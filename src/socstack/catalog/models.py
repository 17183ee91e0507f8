"""The catalog's tables: the system of record of files, provenance, jobs and events.

Times are stored as naive UTC (the same on SQLite and PostgreSQL) and come back as
aware UTC datetimes; the :class:`UTCDateTime` type does both and refuses naive input so
that local times never slip in.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "Event",
    "File",
    "FileSource",
    "FileStatus",
    "Job",
    "JobStatus",
    "PlannerState",
    "Provenance",
    "QuarantinedFile",
    "utcnow",
]

# Portable primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")
JsonData = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    """Now, as an aware UTC datetime."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out; naive UTC in the database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert to naive UTC; refuse naive input."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give times in UTC")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Mark database values as UTC."""
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with named constraints (so migrations can alter them on SQLite)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JsonData,
    }


class FileStatus(enum.StrEnum):
    """Where a catalogued file stands."""

    ARCHIVED = "archived"  # the newest version of its partition
    SUPERSEDED = "superseded"  # a newer version of its partition exists; kept, not served
    QUARANTINED = "quarantined"  # withdrawn by an operator after it was archived


class FileSource(enum.StrEnum):
    """How a file arrived."""

    CLI = "cli"
    UPLOAD = "upload"
    DROPBOX = "dropbox"
    HARVEST = "harvest"
    PIPELINE = "pipeline"


class JobStatus(enum.StrEnum):
    """States of a processing job."""

    BLOCKED = "blocked"  # waiting for required inputs (listed in ``missing``)
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SUPERSEDED = "superseded"  # replaced by a newer job for its rule and day before it ran
    SKIPPED = "skipped"  # the rule said its partition has nothing to make (and why)


#: The states a job does not leave by itself (a retry moves failed ones back to queued).
JOB_ENDED = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.TIMED_OUT,
        JobStatus.SUPERSEDED,
        JobStatus.SKIPPED,
    }
)


def stored_enum(kind: type[enum.StrEnum]) -> Enum:
    """A string enum column: stored as plain strings, so a new state needs no migration."""
    return Enum(kind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class File(Base):
    """A file in the archive."""

    __tablename__ = "files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    mission: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(64))
    instrument: Mapped[str] = mapped_column(String(32))
    level: Mapped[str] = mapped_column(String(32))
    descriptor: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(32))
    start: Mapped[dt.datetime | None]
    stop: Mapped[dt.datetime | None]
    version: Mapped[str] = mapped_column(String(32))
    version_major: Mapped[int]
    version_minor: Mapped[int]
    version_patch: Mapped[int]
    format: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(String(1024))
    records: Mapped[int | None]
    status: Mapped[FileStatus] = mapped_column(stored_enum(FileStatus), default=FileStatus.ARCHIVED)
    source: Mapped[FileSource] = mapped_column(stored_enum(FileSource))
    ingested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"))
    code_version: Mapped[str | None] = mapped_column(String(32))
    quality: Mapped[int | None]

    __table_args__ = (
        Index(None, "mission", "product", "partition"),
        Index(None, "mission", "instrument", "level", "status"),
        Index(None, "start", "stop"),
        Index(None, "ingested_at"),
    )

    def __repr__(self) -> str:
        return f"<File {self.name} {self.status}>"


class Provenance(Base):
    """An edge of the provenance graph: ``output`` was made from ``input``."""

    __tablename__ = "provenance"

    output_id: Mapped[int] = mapped_column(ForeignKey("files.id"), primary_key=True)
    input_id: Mapped[int] = mapped_column(ForeignKey("files.id"), primary_key=True)

    __table_args__ = (Index(None, "input_id"),)


#: The dependency hash of a blocked job: one placeholder per rule and partition, which
#: becomes the real job (with the real hash) once every required input is there.
BLOCKED_HASH = "blocked"


class Job(Base):
    """A processing job: one rule for one partition with one set of inputs.

    The catalog, not the broker, is the system of record: a job is claimed by the worker
    that runs it (``running``, with a heartbeat), so a lost or duplicated broker message
    is harmless; the planner re-sends queued jobs and requeues those whose worker died.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(32))
    dependency_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[JobStatus] = mapped_column(stored_enum(JobStatus))
    inputs: Mapped[list[str]] = mapped_column(JsonData, default=list)
    missing: Mapped[list[str]] = mapped_column(JsonData, default=list)
    outputs: Mapped[list[str]] = mapped_column(JsonData, default=list)
    code_version: Mapped[str] = mapped_column(String(32))
    quality: Mapped[int] = mapped_column(default=1)
    queue: Mapped[str] = mapped_column(String(64), default="processing")
    timeout: Mapped[float] = mapped_column(Float, default=600.0)
    reason: Mapped[str | None] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[dt.datetime | None]
    dispatched_at: Mapped[dt.datetime | None]
    retry_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    heartbeat_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    input_arrival: Mapped[dt.datetime | None]
    #: Of the last attempt's run time, the seconds inside the rule's own function.
    rule_seconds: Mapped[float | None] = mapped_column(Float)
    worker: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    log_tail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("mission", "rule", "partition", "dependency_hash"),
        Index(None, "status"),
        Index(None, "status", "dispatched_at"),
        Index(None, "mission", "rule", "partition"),
    )


class PlannerState(Base):
    """How far a planner has read the event log (its cursor), by planner name."""

    __tablename__ = "planner_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Event(Base):
    """The append-only event log; peers follow it with ``GET /api/events?after=ID``."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    subject: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)

    __table_args__ = (Index(None, "kind"),)


class QuarantinedFile(Base):
    """A file that could not enter the archive, kept with its reason."""

    __tablename__ = "quarantine"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[FileSource] = mapped_column(stored_enum(FileSource))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uri: Mapped[str] = mapped_column(String(1024))
    mission: Mapped[str | None] = mapped_column(String(32))
    product: Mapped[str | None] = mapped_column(String(64))
    quarantined_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index(None, "quarantined_at"),)
