"""``/api/events``: the event log, for notifiers and for peers syncing incrementally.

Each asker reads only the events about what they may see: a file's events (archived,
superseded) if they may see all of that file; a job's events if they may see the
mission's jobs (``Action.READ_JOBS``); a release's as its record is seen
(:func:`socstack.api.visibility.release_seen`); the rest (quarantine, the planner's
own failures) if they operate the data center (``Action.OPERATE``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select

from socstack.access import Action
from socstack.api.deps import Guard, GuardDep, RuntimeDep
from socstack.api.schemas import MAX_ID, EventList, EventOut
from socstack.api.visibility import Sight, release_seen
from socstack.catalog.models import Event, File
from socstack.catalog.queries import events_after
from socstack.runtime import Runtime

router = APIRouter(prefix="/events", tags=["events"])

#: At most this many events are read for one answer, however few of them may be seen.
SCAN_LIMIT = 20_000


class _Reader:
    """Decides, event by event, what one asker may read (each question asked once)."""

    def __init__(self, runtime: Runtime, guard: Guard):
        self.runtime = runtime
        self.guard = guard
        self.sight = Sight(runtime.access, guard.identity)
        self._answers: dict[tuple[Any, ...], bool] = {}

    def _ask(self, action: Action, **where: Any) -> bool:
        key = (action, *sorted(where.items()))
        if key not in self._answers:
            self._answers[key] = self.guard.decide(action, **where).allowed
        return self._answers[key]

    def readable(self, rows: list[Event]) -> list[Event]:
        """The events of ``rows`` the asker may read."""
        names = {
            r.subject for r in rows if r.kind.startswith("file.") and r.kind != "file.quarantined"
        }
        files: dict[str, File] = {}
        if names:
            with self.runtime.catalog.session() as session:
                found = session.scalars(select(File).where(File.name.in_(sorted(names))))
                files = {f.name: f for f in found}
        return [r for r in rows if self._may_read(r, files)]

    def _may_read(self, event: Event, files: dict[str, File]) -> bool:
        payload = event.payload or {}
        if event.kind in ("file.archived", "file.superseded"):
            row = files.get(event.subject)
            return row is not None and self.sight.sees(row)
        if event.kind.startswith("job."):
            return self._ask(Action.READ_JOBS, mission=str(payload.get("mission", "")))
        if event.kind == "release.effective":
            return self._release(payload)
        return self._ask(Action.OPERATE)

    def _release(self, payload: dict[str, Any]) -> bool:
        try:
            start = dt.datetime.fromisoformat(str(payload["start"]))
            stop = dt.datetime.fromisoformat(str(payload["stop"]))
        except (KeyError, ValueError):
            return self._ask(Action.OPERATE)
        return release_seen(
            self.guard,
            mission=str(payload.get("mission", "")),
            product=str(payload.get("product", "")),
            kind=str(payload.get("kind", "release")),
            start=start,
            stop=stop,
        )


@router.get("", response_model=EventList, summary="Events after an id")
def list_events(
    runtime: RuntimeDep,
    guard: GuardDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="Return events with a larger id.")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_.]{1,64}$")] = None,
) -> EventList:
    """Events in id order, those the asker may read. Ask again with ``after=last_id``.

    Ids become visible in order (commits of events are serialised), so a peer that
    follows ``last_id`` never skips one. ``last_id`` is the last event looked at, read
    or not: a page may hold fewer than ``limit`` events (even none) while more follow,
    and the log is at its end when ``last_id`` stops moving.
    """
    reader = _Reader(runtime, guard)
    events: list[EventOut] = []
    cursor, scanned = after, 0
    while len(events) < limit and scanned < SCAN_LIMIT:
        with runtime.catalog.session() as session:
            rows = events_after(session, cursor, limit=limit, kind=kind)
        if not rows:
            break
        scanned += len(rows)
        for row in reader.readable(rows):
            if len(events) == limit:
                break
            events.append(
                EventOut(
                    id=row.id, kind=row.kind, at=row.at, subject=row.subject, payload=row.payload
                )
            )
        cursor = events[-1].id if len(events) == limit else rows[-1].id
        if len(rows) < limit:
            break
    return EventList(events=events, last_id=cursor)
