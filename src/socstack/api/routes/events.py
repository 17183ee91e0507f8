"""``/api/events``: the event log, for notifiers and for peers syncing incrementally."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from socstack.api.deps import RuntimeDep
from socstack.api.schemas import EventList, EventOut
from socstack.catalog.queries import events_after

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventList, summary="Events after an id")
def list_events(
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, description="Return events with a larger id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,64}$")] = None,
) -> EventList:
    """Events in id order. Keep ``last_id`` and ask again with ``after=last_id``.

    Ids become visible in order (commits of events are serialised), so a peer that
    follows ``last_id`` never skips one.
    """
    with runtime.catalog.session() as session:
        rows = events_after(session, after, limit=limit, kind=kind)
    events = [
        EventOut(id=r.id, kind=r.kind, at=r.at, subject=r.subject, payload=r.payload) for r in rows
    ]
    return EventList(events=events, last_id=events[-1].id if events else after)
