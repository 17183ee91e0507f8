"""Keeping the CloudCatalog current: rewritten after arrivals, and now and then anyway.

Why a follower of the event log and not a hook in ingest: ingest must not wait on (or
fail for) an index in a bucket, and one rewrite after a burst of a hundred arrivals is
as good as a hundred. The follower reads ``file.*`` events after its own cursor (a
:class:`~socstack.catalog.models.PlannerState` row named ``cloudcatalog``, so a restart
neither misses an arrival nor rewrites for old ones), and rewrites once per pass that
saw any. What is public also changes without an event (a release approved, an embargo
running out with the clock), so it rewrites every ``cloudcatalog_refresh`` seconds too;
a rewrite touches only the index files whose content changed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from socstack._exceptions import SocError
from socstack.catalog.models import PlannerState, utcnow
from socstack.catalog.queries import events_after
from socstack.export.cloudcatalog import CloudCatalogResult, write_cloudcatalog

if TYPE_CHECKING:
    from socstack.runtime import Runtime

__all__ = ["CURSOR", "CloudCatalogFollower"]

logger = logging.getLogger(__name__)

#: The follower's cursor in the event log (beside the planners').
CURSOR = "cloudcatalog"
_KINDS = ("file.archived", "file.superseded")


class CloudCatalogFollower:
    """Rewrites the CloudCatalog after file events and every ``refresh`` seconds."""

    def __init__(
        self,
        runtime: Runtime,
        dest: str | None = None,
        *,
        public_url: str | None = None,
        refresh: float | None = None,
    ):
        self.runtime = runtime
        self.dest = dest
        self.public_url = public_url
        self.refresh = refresh if refresh is not None else runtime.settings.cloudcatalog_refresh
        self._written_at: float | None = None

    def step(self) -> CloudCatalogResult | None:
        """Read the new events; rewrite if any was a file's, or the refresh is due."""
        catalog = self.runtime.catalog
        with catalog.session() as session:
            state = session.get(PlannerState, CURSOR)
            cursor = state.cursor if state else 0
            events = events_after(session, cursor, limit=10_000)
        arrived = any(e.kind in _KINDS for e in events)
        due = self._written_at is None or time.monotonic() - self._written_at >= self.refresh
        result = None
        if arrived or due:
            result = write_cloudcatalog(self.runtime, self.dest, public_url=self.public_url)
            self._written_at = time.monotonic()
            if result.written or result.removed:
                logger.info(
                    "cloudcatalog: %d written, %d removed at %s",
                    len(result.written),
                    len(result.removed),
                    result.url,
                )
        if events:  # only once written: a failed write is tried again for the same events
            with catalog.transaction() as session:
                state = session.get(PlannerState, CURSOR)
                if state is None:
                    session.add(PlannerState(name=CURSOR, cursor=events[-1].id))
                else:
                    state.cursor = events[-1].id
                    state.updated_at = utcnow()
        return result

    def run(self, stop: threading.Event, interval: float = 2.0) -> None:
        """Follow until ``stop`` is set; a failed pass is logged and tried again."""
        while not stop.is_set():
            try:
                self.step()
            except SocError as exc:
                logger.error("cloudcatalog: %s", exc)
            except Exception:  # keep following: the next pass may reach the bucket
                logger.exception("cloudcatalog pass failed")
            stop.wait(interval)
