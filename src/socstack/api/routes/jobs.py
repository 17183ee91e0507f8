"""``/api/jobs`` and ``/api/reprocess``: what the pipeline does, and asking it to redo work.

Jobs are the data center's working: a mission's team (any of its groups) sees its
mission's jobs, operators and admins see all (``Action.READ_JOBS``); retrying and
reprocessing are for operators (``Action.RUN``, scope ``run``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from socstack._exceptions import NotFoundError, SocError
from socstack.access import Action
from socstack.access.audit import audit
from socstack.api.deps import GuardDep, RuntimeDep, VocabularyDep
from socstack.api.errors import problem
from socstack.api.schemas import MAX_ID, PathId
from socstack.catalog.models import Job, JobStatus
from socstack.pipeline.jobs import RUN_RULE, SEARCH_RULE, retry
from socstack.pipeline.reprocess import Selection, reprocess

#: Pseudo-rules whose jobs belong to a person, not to the mission's pipeline.
PRIVATE_RULES = (RUN_RULE, SEARCH_RULE)

router = APIRouter(tags=["jobs"])

Token = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class JobOut(BaseModel):
    """A processing job."""

    id: int
    mission: str
    rule: str
    partition: str
    status: str
    reason: str | None
    missing: list[str] = Field(description="What a blocked job waits for.")
    inputs: list[str]
    outputs: list[str]
    attempts: int
    code_version: str
    queue: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    worker: str | None
    seconds: float | None = Field(description="Run time of the last attempt.")
    rule_seconds: float | None = Field(
        description="Of that run time, the seconds in the rule's own code; the rest went to"
        " fetching inputs and archiving outputs."
    )
    latency: float | None = Field(description="Seconds from the last input's arrival to the end.")
    error: str | None = Field(description="The last line of the error.")


class JobDetail(JobOut):
    """A job with its full error and log tail."""

    dependency_hash: str
    timeout: float
    input_arrival: dt.datetime | None
    traceback: str | None
    log_tail: str | None


class JobList(BaseModel):
    """A page of jobs, newest first."""

    total: int
    counts: dict[str, int] = Field(description="Jobs matching the filters, by status.")
    jobs: list[JobOut]


class ReprocessRequest(BaseModel):
    """Which rules to re-plan, over which days (inclusive)."""

    mission: str | None = None
    instrument: str | None = None
    product: str | None = None
    rule: str | None = None
    start: dt.date
    stop: dt.date


class ReprocessOut(BaseModel):
    """What a reprocessing request planned; follow the jobs at /api/jobs."""

    selection: str
    rules: list[str]
    planned: int
    unchanged: int
    blocked: int
    following: int = Field(
        description="Partitions left to re-plan when the inputs remade by these jobs arrive."
    )
    jobs: list[int]


def _out(job: Job, detail: bool = False) -> dict[str, Any]:
    seconds = (
        (job.finished_at - job.started_at).total_seconds()
        if job.finished_at and job.started_at
        else None
    )
    latency = (
        (job.finished_at - job.input_arrival).total_seconds()
        if job.finished_at and job.input_arrival
        else None
    )
    lines = (job.error or "").strip().splitlines()
    out: dict[str, Any] = {
        "id": job.id,
        "mission": job.mission,
        "rule": job.rule,
        "partition": job.partition,
        "status": job.status.value,
        "reason": job.reason,
        "missing": job.missing or [],
        "inputs": job.inputs or [],
        "outputs": job.outputs or [],
        "attempts": job.attempts,
        "code_version": job.code_version,
        "queue": job.queue,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "worker": job.worker,
        "seconds": seconds,
        "rule_seconds": job.rule_seconds,
        "latency": latency,
        "error": lines[-1] if lines else None,
    }
    if detail:
        out.update(
            dependency_hash=job.dependency_hash,
            timeout=job.timeout,
            input_arrival=job.input_arrival,
            traceback=job.error,
            log_tail=job.log_tail,
        )
    return out


@router.get("/jobs", response_model=JobList, summary="List jobs")
def list_jobs(
    runtime: RuntimeDep,
    guard: GuardDep,
    vocabulary: VocabularyDep,
    *,
    status: Annotated[JobStatus | None, Query()] = None,
    mission: Token = None,
    rule: Token = None,
    partition: Annotated[dt.date | None, Query(description="The day a job is for.")] = None,
    since: Annotated[dt.datetime | None, Query(description="Jobs created at or after.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> JobList:
    """Jobs filtered by status, mission, rule, partition and creation time, newest first.

    A mission or rule that no loaded mission declares is refused (422, with the values
    it takes). Only the jobs of the missions the asker works on are listed and counted;
    401 or 403 for who may see no mission's jobs, or not the one asked for.
    """
    missions = runtime.access.missions_of(guard.identity)
    if not missions:
        guard.require(Action.READ_JOBS)
    vocabulary.check(mission=mission, rule=rule)
    if mission:
        guard.require(Action.READ_JOBS, mission=mission)
    # A notebook run's or a search's job is its submitter's (see /api/runs and
    # /api/eventlists), not the mission's work.
    query = select(Job).where(Job.mission.in_(missions) & Job.rule.not_in(PRIVATE_RULES))
    if status is not None:
        query = query.where(Job.status == status)
    if mission:
        query = query.where(Job.mission == mission)
    if rule:
        query = query.where(Job.rule == rule)
    if partition:
        query = query.where(Job.partition == partition.isoformat())
    if since:
        value = since.replace(tzinfo=dt.UTC) if since.tzinfo is None else since
        query = query.where(Job.created_at >= value)
    with runtime.catalog.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        matching = query.subquery()
        grouped = select(matching.c.status, func.count()).group_by(matching.c.status)
        counts = {str(s): n for s, n in session.execute(grouped).all()}
        rows = list(session.scalars(query.order_by(Job.id.desc()).limit(limit).offset(offset)))
    return JobList(total=total, counts=counts, jobs=[JobOut(**_out(j)) for j in rows])


@router.get("/jobs/{job_id}", response_model=JobDetail, summary="One job")
def job(runtime: RuntimeDep, guard: GuardDep, job_id: PathId) -> JobDetail:
    """A job with its inputs, outputs, attempts, worker, timings, error and log tail.

    401 or 403 for who may see no jobs; 404 for no such job; 403 for a job of a mission
    the asker does not work on.
    """
    if not runtime.access.missions_of(guard.identity):
        guard.require(Action.READ_JOBS)
    with runtime.catalog.session() as session:
        row = session.get(Job, job_id)
    if row is None or (row.rule in PRIVATE_RULES and not guard.identity.staff):
        raise NotFoundError(f"no job {job_id}")
    guard.require(Action.READ_JOBS, mission=row.mission)
    return JobDetail(**_out(row, detail=True))


@router.post("/jobs/{job_id}/retry", response_model=JobOut, summary="Retry a job")
def retry_job(runtime: RuntimeDep, guard: GuardDep, job_id: PathId) -> JobOut | JSONResponse:
    """Queue a failed or timed-out job again (operators: scope ``run``)."""
    guard.require(Action.RUN)
    try:
        row = retry(runtime.catalog, job_id)
    except NotFoundError:
        raise
    except SocError as exc:
        return problem(409, "Conflict", str(exc))
    audit(runtime.catalog, guard.identity.label, "job.retry", str(job_id), mission=row.mission)
    return JobOut(**_out(row))


@router.post("/reprocess", response_model=ReprocessOut, status_code=202, summary="Reprocess")
def reprocess_range(
    runtime: RuntimeDep, guard: GuardDep, request: ReprocessRequest
) -> ReprocessOut | JSONResponse:
    """Re-plan rules over a range of days; only jobs whose inputs or code changed run.

    Select by mission, instrument, product or rule. The levels after the selected rules
    follow by themselves as new outputs arrive. Follow progress at ``/api/jobs``.
    Operators only (scope ``run``).
    """
    guard.require(Action.RUN, mission=request.mission)
    if request.stop < request.start:
        return problem(422, "Invalid request", "stop is before start")
    if (request.stop - request.start).days > 3660:
        return problem(422, "Invalid request", "at most ten years at a time")
    selection = Selection(request.mission, request.instrument, request.product, request.rule)
    summary = reprocess(runtime, selection, request.start, request.stop)
    audit(
        runtime.catalog,
        guard.identity.label,
        "reprocess",
        summary.selection,
        start=request.start.isoformat(),
        stop=request.stop.isoformat(),
        jobs=len(summary.jobs),
    )
    return ReprocessOut(
        selection=summary.selection,
        rules=summary.rules,
        planned=len(summary.jobs),
        unchanged=summary.unchanged,
        blocked=summary.blocked,
        following=summary.following,
        jobs=summary.jobs,
    )
