"""The audit log: every release, approval, token change and refused request, with who."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from socstack.access.redact import redact
from socstack.catalog.accounts import AuditRecord
from socstack.catalog.db import Catalog
from socstack.catalog.models import utcnow

__all__ = ["audit", "audit_entries"]

logger = logging.getLogger(__name__)


def audit(
    catalog: Catalog,
    actor: str,
    action: str,
    target: str = "",
    outcome: str = "ok",
    **detail: Any,
) -> None:
    """Record one action (in its own transaction: a refusal is kept even if nothing else is)."""
    values = {k: redact(v) if isinstance(v, str) else v for k, v in detail.items()}
    with catalog.transaction() as session:
        session.add(
            AuditRecord(
                at=utcnow(),
                actor=actor[:64],
                action=action[:64],
                target=redact(target)[:255],
                outcome=outcome[:16],
                detail=values,
            )
        )
    logger.info("audit: %s %s %s: %s", actor, action, target, outcome)


def audit_entries(
    catalog: Catalog, *, after: int = 0, limit: int = 100, actor: str | None = None
) -> list[AuditRecord]:
    """Audit records after id ``after``, oldest first."""
    query = select(AuditRecord).where(AuditRecord.id > after).order_by(AuditRecord.id).limit(limit)
    if actor:
        query = query.where(AuditRecord.actor == actor)
    with catalog.session() as session:
        return list(session.scalars(query))
