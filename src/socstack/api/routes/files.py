"""``/api/files``: search, download and upload archived files, each as the asker may.

A search lists only the files whose whole range the asker may see (``Action.READ``,
``whole=True``), filtered in the catalog query itself so that pages are full and totals
count what is listed. One file's doors (download, ``HEAD``, metadata, provenance) answer
**404** when no file has that name, **401** (with ``WWW-Authenticate``) when an anonymous
request may not see it and a token could help, and **403** when a known identity may
not: a file's existence is not a secret (names follow the mission's public patterns),
its content may be. An upload must be of a product the uploader's team delivers
(``Action.UPLOAD``), checked before anything is archived.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from socstack._exceptions import FileNameError, NotFoundError
from socstack.access import Action, Decision
from socstack.api.deps import Guard, GuardDep, IngestorDep, RuntimeDep, VocabularyDep
from socstack.api.errors import Refused, problem
from socstack.api.schemas import MAX_ID, FileList, FileOut, ProvenanceNode
from socstack.api.visibility import PUBLIC, Sight, file_span
from socstack.catalog.models import File, FileSource, Provenance
from socstack.catalog.queries import FileQuery, find_files
from socstack.formats.registry import media_type
from socstack.ingest.results import IngestResult, Outcome
from socstack.mission.versions import Version
from socstack.runtime import Runtime

router = APIRouter(prefix="/files", tags=["files"])

Token = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_CHUNK = 1 << 20
MAX_PROVENANCE_DEPTH = 20
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def file_out(row: File, public: Sight) -> FileOut:
    """The API view of a catalog row; ``released`` says whether the public may see all of it."""
    return FileOut(
        name=row.name,
        mission=row.mission,
        product=row.product,
        instrument=row.instrument,
        level=row.level,
        descriptor=row.descriptor,
        partition=row.partition,
        start=row.start,
        stop=row.stop,
        version=row.version,
        format=row.format,
        size=row.size,
        sha256=row.sha256,
        records=row.records,
        status=row.status.value,
        source=row.source.value,
        ingested_at=row.ingested_at,
        released=public.sees(row),
        url=f"/api/files/{row.name}",
    )


def _products(
    runtime: Runtime,
    mission: str | None,
    instrument: str | None,
    level: str | None,
    product: str | None,
) -> list[tuple[str, str]]:
    """The products a search's filters select (whose visibility the search needs)."""
    return [
        (p.mission, p.id)
        for p in runtime.missions.products()
        if (mission is None or p.mission == mission)
        and (instrument is None or p.instrument == instrument)
        and (level is None or p.level == level)
        and (product is None or p.id == product)
    ]


