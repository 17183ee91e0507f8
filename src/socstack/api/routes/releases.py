"""``/api/releases``: opening a product's data to the public, and closing it again.

Releases are records (:mod:`socstack.access.releases`), which decides who may make,
approve and withdraw them and audits each. A release of data younger than its
product's latency is early: it is pending until the roles of the mission's
``early_approvals`` (an instrument-team member, a project member: two people) approve
it. An unrelease (``kind: unrelease``) closes its range at once.

Who sees a record (:func:`socstack.api.visibility.release_seen`, the same for the
event log): the product's team, admins and operators see every one; anyone else sees
the effective releases of data they may now see, and the effective unreleases of data
that was public (a peer that mirrored it learns to drop it). Pending and withdrawn
records stay with the team.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from socstack._exceptions import NotFoundError
from socstack.access import Action
from socstack.access.releases import ReleaseInfo
from socstack.api.deps import Guard, GuardDep, RuntimeDep
from socstack.api.errors import ApiProblem, Refused, translate
from socstack.api.schemas import ApprovalIn, PathId, ReleaseIn, ReleaseList, ReleaseOut
from socstack.api.visibility import release_seen
from socstack.catalog.accounts import ReleaseKind
from socstack.runtime import Runtime

router = APIRouter(prefix="/releases", tags=["access"])

Token = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


def release_out(info: ReleaseInfo) -> ReleaseOut:
    """The API view of a release record."""
    return ReleaseOut(
        id=info.id,
        mission=info.mission,
        product=info.product,
        dataset=info.dataset,
        start=info.start,
        stop=info.stop,
        kind=info.kind,
        early=info.early,
        status=info.status,
        reason=info.reason,
        requested_by=info.requested_by,
        requested_at=info.requested_at,
        effective_at=info.effective_at,
        approvals=info.approvals,
        waiting_for=info.waiting_for,
    )


def seen(guard: Guard, info: ReleaseInfo) -> bool:
    """Whether the asker may see this release record."""
    return release_seen(
        guard,
        mission=info.mission,
        product=info.product,
        kind=info.kind,
        start=info.start,
        stop=info.stop,
        effective=info.status == "effective",
    )


@router.get("", response_model=ReleaseList, summary="List releases")
def list_releases(
    *,
    runtime: RuntimeDep,
    guard: GuardDep,
    mission: Token = None,
    product: Token = None,
    status: Annotated[Literal["pending", "effective", "withdrawn"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> ReleaseList:
    """Release and unrelease records the asker may see, newest first."""
    found = runtime.access.releases.list(
        mission=mission, product=product, status=status, limit=limit
    )
    return ReleaseList(releases=[release_out(r) for r in found if seen(guard, r)])


def _visible(runtime: Runtime, guard: Guard, release_id: int) -> ReleaseInfo:
    """The record, or 404 when there is none or the asker may not see it."""
    info = runtime.access.releases.get(release_id)
    if not seen(guard, info):
        raise NotFoundError(f"no release {release_id}")
    return info


@router.get("/{release_id}", response_model=ReleaseOut, summary="One release")
def get_release(runtime: RuntimeDep, guard: GuardDep, release_id: PathId) -> ReleaseOut:
    """One release record (404 also for one the asker may not see)."""
    return release_out(_visible(runtime, guard, release_id))


@router.post(
    "",
    response_model=ReleaseOut,
    status_code=201,
    summary="Release or unrelease",
    responses={403: {"description": "Not the product's team"}},
)
def request_release(runtime: RuntimeDep, guard: GuardDep, body: ReleaseIn) -> ReleaseOut:
    """Release (``kind: release``) or unrelease a product's data from start to stop.

    For the product's team, its project and admins, with a token of scope ``release``.
    Data older than the latency is released at once (``effective``); younger data is an
    early release, ``pending`` until approved. An unrelease takes effect at once. Name
    the product or its HAPI dataset; say why (``reason``, kept with the record).
    """
    spec = runtime.missions.missions.get(body.mission)
    if spec is None:
        raise ApiProblem(422, "Invalid request", f"mission: no mission {body.mission!r}")
    product = body.product
    if product is None and body.dataset is not None and body.dataset in spec.datasets:
        product = spec.datasets[body.dataset].product
    if product is not None and product in spec.products:
        decision = guard.decide(Action.RELEASE, mission=body.mission, product=product)
        if not decision.allowed:
            raise Refused(decision, Action.RELEASE.value)
    elif guard.identity.anonymous:
        guard.require(Action.RELEASE)
    with translate(422, "Invalid request", not_found=422):
        made = runtime.access.releases.request(
            guard.identity,
            mission=body.mission,
            product=body.product,
            dataset=body.dataset,
            start=body.start,
            stop=body.stop,
            reason=body.reason,
            kind=ReleaseKind(body.kind),
        )
    return release_out(made)


@router.post("/{release_id}/approve", response_model=ReleaseOut, summary="Approve a release")
def approve_release(
    runtime: RuntimeDep, guard: GuardDep, release_id: PathId, body: ApprovalIn
) -> ReleaseOut:
    """Approve a pending early release in one role (``instrument`` or ``project``).

    The instrument's team approves as ``instrument``, the mission's project as
    ``project`` (scope ``release``); two different people. The last approval makes it
    effective. 409 if it is not pending or the role (or the person) approved already.
    """
    if guard.identity.anonymous:
        guard.require(Action.RELEASE)
    info = runtime.access.releases.get(release_id)
    roles = runtime.missions.mission(info.mission).release.early_approvals
    if body.role not in roles:
        raise ApiProblem(
            422, "Invalid request", f"role: {info.mission}'s releases are approved as {roles}"
        )
    with translate(409, "Conflict"):
        return release_out(runtime.access.releases.approve(guard.identity, release_id, body.role))


@router.post("/{release_id}/withdraw", response_model=ReleaseOut, summary="Withdraw a release")
def withdraw_release(runtime: RuntimeDep, guard: GuardDep, release_id: PathId) -> ReleaseOut:
    """Withdraw a pending release (an effective one is undone by an unrelease: 409)."""
    if guard.identity.anonymous:
        guard.require(Action.RELEASE)
    with translate(409, "Conflict"):
        return release_out(runtime.access.releases.withdraw(guard.identity, release_id))
