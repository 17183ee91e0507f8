"""Appending to the event log, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from socstack.catalog.db import Catalog
from socstack.catalog.models import Event, utcnow

__all__ = ["append_event", "file_payload"]

_FILE_FIELDS = (
    "name",
    "mission",
    "product",
    "instrument",
    "level",
    "partition",
    "version",
    "size",
    "sha256",
)


def append_event(
    catalog: Catalog, session: Session, kind: str, subject: str, payload: dict[str, Any]
) -> int:
    """Add an event to the session's transaction (it commits with the change it reports).

    Returns the event's id.
    """
    values = {"kind": kind, "subject": subject, "payload": payload, "at": utcnow()}
    return catalog.insert(session, Event, values, events=True)


def file_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """What an event says about a file: enough for a peer to decide to fetch it."""
    payload = {key: row[key] for key in _FILE_FIELDS}
    for key in ("start", "stop"):
        payload[key] = row[key].isoformat() if row[key] else None
    for key in ("source", "status"):
        payload[key] = str(row[key])
    return payload