@router.get("", response_model=FileList, summary="Search files")
def list_files(
    *,
    runtime: RuntimeDep,
    guard: GuardDep,
    vocabulary: VocabularyDep,
    mission: Token = None,
    instrument: Token = None,
    level: Token = None,
    product: Token = None,
    start: Annotated[
        dt.datetime | None, Query(description="Files overlapping [start, stop).")
    ] = None,
    stop: Annotated[dt.datetime | None, Query()] = None,
    version: Annotated[
        str, Query(description="latest (default), all, or one version X.Y.Z")
    ] = "latest",
    ingested_since: Annotated[
        dt.datetime | None, Query(description="Only files ingested at or after this time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> FileList | JSONResponse:
    """Files filtered by mission, instrument, level, product, time overlap and version.

    Times without a zone are UTC. Only the newest version of each partition is listed
    unless ``version=all``. A mission, instrument, level or product that no loaded
    mission declares is refused (422, with the values it takes).

    Only the files whose whole time range the asker may see are listed (anonymous: the
    public ones), and ``total`` counts those.
    """
    vocabulary.check(mission=mission, instrument=instrument, level=level, product=product)
    start, stop, ingested_since = _utc(start), _utc(stop), _utc(ingested_since)
    if start and stop and start >= stop:
        return problem(422, "Invalid request", "start must be before stop")
    wanted: str | Version = version
    if version not in ("latest", "all"):
        try:
            wanted = Version.parse(version)
        except ValueError:
            return problem(422, "Invalid request", "version: use latest, all or X.Y.Z")
    query = FileQuery(
        mission=mission,
        instrument=instrument,
        level=level,
        product=product,
        start=start,
        stop=stop,
        version=wanted,
        ingested_since=ingested_since,
    )
    seen = Sight(runtime.access, guard.identity).where(
        _products(runtime, mission, instrument, level, product)
    )
    with runtime.catalog.session() as session:
        rows, total = find_files(session, query, limit=limit, offset=offset, where=seen)
    public = Sight(runtime.access, PUBLIC)
    return FileList(
        total=total, limit=limit, offset=offset, files=[file_out(r, public) for r in rows]
    )


def _read(guard: Guard, row: File) -> Decision:
    """The asker may see all of this file, or the request is refused (401 or 403)."""
    start, stop = file_span(row.start, row.stop)
    return guard.require(
        Action.READ, mission=row.mission, product=row.product, start=start, stop=stop, whole=True
    )


def _row(runtime: Runtime, guard: Guard, name: str) -> File:
    """The file called ``name`` if the asker may see it (404 if there is none)."""
    with runtime.catalog.session() as session:
        row = session.scalar(select(File).where(File.name == name))
    if row is None:
        raise NotFoundError(f"no file named {name!r}")
    _read(guard, row)
    return row


def _tree(session: Session, guard: Guard, row: File, depth: int = 0) -> ProvenanceNode:
    """A file's node with its inputs; an input the asker may not see is withheld, unnamed."""
    inputs = []
    if depth < MAX_PROVENANCE_DEPTH:
        parents = session.scalars(
            select(File)
            .join(Provenance, Provenance.input_id == File.id)
            .where(Provenance.output_id == row.id)
            .order_by(File.name)
        )
        for parent in parents:
            start, stop = file_span(parent.start, parent.stop)
            seen = guard.decide(
                Action.READ,
                mission=parent.mission,
                product=parent.product,
                start=start,
                stop=stop,
                whole=True,
            )
            if seen.allowed:
                inputs.append(_tree(session, guard, parent, depth + 1))
            else:
                inputs.append(ProvenanceNode(withheld=True, product=parent.product))
    return ProvenanceNode(
        name=row.name,
        product=row.product,
        level=row.level,
        version=row.version,
        status=row.status.value,
        source=row.source.value,
        code_version=row.code_version,
        job=row.job_id,
        inputs=inputs,
    )


@router.get(
    "/{name}/provenance",
    response_model=ProvenanceNode,
    summary="Where a file came from, down to L0",
)
def provenance(runtime: RuntimeDep, guard: GuardDep, name: str) -> ProvenanceNode:
    """The file, the files it was made from, theirs, and so on down to the deliveries.

    Each node gives the code version and the job that made it; deliveries (L0,
    calibrations) have no inputs. An input the asker may not see is shown as
    ``{"withheld": true, "product": ...}``: that the file had such an input is no secret
    (the mission's rules say so), which file it was and what it holds may be.
    """
    with runtime.catalog.session() as session:
        row = session.scalar(select(File).where(File.name == name))
        if row is None:
            raise NotFoundError(f"no file named {name!r}")
        _read(guard, row)
        return _tree(session, guard, row)


@router.get("/{name}/metadata", response_model=FileOut, summary="One file's catalog entry")
def file_metadata(runtime: RuntimeDep, guard: GuardDep, name: str) -> FileOut:
    """The catalog entry of one file."""
    return file_out(_row(runtime, guard, name), Sight(runtime.access, PUBLIC))


def _download_headers(runtime: Runtime, row: File) -> dict[str, str]:
    """Size, checksum, name, and how long caches may keep it.

    A file's bytes never change, but who may see them can (an unrelease): a public file
    may be kept by shared caches for an hour, then revalidated against its ETag; a file
    that is not public only by the asker's own browser, and never by a shared cache.
    """
    public = Sight(runtime.access, PUBLIC).sees(row)
    return {
        "Content-Length": str(row.size),
        "ETag": f'"{row.sha256}"',
        "Content-Disposition": f'attachment; filename="{row.name}"',
        "Cache-Control": "public, max-age=3600" if public else "private, max-age=3600",
        "Vary": "Authorization, Cookie",
    }


def _not_modified(request: Request, headers: dict[str, str]) -> Response | None:
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    return None


@router.get(
    "/{name}",
    summary="Download a file",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download(runtime: RuntimeDep, guard: GuardDep, name: str, request: Request) -> Response:
    """Stream the file's bytes; ``ETag`` is its sha256.

    404 if no file has that name; 401 (anonymous) or 403 if the asker may not see all of it.
    """
    row = _row(runtime, guard, name)
    headers = _download_headers(runtime, row)
    if (unchanged := _not_modified(request, headers)) is not None:
        return unchanged
    handle = runtime.archive.open(row.uri)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    return StreamingResponse(chunks(), media_type=media_type(row.format), headers=headers)


@router.head("/{name}", summary="A file's headers, without its bytes")
def download_headers(runtime: RuntimeDep, guard: GuardDep, name: str, request: Request) -> Response:
    """What ``GET`` would answer (size, ``ETag``, type), with no body.

    Download tools and caches ask this first (``curl -I``, ``wget --spider``, a mirror
    checking its copy is current); the archive is not opened. The same 404, 401 and 403.
    """
    row = _row(runtime, guard, name)
    headers = _download_headers(runtime, row)
    if (unchanged := _not_modified(request, headers)) is not None:
        return unchanged
    return Response(media_type=media_type(row.format), headers=headers)


def _upload_name(request: Request, name: str | None) -> str | None:
    if name:
        return name
    disposition = request.headers.get("content-disposition", "")
    match = _FILENAME.search(disposition)
    return match.group(1).strip() if match else None


async def _spool_body(request: Request, spool: Path, limit: int) -> int:
    size = 0
    with spool.open("wb") as out:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            out.write(chunk)
    return size


async def _spool_multipart(request: Request, spool: Path, limit: int) -> str | None:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise _NoFile
        size = 0
        with spool.open("wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise _TooLarge
                out.write(chunk)
        return upload.filename


class _TooLarge(Exception):  # noqa: N818 - internal signal
    pass


class _NoFile(Exception):  # noqa: N818 - internal signal
    pass


_OUTCOME_STATUS = {Outcome.ARCHIVED: 201, Outcome.UNCHANGED: 200}


@router.post(
    "",
    response_model=IngestResult,
    status_code=201,
    summary="Upload a file",
    responses={
        200: {"model": IngestResult, "description": "Already archived with the same content"},
        409: {"model": IngestResult, "description": "Same name, other content: quarantined"},
        413: {"description": "Larger than SOC_UPLOAD_MAX_BYTES"},
        422: {"model": IngestResult, "description": "Rejected and quarantined, with the reason"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
async def upload(
    request: Request,
    runtime: RuntimeDep,
    guard: GuardDep,
    ingestor: IngestorDep,
    name: Annotated[str | None, Query(description="File name (raw-body uploads)")] = None,
) -> JSONResponse:
    """Ingest one file: multipart (field ``file``) or the raw body with ``?name=``.

    The same checks as every other door apply; a rejected file is quarantined and the
    response says why (422, or 409 when the name is archived with other content).

    Only an instrument's team (and operators, admins) uploads its products' files, with
    a token of scope ``upload``: 401 without one, 403 for another team's product. Who may
    upload nothing is refused before the body is read; a name given in the URL or a
    ``Content-Disposition`` header is checked before the body is read too, a multipart
    file's name once the form is read, and always before anything is archived. A name
    that matches no product is quarantined with its reason, for anyone who may upload.
    """
    await run_in_threadpool(_may_upload_something, runtime, guard)
    filename = _upload_name(request, name)
    if filename:
        await run_in_threadpool(_may_upload, runtime, guard, filename)
    settings = runtime.settings
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    spool = settings.spool_dir / f"upload-{uuid.uuid4().hex}"
    try:
        try:
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                sent = await _spool_multipart(request, spool, settings.upload_max_bytes)
                filename = name or sent
            else:
                await _spool_body(request, spool, settings.upload_max_bytes)
        except _TooLarge:
            return problem(
                413, "Too large", f"uploads are limited to {settings.upload_max_bytes} bytes"
            )
        except _NoFile:
            return problem(
                422, "Invalid request", "file: send the file in a form field named 'file'"
            )
        if not filename:
            return problem(
                422, "Invalid request", "name: give ?name= or a Content-Disposition filename"
            )
        await run_in_threadpool(_may_upload, runtime, guard, filename)
        result = await run_in_threadpool(
            ingestor.ingest, spool, source=FileSource.UPLOAD, name=filename
        )
        status = _OUTCOME_STATUS.get(result.outcome, 409 if result.kind == "conflict" else 422)
        return JSONResponse(result.as_dict(), status_code=status)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)


def _upload_decisions(runtime: Runtime, guard: Guard) -> list[Decision]:
    return [
        guard.decide(Action.UPLOAD, mission=mission, product=product)
        for mission, product in _products(runtime, None, None, None, None)
    ]


def _may_upload_something(runtime: Runtime, guard: Guard) -> None:
    """Refuse at once who may upload no product at all (anonymous, a read-only token)."""
    decisions = _upload_decisions(runtime, guard)
    if not any(decisions):
        refusal = decisions[0] if decisions else guard.decide(Action.UPLOAD)
        raise Refused(refusal, Action.UPLOAD.value)


def _may_upload(runtime: Runtime, guard: Guard, filename: str) -> None:
    """Refuse an upload of a product the asker's team does not deliver.

    A name that matches no product has no team: whoever may upload something may send
    it, and it is quarantined with its reason (nothing is lost, the sender learns why).
    """
    try:
        product, _ = runtime.missions.parse_name(filename)
    except FileNameError:
        return
    guard.require(Action.UPLOAD, mission=product.mission, product=product.id)
