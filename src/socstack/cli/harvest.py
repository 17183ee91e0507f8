"""``socstack harvest run|status``: pull the missions' peer HAPI datasets into the archive.

A harvested product is declared in its mission's YAML (``harvest:`` on the product);
``run`` makes one pass over each (or those named), fetching what may have changed,
and prints what became of each day. Scheduling passes is the operator's (a cron job or
the cluster's CronJob running ``socstack harvest run``); the planner takes it from the
archive like any delivery.
"""

from __future__ import annotations

import json

import click
from sqlalchemy import select

from socstack.catalog.harvests import HarvestDay, HarvestSourceRow
from socstack.cli._base import catalog_runtime, main


@main.group()
def harvest() -> None:
    """Harvest from peer HAPI servers: run a pass, show where each source stands."""


@harvest.command("run")
@click.option("--mission", help="Only this mission's harvested products.")
@click.option("--product", help="Only this product.")
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
@click.pass_context
def harvest_run(
    ctx: click.Context, mission: str | None, product: str | None, as_json: bool
) -> None:
    """One pass over the harvested products: new and changed days archived."""
    from socstack.harvest.harvester import HarvestError, harvest, harvested_products

    runtime = catalog_runtime(ctx)
    chosen = [
        (m, p)
        for m, p in harvested_products(runtime)
        if (mission is None or m.name == mission) and (product is None or p.id == product)
    ]
    if not chosen:
        raise click.UsageError("no harvested product matches (a product with harvest: in YAML)")
    reports, failures = [], 0
    for found_mission, found in chosen:
        try:
            report = harvest(runtime, found_mission, found)
        except HarvestError as exc:
            failures += 1
            click.secho(f"{found.key}: {exc}", err=True, fg="red")
            continue
        reports.append(report.as_dict())
        failures += len(report.failed)
        if not as_json:
            click.echo(
                f"{found.key}: {len(report.archived)} archived, {len(report.unchanged)} unchanged,"
                f" {len(report.empty)} empty, {len(report.failed)} failed, {report.skipped} not"
                f" fetched ({report.requests} requests, interface {report.interface})"
            )
            for day, reason in sorted(report.failed.items()):
                click.echo(f"  {day} failed: {reason}")
    if as_json:
        click.echo(json.dumps(reports, indent=1))
    if failures:
        ctx.exit(1)


@harvest.command("status")
@click.pass_context
def harvest_status(ctx: click.Context) -> None:
    """Each source's peer and last pass, and its days by status."""
    runtime = catalog_runtime(ctx)
    with runtime.catalog.session() as session:
        sources = session.scalars(select(HarvestSourceRow).order_by(HarvestSourceRow.id)).all()
        days = session.scalars(select(HarvestDay)).all()
        for source in sources:
            mine = [d for d in days if (d.mission, d.product) == (source.mission, source.product)]
            counts: dict[str, int] = {}
            for d in mine:
                counts[d.status] = counts.get(d.status, 0) + 1
            when = source.last_pass_at.isoformat() if source.last_pass_at else "never"
            shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no days"
            click.echo(
                f"{source.mission}/{source.product} <- {source.url} {source.dataset}"
                f" (interface {source.interface}, last pass {when}): {shown}"
            )
            if source.last_error:
                click.echo(f"  error: {source.last_error}")
            for d in sorted(mine, key=lambda d: d.partition):
                if d.status == "failed":
                    click.echo(f"  {d.partition} failed: {d.error}")
