"""``/api/eventlists``: event lists to list, download, upload, and find by similarity.

A mission's event lists (the interval datasets its detector rules make) are read like any
data: what the asker may see of their product, every event that overlaps the range. The
lists people make (uploaded catalogs, similarity searches) are their owner's, the
operators', and for a search also whoever may read every file it read. Each downloads
as CSV, JSON or the AMDA TimeTable VOTable that AMDA and SciQLop load.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from socstack._exceptions import NotFoundError, SocError
from socstack.access import Action
from socstack.access.audit import audit
from socstack.api.deps import GuardDep, RuntimeDep
from socstack.api.errors import ApiProblem, read_form_file
from socstack.catalog.eventlists import EventListRow
from socstack.catalog.models import Job
from socstack.mining import lists
from socstack.mining.catalogs import FORMATS, media_type, suffix, write_catalog
from socstack.mining.events import EventListError
from socstack.mining.search import SearchRequest, submit_search
from socstack.times import parse_time

router = APIRouter(tags=["event lists"])

#: Largest catalog upload.
MAX_UPLOAD_BYTES = 32 * 2**20
Format = Annotated[
    str, Query(description="csv, json or votable (AMDA TimeTable).", pattern="^(csv|json|votable)$")
]


class ListOut(BaseModel):
    """An event list: a mission's (``dataset``) or a person's (``id``)."""

    name: str
    kind: str = Field(description="dataset (a mission's), upload or search.")
    title: str
    description: str = ""
    id: int | None = None
    dataset: str | None = None
    mission: str | None = None
    owner: str | None = None
    status: str = "ready"
    events: int | None = None
    start: dt.datetime | None = None
    stop: dt.datetime | None = None
    created_at: dt.datetime | None = None
    request: dict[str, Any] | None = None
    error: str | None = None
    url: str
    formats: list[str] = Field(default_factory=lambda: list(FORMATS))


class ListList(BaseModel):
    """The event lists the asker may see: the missions' first, then people's, newest first."""

    lists: list[ListOut]


def _status(runtime: Any, row: EventListRow) -> str:
    if row.kind != "search" or row.job_id is None:
        return "ready"
    with runtime.catalog.session() as session:
        job = session.get(Job, row.job_id)
    if job is None:
        return "failed"
    return "ready" if job.status.value == "succeeded" else job.status.value


def _person_out(runtime: Any, row: EventListRow) -> ListOut:
    return ListOut(
        name=str(row.id),
        kind=row.kind,
        title=row.name,
        description=row.description,
        id=row.id,
        mission=row.mission or None,
        owner=row.owner,
        status=_status(runtime, row),
        events=row.events,
        start=row.start,
        stop=row.stop,
        created_at=row.created_at,
        request={k: v for k, v in row.request.items() if k != "seen"} or None,
        error=row.error,
        url=f"/api/eventlists/{row.id}",
    )


@router.get("/eventlists", response_model=ListList, summary="List event lists")
def list_eventlists(runtime: RuntimeDep, guard: GuardDep) -> ListList:
    """The missions' event-list datasets the asker sees data of, and people's lists they may see."""
    out: list[ListOut] = []
    for dataset in lists.event_datasets(runtime):
        decision = guard.decide(
            Action.READ, mission=dataset.mission.name, product=dataset.product.id
        )
        if not decision.allowed or not decision.intervals:
            continue
        out.append(
            ListOut(
                name=dataset.id,
                kind="dataset",
                title=dataset.title,
                description=dataset.config.description,
                dataset=dataset.id,
                mission=dataset.mission.name,
                url=f"/api/eventlists/{dataset.id}",
            )
        )
    out += [_person_out(runtime, r) for r in lists.visible_lists(runtime, guard.identity)]
    return ListList(lists=out)


def _time(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except (ValueError, SocError) as exc:
        raise ApiProblem(422, "Invalid request", f"{what}: {exc}") from exc


def _download(events: Any, fmt: str, name: str) -> Response:
    body = write_catalog(events, fmt)
    filename = f"{name}{suffix(fmt)}"
    return Response(
        body,
        media_type=media_type(fmt),
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/eventlists/{name}",
    summary="Download an event list",
    responses={200: {"content": {m: {} for m in ("text/csv", "application/json")}}},
)
def get_eventlist(
    name: str,
    runtime: RuntimeDep,
    guard: GuardDep,
    *,
    format: Format = "json",
    start: Annotated[str | None, Query(description="ISO 8601; a dataset's from.")] = None,
    stop: Annotated[str | None, Query(description="ISO 8601; a dataset's to.")] = None,
    meta: Annotated[bool, Query(description="The list's description, not its events.")] = False,
) -> Response:
    """A list's events in ``format``.

    A dataset's over [start, stop) (every event that overlaps it), or a person's list by
    id. 404 for a list the asker may not see.
    """
    if name.isdigit():
        row = lists.get_list(runtime, guard.identity, int(name))
        if meta:
            return JSONResponse(_person_out(runtime, row).model_dump(mode="json"))
        if _status(runtime, row) != "ready":
            raise ApiProblem(409, "Not ready", f"event list {row.id} is {_status(runtime, row)}")
        return _download(lists.list_events(runtime, row), format, f"eventlist-{row.id}")
    lo, hi = _time(start, "start"), _time(stop, "stop")
    if lo is not None and hi is not None and hi <= lo:
        raise ApiProblem(422, "Invalid request", "stop must be after start")
    events = lists.dataset_events(runtime, guard.identity, name, lo, hi)
    return _download(events, format, name)


@router.delete("/eventlists/{list_id}", status_code=204, summary="Delete a list of yours")
def delete_eventlist(list_id: int, runtime: RuntimeDep, guard: GuardDep) -> Response:
    """Its owner or an operator removes a person's list (a mission's are products)."""
    row = lists.get_list(runtime, guard.identity, list_id)
    if not (guard.identity.staff or guard.identity.name == row.owner):
        raise ApiProblem(403, "Forbidden", "only its owner or an operator deletes a list")
    with runtime.catalog.transaction() as session:
        stored = session.get(EventListRow, list_id)
        if stored is not None:
            session.delete(stored)
    audit(runtime.catalog, guard.identity.label, "eventlist.delete", str(list_id))
    return Response(status_code=204)


@router.post(
    "/eventlists",
    response_model=ListOut,
    status_code=201,
    summary="Upload a catalog",
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string"},
                            "description": {"type": "string"},
                            "format": {"type": "string", "enum": list(FORMATS)},
                        },
                        "required": ["file"],
                    }
                }
            }
        }
    },
)
async def upload_eventlist(request: Request, runtime: RuntimeDep, guard: GuardDep) -> ListOut:
    """A catalog (CSV, JSON or an AMDA TimeTable VOTable) becomes a list of the uploader's.

    The format comes from the file's name or content. 422 says what is wrong with a file
    that is not one; nothing is kept of it. Scope ``run``.
    """
    guard.require(Action.ANALYSE)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiProblem(415, "Unsupported media type", "send the catalog as multipart 'file'")
    async with request.form(max_files=1, max_fields=5) as form:
        content, filename = await read_form_file(form, "file", MAX_UPLOAD_BYTES, "catalog")
        fields = {k: str(form.get(k) or "") for k in ("name", "description", "format")}
    if fields["format"] and fields["format"] not in FORMATS:
        raise ApiProblem(422, "Invalid request", f"format: one of {', '.join(FORMATS)}")
    try:
        row = await run_in_threadpool(
            lists.upload,
            runtime,
            guard.identity,
            content,
            filename=filename,
            fmt=fields["format"] or None,
            name=fields["name"],
            description=fields["description"],
        )
    except EventListError as exc:
        raise ApiProblem(422, "Not a catalog", str(exc)) from exc
    audit(runtime.catalog, guard.identity.label, "eventlist.upload", row.name, list=row.id)
    return _person_out(runtime, row)


@router.post("/eventlists/similar", response_model=ListOut, status_code=202, summary="Find similar")
async def find_similar(request: Request, runtime: RuntimeDep, guard: GuardDep) -> ListOut:
    """Queue a similarity search (queue ``mining``).

    It finds the ``k`` intervals of ``dataset`` most like the query interval in
    ``parameters`` (z-normalised), over [start, stop). The result is a list of the
    asker's (``distance`` and ``rank`` per match); poll its ``url`` with ``meta=true``
    until ``status`` is ``ready``. Scope ``run``.
    """
    guard.require(Action.ANALYSE)
    try:
        asked = SearchRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        raise ApiProblem(422, "Invalid request", detail) from exc
    try:
        row = await run_in_threadpool(submit_search, runtime, guard.identity, asked)
    except NotFoundError as exc:
        raise ApiProblem(422, "Invalid request", str(exc)) from exc
    except SocError as exc:
        if type(exc) is not SocError:
            raise
        raise ApiProblem(422, "Invalid request", str(exc)) from exc
    audit(runtime.catalog, guard.identity.label, "eventlist.search", row.name, list=row.id)
    return _person_out(runtime, row)
