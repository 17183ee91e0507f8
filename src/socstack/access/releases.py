"""Releases as records: a product's time range opened to the public, or closed again.

A release of data older than its policy's latency takes effect when it is made; one of
younger data is early and waits until each role of ``early_approvals`` (an instrument
team member and a project member, two different people) has approved it. An unrelease
closes its range at once. Every request, approval and withdrawal goes to the audit log
and the event log (``release.effective`` for peers and notifiers).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from socstack._exceptions import AccessDenied, NotFoundError, SocError
from socstack.access.audit import audit
from socstack.access.identity import Identity
from socstack.access.intervals import ns
from socstack.catalog.accounts import Approval, Release, ReleaseKind, ReleaseStatus
from socstack.catalog.db import Catalog
from socstack.catalog.events import append_event
from socstack.catalog.models import utcnow
from socstack.mission.loader import MissionRegistry
from socstack.mission.model import Mission

__all__ = ["ReleaseInfo", "Releases", "Span"]

Span = tuple[str, int, int]  # kind, start ns, stop ns


@dataclass(frozen=True)
class ReleaseInfo:
    """A release record as the API and the CLI show it."""

    id: int
    mission: str
    product: str
    dataset: str | None
    start: dt.datetime
    stop: dt.datetime
    kind: str
    early: bool
    status: str
    reason: str
    requested_by: str
    requested_at: dt.datetime
    effective_at: dt.datetime | None
    approvals: dict[str, str]  # role -> who
    waiting_for: list[str]  # roles still to approve


def team_groups(mission: Mission, product: str) -> set[str]:
    """The groups whose members see all of ``product`` before it is public."""
    policy = mission.policy(product)
    project = f"{mission.name}:project"
    if policy.team == "instrument":
        return {f"{mission.name}:{mission.products[product].instrument}", project}
    return {mission.name, project, *(f"{mission.name}:{i}" for i in mission.instruments)}


class Releases:
    """The release records of every mission, and what they open."""

    def __init__(self, catalog: Catalog, missions: MissionRegistry, *, cache_seconds: float):
        self.catalog = catalog
        self.missions = missions
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, str], tuple[float, tuple[Span, ...]]] = {}
        self._lock = threading.Lock()

    # -- what is in force -------------------------------------------------------------------
    def spans(self, mission: str, product: str) -> tuple[Span, ...]:
        """The effective releases and unreleases of a product, in the order they took effect."""
        key = (mission, product)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.catalog.session() as session:
            rows = session.scalars(
                select(Release)
                .where(
                    (Release.mission == mission)
                    & (Release.product == product)
                    & (Release.status == ReleaseStatus.EFFECTIVE)
                )
                .order_by(Release.effective_at, Release.id)
            )
            spans = tuple((r.kind.value, ns(r.start), ns(r.stop)) for r in rows)
        with self._lock:
            self._cache[key] = (now, spans)
        return spans

    def forget(self) -> None:
        """Drop what this process remembers (after a change it made)."""
        with self._lock:
            self._cache.clear()

    # -- changes ----------------------------------------------------------------------------
    def _resolve(
        self, mission: str, product: str | None, dataset: str | None
    ) -> tuple[Mission, str]:
        found = self.missions.mission(mission)
        if dataset is not None:
            config = found.datasets.get(dataset)
            if config is None:
                raise NotFoundError(f"mission {mission!r} has no dataset {dataset!r}")
            if product is not None and product != config.product:
                raise SocError(f"dataset {dataset} is of product {config.product}, not {product}")
            product = config.product
        if product is None or product not in found.products:
            raise NotFoundError(f"mission {mission!r} has no product {product!r}")
        return found, product

    def request(
        self,
        identity: Identity,
        *,
        mission: str,
        start: dt.datetime,
        stop: dt.datetime,
        reason: str,
        product: str | None = None,
        dataset: str | None = None,
        kind: ReleaseKind = ReleaseKind.RELEASE,
    ) -> ReleaseInfo:
        """Release (or unrelease) a product's data from ``start`` to ``stop``.

        Raises
        ------
        AccessDenied
            The identity may not release this product (its team, the project, admins).
        SocError
            The product is never public, the range is empty, or no reason is given.
        """
        spec, product = self._resolve(mission, product, dataset)
        where = f"{mission}/{product} {start:%Y-%m-%dT%H:%M:%SZ}/{stop:%Y-%m-%dT%H:%M:%SZ}"
        if not self.may_release(identity, spec, product):
            audit(self.catalog, identity.label, f"{kind.value}.request", where, "denied")
            raise AccessDenied(f"{identity.label} may not release {mission}/{product}")
        if stop <= start:
            raise SocError("a release's stop must be after its start")
        if not reason.strip():
            raise SocError("say why (a reason is kept with the release)")
        policy = spec.policy(product)
        if kind == ReleaseKind.RELEASE and policy.public == "never":
            raise SocError(f"{mission}/{product} is never public by the mission's policy")
        now = utcnow()
        early = (
            kind == ReleaseKind.RELEASE
            and policy.latency_days > 0
            and stop > now - dt.timedelta(days=policy.latency_days)
            and bool(spec.release.early_approvals)
        )
        status = ReleaseStatus.PENDING if early else ReleaseStatus.EFFECTIVE
        with self.catalog.transaction() as session:
            row = Release(
                mission=mission,
                product=product,
                dataset=dataset,
                start=start,
                stop=stop,
                kind=kind,
                early=early,
                status=status,
                reason=reason.strip(),
                requested_by=identity.label,
                requested_at=now,
                effective_at=None if early else now,
            )
            session.add(row)
            session.flush()
            release_id = row.id
            if not early:
                self._effective_event(session, row)
        self.forget()
        audit(
            self.catalog,
            identity.label,
            f"{kind.value}.request",
            where,
            status.value,
            release=release_id,
            reason=reason,
        )
        return self.get(release_id)

    def approve(self, identity: Identity, release_id: int, role: str) -> ReleaseInfo:
        """Approve an early release in ``role``; the last approval makes it take effect."""
        with self.catalog.transaction() as session:
            row = session.get(Release, release_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no release {release_id}")
            spec = self.missions.mission(row.mission)
            roles = list(spec.release.early_approvals)
            target = f"release {release_id}"
            if role not in roles:
                raise SocError(f"roles that approve {row.mission}'s releases: {', '.join(roles)}")
            if row.status != ReleaseStatus.PENDING:
                raise SocError(f"release {release_id} is {row.status.value}, not pending")
            group = (
                f"{row.mission}:{spec.products[row.product].instrument}"
                if role == "instrument"
                else f"{row.mission}:project"
            )
            if not identity.can("release") or not (identity.admin or identity.member(group)):
                denied = f"{identity.label} may not approve as {role} ({group})"
                outcome = "denied"
            else:
                denied = None
                outcome = self._record_approval(session, row, identity, role, roles)
        if denied is not None:
            audit(self.catalog, identity.label, "release.approve", target, outcome, role=role)
            raise AccessDenied(denied)
        self.forget()
        audit(self.catalog, identity.label, "release.approve", target, outcome, role=role)
        return self.get(release_id)

    def _record_approval(
        self, session: Session, row: Release, identity: Identity, role: str, roles: list[str]
    ) -> str:
        """Add the approval; the last one needed makes the release take effect."""
        given = {
            a.role: a.approved_by
            for a in session.scalars(select(Approval).where(Approval.release_id == row.id))
        }
        if role in given:
            raise SocError(f"release {row.id} is approved as {role} already")
        if identity.label in given.values():
            raise SocError("an early release needs two different people to approve it")
        session.add(Approval(release_id=row.id, role=role, approved_by=identity.label))
        given[role] = identity.label
        if all(r in given for r in roles):
            row.status = ReleaseStatus.EFFECTIVE
            row.effective_at = utcnow()
            self._effective_event(session, row)
        return row.status.value

    def withdraw(self, identity: Identity, release_id: int) -> ReleaseInfo:
        """Cancel a pending release (an effective one is undone by an unrelease)."""
        with self.catalog.transaction() as session:
            row = session.get(Release, release_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no release {release_id}")
            spec = self.missions.mission(row.mission)
            allowed = self.may_release(identity, spec, row.product)
            if allowed and row.status != ReleaseStatus.PENDING:
                raise SocError(f"release {release_id} is {row.status.value}; unrelease it instead")
            if allowed:
                row.status = ReleaseStatus.WITHDRAWN
        if not allowed:
            audit(self.catalog, identity.label, "release.withdraw", str(release_id), "denied")
            raise AccessDenied(f"{identity.label} may not withdraw release {release_id}")
        audit(self.catalog, identity.label, "release.withdraw", str(release_id))
        return self.get(release_id)

    @staticmethod
    def may_release(identity: Identity, mission: Mission, product: str) -> bool:
        """Whether ``identity`` may release, unrelease or withdraw ``product``'s data."""
        if not identity.can("release"):
            return False
        return identity.admin or bool(identity.groups & team_groups(mission, product))

    def _effective_event(self, session: Session, row: Release) -> None:
        payload = {
            "release": row.id,
            "mission": row.mission,
            "product": row.product,
            "kind": row.kind.value,
            "start": row.start.isoformat(),
            "stop": row.stop.isoformat(),
        }
        append_event(
            self.catalog, session, "release.effective", f"{row.mission}/{row.product}", payload
        )

    # -- listing ----------------------------------------------------------------------------
    def get(self, release_id: int) -> ReleaseInfo:
        """One release record."""
        found = self.list(ids=[release_id])
        if not found:
            raise NotFoundError(f"no release {release_id}")
        return found[0]

    def list(
        self,
        *,
        mission: str | None = None,
        product: str | None = None,
        status: str | None = None,
        ids: list[int] | None = None,
        limit: int = 1000,
    ) -> list[ReleaseInfo]:
        """Release records, newest first."""
        query = select(Release).order_by(Release.id.desc()).limit(limit)
        if mission:
            query = query.where(Release.mission == mission)
        if product:
            query = query.where(Release.product == product)
        if status:
            query = query.where(Release.status == status)
        if ids is not None:
            query = query.where(Release.id.in_(ids))
        with self.catalog.session() as session:
            rows = list(session.scalars(query))
            approvals: dict[int, dict[str, str]] = {}
            for approval in session.scalars(
                select(Approval).where(Approval.release_id.in_([r.id for r in rows]))
            ):
                approvals.setdefault(approval.release_id, {})[approval.role] = approval.approved_by
        out = []
        for r in rows:
            known = self.missions.missions.get(r.mission)
            roles = known.release.early_approvals if known is not None else []
            given = approvals.get(r.id, {})
            pending = r.status == ReleaseStatus.PENDING
            out.append(
                ReleaseInfo(
                    id=r.id,
                    mission=r.mission,
                    product=r.product,
                    dataset=r.dataset,
                    start=r.start,
                    stop=r.stop,
                    kind=r.kind.value,
                    early=r.early,
                    status=r.status.value,
                    reason=r.reason,
                    requested_by=r.requested_by,
                    requested_at=r.requested_at,
                    effective_at=r.effective_at,
                    approvals=given,
                    waiting_for=[role for role in roles if role not in given] if pending else [],
                )
            )
        return out
