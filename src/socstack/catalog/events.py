"""Appending to the event log, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from socstack.catalog.db import Catalog
from socstack.catalog.models import Event, File

__all__ = ["append_event", "file_payload"]


def append_event(
    catalog: Catalog, session: Session, kind: str, subject: str, payload: dict[str, Any]
) -> Event:
    """Add an event to the session's transaction (it commits with the change it reports)."""
    catalog.lock_events(session)
    event = Event(kind=kind, subject=subject, payload=payload)
    session.add(event)
    return event


def file_payload(row: File) -> dict[str, Any]:
    """What an event says about a file: enough for a peer to decide to fetch it."""
    return {
        "name": row.name,
        "mission": row.mission,
        "product": row.product,
        "instrument": row.instrument,
        "level": row.level,
        "partition": row.partition,
        "version": row.version,
        "start": row.start.isoformat() if row.start else None,
        "stop": row.stop.isoformat() if row.stop else None,
        "size": row.size,
        "sha256": row.sha256,
        "source": row.source.value,
        "status": row.status.value,
    }
