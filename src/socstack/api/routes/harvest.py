"""``/api/harvest``: where each harvested product stands, day by day.

What a harvest pass did is the mission's operational state, like its jobs: the
mission's team members and the operators see it (``read_jobs``). Each source shows its
peer, the peer's dataset, the interface its schema is archived under, the last pass and
its error, the days by status, and every failed day with its reason (the peer's 500,
a cut-off response, a stall), which the next pass fetches again.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from socstack.access import Action
from socstack.api.deps import GuardDep, RuntimeDep
from socstack.catalog.harvests import HarvestDay, HarvestSourceRow
from socstack.harvest.harvester import harvested_products

router = APIRouter(tags=["harvest"])


class FailedDay(BaseModel):
    """A day the last pass could not archive, and why."""

    day: str
    error: str
    at: dt.datetime


class SourceOut(BaseModel):
    """One harvested product and how its harvest stands."""

    mission: str
    product: str
    peer: str
    url: str | None = None
    dataset: str
    interface: int = 1
    last_pass_at: dt.datetime | None = None
    last_error: str | None = None
    days: dict[str, int] = Field(
        default_factory=dict, description="Days by status: archived, unchanged, empty, failed."
    )
    failed: list[FailedDay] = Field(default_factory=list)


class HarvestList(BaseModel):
    """The harvested products of the missions the asker works on."""

    sources: list[SourceOut]


@router.get("/harvest", response_model=HarvestList, summary="Harvest status")
def list_harvest(runtime: RuntimeDep, guard: GuardDep) -> HarvestList:
    """Every harvested product of the asker's missions (401/403 for who sees none)."""
    missions = runtime.access.missions_of(guard.identity)
    if not missions:
        guard.require(Action.READ_JOBS)
    declared = [(m, p) for m, p in harvested_products(runtime) if m.name in missions]
    with runtime.catalog.session() as session:
        rows = {
            (r.mission, r.product): r
            for r in session.scalars(
                select(HarvestSourceRow).where(HarvestSourceRow.mission.in_(missions))
            )
        }
        days = list(session.scalars(select(HarvestDay).where(HarvestDay.mission.in_(missions))))
    out = []
    for mission, product in declared:
        source = product.harvest
        assert source is not None  # noqa: S101
        row = rows.get((mission.name, product.id))
        mine = [d for d in days if (d.mission, d.product) == (mission.name, product.id)]
        counts: dict[str, int] = {}
        for d in mine:
            counts[d.status] = counts.get(d.status, 0) + 1
        out.append(
            SourceOut(
                mission=mission.name,
                product=product.id,
                peer=source.peer,
                url=row.url if row else runtime.settings.peers.get(source.peer) or source.url,
                dataset=source.dataset,
                interface=row.interface if row else 1,
                last_pass_at=row.last_pass_at if row else None,
                last_error=row.last_error if row else None,
                days=counts,
                failed=[
                    FailedDay(day=d.partition, error=d.error or "", at=d.fetched_at)
                    for d in sorted(mine, key=lambda d: d.partition)
                    if d.status == "failed"
                ],
            )
        )
    return HarvestList(sources=out)
