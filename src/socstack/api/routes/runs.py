"""``/api/runs`` and ``/api/notebooks``: notebook runs next to the data.

Submitting needs a token with scope ``run`` (:attr:`Action.ANALYSE`); the kernel then
reads as its submitter. A run, its log and its outputs are seen by its submitter,
operators, and whoever may read every file the run read (a derived output is no more
public than its inputs). Parameters are checked against the notebook's ``parameters``
cell before anything is queued: a mistake is a 422 that lists what the notebook takes.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from socstack._exceptions import NotFoundError
from socstack.access import Action
from socstack.access.audit import audit
from socstack.analysis.library import Notebook, check_parameters, find, inspect, library
from socstack.analysis.runs import Submitted, may_see, submit
from socstack.api.deps import GuardDep, RuntimeDep
from socstack.api.errors import ApiProblem, read_form_file
from socstack.api.schemas import PathId
from socstack.catalog.models import Job
from socstack.catalog.runs import Run
from socstack.runtime import Runtime

router = APIRouter(tags=["runs"])

#: Largest uploaded notebook.
MAX_NOTEBOOK_BYTES = 16 * 2**20
#: The HTML of an executed notebook is the user's own content: it runs no script and
#: reaches nothing, whoever opens it.
SANDBOX = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"
)
_MEDIA = {
    "notebook": "application/x-ipynb+json",
    "html": "text/html; charset=utf-8",
    "figure": "image/png",
    "provenance": "application/json",
}


class RunRequest(BaseModel):
    """A run of a library notebook."""

    notebook: str = Field(description="A name from GET /api/notebooks.", max_length=255)
    parameters: dict[str, Any] = Field(default_factory=dict)
    force: bool = Field(False, description="Run again even if the same run exists.")


class ProgressOut(BaseModel):
    """Code cells executed, of the notebook's."""

    done: int
    total: int


class OutputOut(BaseModel):
    """One output of a run: an artifact (notebook, html, figure) or an archived product."""

    name: str
    kind: str
    url: str


class RunOut(BaseModel):
    """A notebook run."""

    id: int
    job: int
    notebook: str
    notebook_sha256: str
    mission: str | None
    status: str
    submitter: str
    submitted_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int
    parameters: dict[str, Any]
    progress: ProgressOut
    outputs: list[OutputOut]
    reads: list[str]
    error: str | None
    log_tail: str | None


class RunList(BaseModel):
    """Runs the asker may see, newest first."""

    runs: list[RunOut]


class NotebookList(BaseModel):
    """The notebooks a run may name, with their parameters."""

    notebooks: list[dict[str, Any]]


def _url(run: Run, output: dict[str, Any]) -> str:
    if output["kind"] == "product":
        return f"/api/files/{output['name']}"
    return f"/api/runs/{run.id}/outputs/{output['name']}"


def _out(run: Run, job: Job) -> RunOut:
    return RunOut(
        id=run.id,
        job=job.id,
        notebook=run.notebook,
        notebook_sha256=run.notebook_sha256,
        mission=run.mission or None,
        status=job.status.value,
        submitter=run.submitter,
        submitted_at=run.submitted_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        parameters=run.parameters,
        progress=ProgressOut(done=run.cells_done, total=run.cells_total),
        outputs=[OutputOut(name=o["name"], kind=o["kind"], url=_url(run, o)) for o in run.outputs],
        reads=run.reads,
        error=run.error,
        log_tail=job.log_tail,
    )


def _row(runtime: Runtime, run_id: int) -> tuple[Run, Job]:
    with runtime.catalog.session() as session:
        found = session.execute(
            select(Run, Job).join(Job, Job.id == Run.job_id).where(Run.id == run_id)
        ).first()
    if found is None:
        raise NotFoundError(f"no run {run_id}")
    return found[0], found[1]


def _visible(runtime: Runtime, guard: GuardDep, run_id: int) -> tuple[Run, Job]:
    run, job = _row(runtime, run_id)
    if not may_see(runtime, guard.identity, run):
        if guard.identity.anonymous:
            guard.require(Action.ANALYSE)  # 401: a token could help
        raise NotFoundError(f"no run {run_id}")  # never say a run exists to who may not see it
    return run, job


@router.get("/notebooks", response_model=NotebookList, summary="The notebook library")
def notebooks(runtime: RuntimeDep, guard: GuardDep) -> NotebookList:
    """Each library notebook with its parameters (name, type, default): a run form's fields.

    For who may submit runs (scope ``run``).
    """
    guard.require(Action.ANALYSE)
    found = library(runtime.settings, runtime.missions)
    return NotebookList(notebooks=[n.as_dict() for n in found])


