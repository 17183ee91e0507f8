"""``/api/audit``: who released, approved, changed tokens or was refused (admins only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from socstack.access import Action
from socstack.access.audit import audit_entries
from socstack.api.deps import RuntimeDep, requires
from socstack.api.schemas import MAX_ID, AuditList, AuditOut

router = APIRouter(prefix="/audit", tags=["access"], dependencies=[requires(Action.ADMIN)])


@router.get("", response_model=AuditList, summary="The audit log")
def list_audit(
    runtime: RuntimeDep,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Entries with a larger id.")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    actor: Annotated[str | None, Query(max_length=64)] = None,
) -> AuditList:
    """Audit entries oldest first, paged by id: keep ``last_id``, ask with ``after=last_id``.

    Releases and their approvals, token and user changes, retries and reprocessing, and
    every refused request (outcome ``denied``: who, what, where, why; never a token).
    """
    rows = audit_entries(runtime.catalog, after=after, limit=limit, actor=actor)
    entries = [
        AuditOut(
            id=r.id,
            at=r.at,
            actor=r.actor,
            action=r.action,
            target=r.target,
            outcome=r.outcome,
            detail=r.detail or {},
        )
        for r in rows
    ]
    return AuditList(entries=entries, last_id=entries[-1].id if entries else after)
