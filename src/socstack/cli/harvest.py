"""``socstack harvest run|status|add``: pull the missions' peer HAPI datasets into the archive.

A harvested product is declared in its mission's YAML (``harvest:`` on the product);
``run`` makes one pass over each (or those named), fetching what may have changed,
and prints what became of each day. Scheduling passes is the operator's (a cron job or
the cluster's CronJob running ``socstack harvest run``); the planner takes it from the
archive like any delivery.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

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


@harvest.command("add")
@click.argument("url")
@click.argument("dataset")
@click.option("--mission", "mission_name", help="The loaded mission to add it to.")
@click.option(
    "--mission-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The mission folder to add it to (instead of --mission).",
)
@click.option("--product", help="The product's name (default: from the dataset id).")
@click.option("--peer", help="The peer's name (default: from the URL's host).")
@click.option("--parameter", "parameters", multiple=True, help="A parameter (default: all).")
@click.option("--level", default="l2", show_default=True, help="The product's level.")
@click.option("--instrument", help="The product's instrument (created if new; default: peer).")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), help="The first day to harvest.")
@click.option("--rate", type=float, help="Requests per second to the peer, at most.")
@click.option("--recheck", help="Days fetched again on every pass (ISO duration, e.g. P3D).")
@click.option("--dry-run", is_flag=True, help="Print the stanzas; write nothing.")
@click.pass_context
def harvest_add(  # noqa: PLR0917 - one option each
    ctx: click.Context,
    url: str,
    dataset: str,
    mission_name: str | None,
    mission_dir: Path | None,
    product: str | None,
    peer: str | None,
    parameters: tuple[str, ...],
    level: str,
    instrument: str | None,
    start: dt.datetime | None,
    rate: float | None,
    recheck: str | None,
    dry_run: bool,
) -> None:
    """Declare a peer's HAPI dataset as a harvested product of a mission.

    The peer's info is read first (so a wrong URL or dataset stops here, not at the
    first pass); the product and a HAPI dataset serving it are appended to the
    mission's YAML, which is loaded again and put back as it was if refused.
    """
    from socstack._exceptions import ConfigError
    from socstack.client.hapi import HapiClientError, HapiServer
    from socstack.harvest.declare import (
        Declaration,
        default_peer,
        default_product,
        stanzas,
        write,
    )
    from socstack.mission.loader import load_mission

    settings = ctx.obj["settings"]
    folder = _mission_folder(ctx, mission_name, mission_dir)
    try:
        mission = load_mission(folder)
    except ConfigError as exc:
        raise click.ClickException(f"the mission does not load as it is: {exc}") from exc
    peer = peer or default_peer(url)
    token = settings.peer_tokens.get(peer)
    try:
        server = HapiServer(
            url, timeout=15.0, headers={"Authorization": f"Bearer {token}"} if token else None
        )
        info = server.info(dataset)
    except HapiClientError as exc:
        hint = "" if url.rstrip("/").endswith("/hapi") else " (a HAPI URL ends in /hapi)"
        raise click.ClickException(f"{dataset} at {url}: {exc}{hint}") from exc
    declared = [str(p.get("name")) for p in (info.get("parameters") or [])[1:]]
    missing = [p for p in parameters if p not in declared]
    if missing:
        raise click.BadParameter(
            f"{dataset} has no {', '.join(missing)} (it has {', '.join(declared)})",
            param_hint="--parameter",
        )
    if not declared:
        raise click.ClickException(f"{dataset} at {url}: its info lists no parameters")
    product = product or default_product(dataset)
    if product in mission.products:
        raise click.ClickException(f"mission {mission.name} has a product {product!r} already")
    hapi_dataset = f"{mission.name}_{product}"
    if hapi_dataset in mission.datasets:
        raise click.ClickException(f"mission {mission.name} has a dataset {hapi_dataset!r}")
    instrument = instrument or peer.replace("-", "").replace("_", "").lower()
    declaration = Declaration(
        product=product,
        instrument=instrument,
        level=level,
        peer=peer,
        url=server.url,
        dataset=dataset,
        info=info,
        parameters=list(parameters) or declared,
        all_parameters=not parameters,
        start=start.date().isoformat() if start else None,
        rate=rate,
        recheck=recheck,
        hapi_dataset=hapi_dataset,
        new_instrument=instrument not in mission.instruments,
    )
    if dry_run:
        click.echo(stanzas(declaration), nl=False)
        click.echo(f"(dry run: {folder / 'mission.yaml'} not changed)")
        return
    try:
        write(folder, declaration)
    except ConfigError as exc:
        raise click.ClickException(
            f"the mission refused the new product (its YAML is as it was): {exc}"
        ) from exc
    click.echo(f"added to {folder / 'mission.yaml'}:")
    click.echo(stanzas(declaration), nl=False)
    click.echo(f"next: socstack harvest run --mission {mission.name} --product {product}")


def _mission_folder(ctx: click.Context, name: str | None, folder: Path | None) -> Path:
    """The folder of ``--mission-dir``, or of the loaded mission ``--mission`` (or the only one)."""
    if folder is not None:
        return folder
    from socstack.mission.loader import load_missions

    missions = load_missions(ctx.obj["settings"].missions).missions
    if name is None:
        if len(missions) != 1:
            raise click.UsageError(f"give --mission (one of {', '.join(sorted(missions))})")
        name = next(iter(missions))
    if name not in missions:
        raise click.BadParameter(
            f"no loaded mission {name!r} (loaded: {', '.join(sorted(missions))})",
            param_hint="--mission",
        )
    return missions[name].folder
