"""Response bodies of the API (these shape the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field


class FileOut(BaseModel):
    """A catalogued file."""

    name: str
    mission: str
    product: str
    instrument: str
    level: str
    descriptor: str
    partition: str = Field(
        description="The partition: the day, or a calibration's first valid day."
    )
    start: dt.datetime | None
    stop: dt.datetime | None
    version: str
    format: str
    size: int
    sha256: str
    records: int | None
    status: str
    source: str
    ingested_at: dt.datetime
    released: bool = Field(description="Public under the mission's release policy.")
    url: str = Field(description="Where to download the file.")


class FileList(BaseModel):
    """A page of files."""

    total: int = Field(description="How many files match in all.")
    limit: int
    offset: int
    files: list[FileOut]


class QuarantineOut(BaseModel):
    """A quarantined file and why it was refused."""

    id: int
    name: str
    reason: str
    kind: str
    source: str
    size: int
    sha256: str
    mission: str | None
    product: str | None
    quarantined_at: dt.datetime


class QuarantineList(BaseModel):
    """Quarantined files, newest first."""

    entries: list[QuarantineOut]


class EventOut(BaseModel):
    """An event of the log."""

    id: int
    kind: str
    at: dt.datetime
    subject: str
    payload: dict[str, Any]


class EventList(BaseModel):
    """Events after a given id; ask again with ``after=last_id``."""

    events: list[EventOut]
    last_id: int