async def _request(request: Request, folder: Path) -> tuple[RunRequest, bytes | None]:
    """The run asked for: JSON, or multipart (``notebook`` file, ``parameters``, ``force``)."""
    kind = request.headers.get("content-type", "")
    if not kind.startswith("multipart/form-data"):
        try:
            return RunRequest.model_validate_json(await request.body()), None
        except ValueError as exc:
            raise ApiProblem(422, "Invalid request", f"a run request: {exc}") from exc
    async with request.form(max_files=1, max_fields=10) as form:
        content, filename = await read_form_file(form, "notebook", MAX_NOTEBOOK_BYTES, "notebook")
        try:
            parameters = json.loads(str(form.get("parameters") or "{}"))
        except json.JSONDecodeError as exc:
            raise ApiProblem(422, "Invalid request", f"parameters: not JSON ({exc})") from exc
        if not isinstance(parameters, dict):
            raise ApiProblem(422, "Invalid request", "parameters: give a JSON object")
        force = str(form.get("force") or "").lower() in ("1", "true", "yes")
        name = Path(filename or "upload.ipynb").name
    path = folder / "upload.ipynb"
    path.write_bytes(content)
    return RunRequest(notebook=name, parameters=parameters, force=force), content


def _submit(
    runtime: Runtime, guard: GuardDep, asked: RunRequest, upload: bytes | None, folder: Path
) -> Submitted:
    if upload is not None:
        notebook: Notebook = inspect(folder / "upload.ipynb", name=asked.notebook, origin="upload")
    else:
        try:
            notebook = find(runtime.settings, runtime.missions, asked.notebook)
        except NotFoundError as exc:
            raise ApiProblem(422, "Invalid request", str(exc)) from exc
    check_parameters(notebook, asked.parameters)
    done = submit(
        runtime, guard.identity, notebook, asked.parameters, force=asked.force, upload=upload
    )
    if done.created:
        audit(runtime.catalog, guard.identity.label, "run.submit", notebook.name, run=done.run.id)
    return done


@router.post(
    "/runs",
    response_model=RunOut,
    status_code=202,
    summary="Run a notebook",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": RunRequest.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "notebook": {"type": "string", "format": "binary"},
                            "parameters": {"type": "string", "description": "a JSON object"},
                            "force": {"type": "boolean"},
                        },
                        "required": ["notebook"],
                    }
                },
            }
        }
    },
)
async def submit_run(request: Request, runtime: RuntimeDep, guard: GuardDep) -> Response:
    """Queue a run of a library notebook (JSON) or an uploaded one (multipart).

    202 with the new run; 200 with the existing one when the same notebook, parameters
    and submitter ran already on inputs that have not changed (``force`` runs it
    again). 422 for an unknown notebook, or parameters the notebook does not take
    (the answer lists its parameters). Scope ``run``.
    """
    guard.require(Action.ANALYSE)
    with tempfile.TemporaryDirectory(prefix="socstack-run-") as scratch:
        folder = Path(scratch)
        asked, upload = await _request(request, folder)
        done = await run_in_threadpool(_submit, runtime, guard, asked, upload, folder)
    body = _out(done.run, done.job).model_dump(mode="json")
    return JSONResponse(body, status_code=202 if done.created else 200)


@router.get("/runs", response_model=RunList, summary="List runs")
def list_runs(
    runtime: RuntimeDep,
    guard: GuardDep,
    *,
    mine: Annotated[bool, Query(description="Only the asker's own runs.")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> RunList:
    """The runs the asker may see (their own; all, for operators), newest first."""
    if guard.identity.anonymous:
        guard.require(Action.ANALYSE)  # 401: runs are their submitters'
    query = select(Run, Job).join(Job, Job.id == Run.job_id).order_by(Run.id.desc())
    if mine or not guard.identity.staff:
        query = query.where(Run.submitter == guard.identity.label)
    with runtime.catalog.session() as session:
        rows = session.execute(query.limit(limit)).all()
    return RunList(runs=[_out(r, j) for r, j in rows])


@router.get("/runs/{run_id}", response_model=RunOut, summary="One run")
def run_detail(runtime: RuntimeDep, guard: GuardDep, run_id: PathId) -> RunOut:
    """A run: status, progress (cells done of total), log tail, outputs, error."""
    run, job = _visible(runtime, guard, run_id)
    return _out(run, job)


@router.get("/runs/{run_id}/outputs/{name}", summary="One output of a run")
def run_output(runtime: RuntimeDep, guard: GuardDep, run_id: PathId, name: str) -> Response:
    """An artifact of a run (the executed notebook, its HTML, a figure, its provenance).

    The HTML is served with a sandboxing Content-Security-Policy: no script runs.
    """
    run, _ = _visible(runtime, guard, run_id)
    output = next((o for o in run.outputs if o["name"] == name and o["kind"] != "product"), None)
    if output is None:
        raise NotFoundError(f"run {run_id} has no output {name!r}")
    with runtime.archive.open(output["key"]) as handle:
        content = handle.read()
    headers = {"Content-Security-Policy": SANDBOX} if output["kind"] == "html" else {}
    if output["kind"] == "notebook":
        headers["Content-Disposition"] = f'attachment; filename="run-{run_id}.ipynb"'
    media = _MEDIA.get(output["kind"], "application/octet-stream")
    return Response(content, media_type=media, headers=headers)
