"""The catalog: SQLAlchemy models, sessions, queries and Alembic migrations."""

from socstack.catalog import accounts, deliveries, eventlists, harvests, runs  # noqa: F401 - their tables belong to the metadata
from socstack.catalog.db import Catalog
from socstack.catalog.models import (
    Event,
    File,
    FileSource,
    FileStatus,
    Job,
    JobStatus,
    Provenance,
    QuarantinedFile,
)

__all__ = [
    "Catalog",
    "Event",
    "File",
    "FileSource",
    "FileStatus",
    "Job",
    "JobStatus",
    "Provenance",
    "QuarantinedFile",
]
