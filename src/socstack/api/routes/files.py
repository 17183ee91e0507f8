"""``/api/files``: search, download and upload archived files."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from socstack._exceptions import NotFoundError
from socstack.api.deps import IngestorDep, RuntimeDep, VocabularyDep
from socstack.api.errors import problem
from socstack.api.schemas import FileList, FileOut
from socstack.catalog.models import File, FileSource, Provenance
from socstack.catalog.queries import FileQuery, find_files
from socstack.ingest.results import IngestResult, Outcome
from socstack.mission.versions import Version
from socstack.runtime import Runtime

router = APIRouter(prefix="/files", tags=["files"])

Token = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
_MEDIA = {
    "csv": "text/csv",
    "png": "image/png",
    "cdf": "application/x-cdf",
    "ccsds": "application/octet-stream",
}
_CHUNK = 1 << 20
MAX_PROVENANCE_DEPTH = 20
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def file_out(runtime: Runtime, row: File, now: dt.datetime) -> FileOut:
    """The API view of a catalog row."""
    try:
        release = runtime.missions.mission(row.mission).release
        released = release.is_public(row.level, row.stop or row.start, now)
    except NotFoundError:
        released = False
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
        released=released,
        url=f"/api/files/{row.name}",
    )


@router.get("", response_model=FileList, summary="Search files")
def list_files(
    *,
    runtime: RuntimeDep,
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
    offset: Annotated[int, Query(ge=0)] = 0,
) -> FileList | JSONResponse:
    """Files filtered by mission, instrument, level, product, time overlap and version.

    Times without a zone are UTC. Only the newest version of each partition is listed
    unless ``version=all``. A mission, instrument, level or product that no loaded
    mission declares is refused (422, with the values it takes).
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
    now = dt.datetime.now(dt.UTC)
    with runtime.catalog.session() as session:
        rows, total = find_files(session, query, limit=limit, offset=offset)
    return FileList(
        total=total, limit=limit, offset=offset, files=[file_out(runtime, r, now) for r in rows]
    )


def _row(runtime: Runtime, name: str) -> File:
    with runtime.catalog.session() as session:
        row = session.scalar(select(File).where(File.name == name))
    if row is None:
        raise NotFoundError(f"no file named {name!r}")
    return row


def _tree(session: Session, row: File, depth: int = 0) -> dict[str, Any]:
    inputs = []
    if depth < MAX_PROVENANCE_DEPTH:
        parents = session.scalars(
            select(File)
            .join(Provenance, Provenance.input_id == File.id)
            .where(Provenance.output_id == row.id)
            .order_by(File.name)
        )
        inputs = [_tree(session, parent, depth + 1) for parent in parents]
    return {
        "name": row.name,
        "product": row.product,
        "level": row.level,
        "version": row.version,
        "status": row.status.value,
        "source": row.source.value,
        "code_version": row.code_version,
        "job": row.job_id,
        "inputs": inputs,
    }


@router.get("/{name}/provenance", summary="Where a file came from, down to L0")
def provenance(runtime: RuntimeDep, name: str) -> dict[str, Any]:
    """The file, the files it was made from, theirs, and so on down to the deliveries.

    Each node gives the code version and the job that made it; deliveries (L0,
    calibrations) have no inputs.
    """
    with runtime.catalog.session() as session:
        row = session.scalar(select(File).where(File.name == name))
        if row is None:
            raise NotFoundError(f"no file named {name!r}")
        return _tree(session, row)


@router.get("/{name}/metadata", response_model=FileOut, summary="One file's catalog entry")
def file_metadata(runtime: RuntimeDep, name: str) -> FileOut:
    """The catalog entry of one file."""
    return file_out(runtime, _row(runtime, name), dt.datetime.now(dt.UTC))


def _download_headers(row: File) -> dict[str, str]:
    return {
        "Content-Length": str(row.size),
        "ETag": f'"{row.sha256}"',
        "Content-Disposition": f'attachment; filename="{row.name}"',
        "Cache-Control": "public, max-age=31536000, immutable",
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
def download(runtime: RuntimeDep, name: str, request: Request) -> Response:
    """Stream the file's bytes; ``ETag`` is its sha256."""
    row = _row(runtime, name)
    headers = _download_headers(row)
    if (unchanged := _not_modified(request, headers)) is not None:
        return unchanged
    handle = runtime.archive.open(row.uri)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    media = _MEDIA.get(row.format, "application/octet-stream")
    return StreamingResponse(chunks(), media_type=media, headers=headers)


@router.head("/{name}", summary="A file's headers, without its bytes")
def download_headers(runtime: RuntimeDep, name: str, request: Request) -> Response:
    """What ``GET`` would answer (size, ``ETag``, type), with no body.

    Download tools and caches ask this first (``curl -I``, ``wget --spider``, a mirror
    checking its copy is current); the archive is not opened.
    """
    row = _row(runtime, name)
    headers = _download_headers(row)
    if (unchanged := _not_modified(request, headers)) is not None:
        return unchanged
    return Response(media_type=_MEDIA.get(row.format, "application/octet-stream"), headers=headers)


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
    ingestor: IngestorDep,
    name: Annotated[str | None, Query(description="File name (raw-body uploads)")] = None,
) -> JSONResponse:
    """Ingest one file: multipart (field ``file``) or the raw body with ``?name=``.

    The same checks as every other door apply; a rejected file is quarantined and the
    response says why (422, or 409 when the name is archived with other content).
    """
    settings = runtime.settings
    settings.spool_dir.mkdir(parents=True, exist_ok=True)
    spool = settings.spool_dir / f"upload-{uuid.uuid4().hex}"
    try:
        try:
            if request.headers.get("content-type", "").startswith("multipart/form-data"):
                filename = await _spool_multipart(request, spool, settings.upload_max_bytes)
                filename = name or filename
            else:
                await _spool_body(request, spool, settings.upload_max_bytes)
                filename = _upload_name(request, name)
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
        result = await run_in_threadpool(
            ingestor.ingest, spool, source=FileSource.UPLOAD, name=filename
        )
        status = _OUTCOME_STATUS.get(result.outcome, 409 if result.kind == "conflict" else 422)
        return JSONResponse(result.as_dict(), status_code=status)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(spool)
