"""``/api/quarantine``: files that were refused, with their reasons.

What was refused is the data center's working, and a refused file may be anything
(another team's data under a wrong name): operators and admins only
(``Action.OPERATE``), on every route of this router.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from socstack._exceptions import NotFoundError
from socstack.access import Action
from socstack.api.deps import IngestorDep, RuntimeDep, requires
from socstack.api.schemas import MAX_ID, PathId, QuarantineList, QuarantineOut
from socstack.catalog.models import QuarantinedFile

router = APIRouter(
    prefix="/quarantine", tags=["quarantine"], dependencies=[requires(Action.OPERATE)]
)


def _out(row: QuarantinedFile) -> QuarantineOut:
    return QuarantineOut(
        id=row.id,
        name=row.name,
        reason=row.reason,
        kind=row.kind,
        source=row.source.value,
        size=row.size,
        sha256=row.sha256,
        mission=row.mission,
        product=row.product,
        quarantined_at=row.quarantined_at,
    )


@router.get("", response_model=QuarantineList, summary="List quarantined files")
def list_quarantine(
    ingestor: IngestorDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> QuarantineList:
    """Quarantined files, newest first, each with the reason it was refused."""
    return QuarantineList(entries=[_out(r) for r in ingestor.quarantine.entries(limit, offset)])


@router.get("/{entry_id}", response_model=QuarantineOut, summary="One quarantined file")
def quarantine_entry(runtime: RuntimeDep, entry_id: PathId) -> QuarantineOut:
    """One quarantine entry."""
    with runtime.catalog.session() as session:
        row = session.get(QuarantinedFile, entry_id)
    if row is None:
        raise NotFoundError(f"no quarantine entry {entry_id}")
    return _out(row)


@router.get("/{entry_id}/content", summary="Download a quarantined file")
def quarantine_content(runtime: RuntimeDep, entry_id: PathId) -> StreamingResponse:
    """The refused file's bytes, exactly as delivered."""
    with runtime.catalog.session() as session:
        row = session.get(QuarantinedFile, entry_id)
    if row is None:
        raise NotFoundError(f"no quarantine entry {entry_id}")
    handle = runtime.quarantine.open(row.uri)

    def chunks() -> Iterator[bytes]:
        with handle:
            while chunk := handle.read(1 << 20):
                yield chunk

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(row.size), "Content-Disposition": "attachment"},
    )
