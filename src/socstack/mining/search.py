"""Similarity search as an on-demand mining job: query by example, result an event list.

Someone picks an interval of one or more parameters of a dataset and asks for the k most
similar intervals over a range. The door authorizes it (scope ``run``, and reads of the
dataset: all of the query, and what of the range the asker may see), and what may be
seen is written into the request: the worker reads only that, so the result holds
nothing its owner could not have read. The job runs on queue ``mining`` through the
pipeline's claim, heartbeat and time-out; its result is a person's event list (with each
match's ``distance`` and ``rank``) that records the archive files it read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, Field, model_validator

from socstack._exceptions import AccessDenied, NotFoundError, SocError
from socstack.access import Action
from socstack.access.identity import Identity
from socstack.access.intervals import intersect
from socstack.catalog.eventlists import EventListRow
from socstack.catalog.models import File, JobStatus
from socstack.hapi.source import ArchiveSource
from socstack.mining.lists import store_events
from socstack.pipeline.jobs import SEARCH_RULE, on_demand_job
from socstack.runtime import Runtime
from socstack.times import duration_ns

if TYPE_CHECKING:
    from socstack.pipeline.jobs import Claim, Outcome

__all__ = ["QUEUE", "SEARCH_RULE", "SearchRequest", "execute_search", "submit_search"]

logger = logging.getLogger(__name__)

QUEUE = "mining"
#: The longest range one search scans, and the longest query.
MAX_RANGE = "P3660D"
MAX_QUERY = "P7D"
_NS = 10**9


class SearchRequest(BaseModel):
    """A similarity search: the query interval of some parameters, and where to look."""

    dataset: str = Field(max_length=64)
    parameters: list[str] = Field(min_length=1, max_length=8)
    query_start: dt.datetime
    query_stop: dt.datetime
    start: dt.datetime | None = Field(None, description="Start of the range (default: coverage).")
    stop: dt.datetime | None = Field(None, description="End of the range (default: coverage).")
    k: int = Field(10, ge=1, le=100, description="How many similar intervals.")
    name: str = Field("", max_length=128)

    @model_validator(mode="after")
    def _ordered(self) -> SearchRequest:
        for when in (self.query_start, self.query_stop, self.start, self.stop):
            if when is not None and when.tzinfo is None:
                raise ValueError("give times in UTC (with Z or +00:00)")
        if self.query_stop <= self.query_start:
            raise ValueError("query_stop must be after query_start")
        if self.start and self.stop and self.stop <= self.start:
            raise ValueError("stop must be after start")
        if len(set(self.parameters)) != len(self.parameters):
            raise ValueError("a parameter is named twice")
        return self


def _ns(value: dt.datetime) -> int:
    return int(value.timestamp() * 1e6) * 1000


def _iso(value: int) -> str:
    return str(np.datetime64(value, "ns")) + "Z"


def submit_search(runtime: Runtime, identity: Identity, request: SearchRequest) -> EventListRow:
    """Queue a search for ``identity``, authorized here and read within what it may see.

    Raises
    ------
    AccessDenied
        The identity may not analyse (scope ``run``) or may not read all of the query.
    NotFoundError
        No such dataset, or one the identity may see nothing of.
    SocError
        A request that cannot be searched (a parameter not there or not numeric, a query
        as long as the range, ranges too long).
    """
    decision = runtime.access.authorize(identity, Action.ANALYSE)
    if not decision.allowed or identity.name is None:
        raise AccessDenied(decision.reason or "a search needs a signed-in user with scope run")
    source = ArchiveSource(runtime)
    dataset = source.dataset(request.dataset)
    if dataset is None:
        raise NotFoundError(f"no dataset {request.dataset!r}")
    read = runtime.access.authorize(
        identity, Action.READ, mission=dataset.mission.name, product=dataset.product.id
    )
    coverage = source.coverage(dataset, read.intervals) if read.allowed else None
    if coverage is None:
        raise NotFoundError(f"no dataset {request.dataset!r}")
    if dataset.config.intervals or dataset.config.files:
        kind = "an event list" if dataset.config.intervals else "a file listing"
        raise SocError(f"{dataset.id} is {kind}: search a dataset of measurements")
    for name in request.parameters:
        parameter = dataset.parameter(name)
        if parameter is None:
            known = ", ".join(p.name for p in dataset.parameters)
            raise SocError(f"{dataset.id} has no parameter {name!r} (it has {known})")
        if parameter.type not in ("double", "integer"):
            raise SocError(f"{name} is {parameter.type}: a search compares numbers")
    q0, q1 = _ns(request.query_start), _ns(request.query_stop)
    start = _ns(request.start) if request.start else coverage.start
    stop = _ns(request.stop) if request.stop else coverage.stop
    if stop <= start:
        raise SocError("the range is empty")
    if q1 - q0 > (duration_ns(MAX_QUERY) or 0):
        raise SocError(f"the query is longer than {MAX_QUERY}")
    if stop - start > (duration_ns(MAX_RANGE) or 0):
        raise SocError(f"the range is longer than {MAX_RANGE}: search a shorter one")
    if 2 * (q1 - q0) > stop - start:
        raise SocError("the range must be at least twice as long as the query")
    query_seen = runtime.access.authorize(
        identity,
        Action.READ,
        mission=dataset.mission.name,
        product=dataset.product.id,
        start=q0,
        stop=q1,
        whole=True,
    )
    if not query_seen.allowed:
        raise AccessDenied(f"you may not read all of the query interval of {dataset.id}")
    seen = intersect(read.intervals, ((min(start, q0), max(stop, q1)),))
    plan: dict[str, Any] = {
        "dataset": dataset.id,
        "parameters": list(request.parameters),
        "query": [_iso(q0), _iso(q1)],
        "range": [_iso(start), _iso(stop)],
        "k": request.k,
        "seen": [[int(lo), int(hi)] for lo, hi in seen],
    }
    key = hashlib.sha256(
        json.dumps({**plan, "owner": identity.name}, sort_keys=True).encode()
    ).hexdigest()
    name = request.name or f"like {dataset.id} {_iso(q0)[:19]}"
    with runtime.catalog.transaction() as session:
        job = on_demand_job(
            mission=dataset.mission.name,
            rule=SEARCH_RULE,
            key=key,
            code_version="similarity",
            queue=QUEUE,
            timeout=runtime.settings.run_timeout,
            reason=f"similarity search submitted by {identity.label}",
        )
        session.add(job)
        session.flush()
        row = EventListRow(
            name=name[:128],
            description=(
                f"The {request.k} intervals of {dataset.id} most like"
                f" {plan['query'][0]} to {plan['query'][1]} in {', '.join(request.parameters)}"
            ),
            kind="search",
            mission=dataset.mission.name,
            owner=identity.name,
            job_id=job.id,
            request=plan,
            reads=[],
            events=0,
        )
        session.add(row)
        session.flush()
        session.expunge_all()
    logger.info("search %s: %s queued (job %s)", row.id, name, job.id)
    return row


def _series(
    runtime: Runtime, plan: dict[str, Any], reads: set[str]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each parameter's times and values over the range and the query, fill as NaN."""

    def read(dataset: Any, row: File) -> None:
        reads.add(row.name)

    source = ArchiveSource(runtime, on_read=read)
    dataset = source.dataset(plan["dataset"])
    if dataset is None:
        raise SocError(f"dataset {plan['dataset']} is no longer configured")
    seen = [(int(lo), int(hi)) for lo, hi in plan["seen"]]
    lo, hi = (seen[0][0], seen[-1][1]) if seen else (0, 0)
    out = []
    for name in plan["parameters"]:
        parameter = dataset.parameter(name)
        if parameter is None:
            raise SocError(f"{dataset.id} no longer has parameter {name!r}")
        blocks = list(source.records(dataset, [parameter], lo, hi, seen))
        times = np.concatenate([b.times for b in blocks]) if blocks else np.array([], np.int64)
        values = (
            np.concatenate([np.asarray(b.values[name], dtype=np.float64) for b in blocks])
            if blocks
            else np.array([], dtype=np.float64)
        )
        fill = parameter.description.get("fill")
        if fill not in (None, "NaN"):
            values = np.where(values == float(fill), np.nan, values)
        out.append((times.astype("datetime64[ns]"), values.reshape(len(times), -1)))
    return out


def execute_search(runtime: Runtime, taken: Claim, worker: str, tail: Any) -> Outcome:
    """Run a claimed search job: read, search, archive the list, finish the job."""
    from sqlalchemy import select

    from socstack.mining.similarity import search
    from socstack.pipeline.jobs import Outcome, beating, finish

    with runtime.catalog.session() as session:
        row = session.scalars(select(EventListRow).where(EventListRow.job_id == taken.id)).one()
    plan = row.request
    reads: set[str] = set()
    try:
        with beating(runtime.catalog, taken.id, worker, runtime.settings.job_heartbeat):
            series = _series(runtime, plan, reads)
            found = search(
                series,
                np.datetime64(plan["query"][0].rstrip("Z"), "ns"),
                np.datetime64(plan["query"][1].rstrip("Z"), "ns"),
                np.datetime64(plan["range"][0].rstrip("Z"), "ns"),
                np.datetime64(plan["range"][1].rstrip("Z"), "ns"),
                k=int(plan["k"]),
            )
            found.name = row.name
            found.description = row.description
            store_events(runtime, row.id, found, reads=sorted(reads), error=None)
    except SocError as exc:  # a search that cannot be made: said in one line, not retried
        with runtime.catalog.transaction() as session:
            stored = session.get(EventListRow, row.id)
            if stored is not None:
                stored.error = str(exc)
                stored.reads = sorted(reads)
        finish(runtime.catalog, taken.id, worker, JobStatus.FAILED, error=str(exc))
        return Outcome.FAILED
    finish(
        runtime.catalog,
        taken.id,
        worker,
        JobStatus.SUCCEEDED,
        outputs=[f"eventlist {row.id}"],
        inputs=sorted(reads),
        log_tail="\n".join(getattr(tail, "lines", [])),
    )
    logger.info("search %s: %d intervals from %d files", row.id, len(found), len(reads))
    return Outcome.SUCCEEDED
