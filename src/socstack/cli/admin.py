"""``socstack db``, ``quarantine``, ``mission``, ``health`` and ``config``: operating it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from socstack.cli._base import catalog_runtime, main, runtime_of
from socstack.config import Settings


@main.group()
def db() -> None:
    """The catalog database."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Create or migrate the catalog schema (safe to run again, and concurrently)."""
    from socstack.catalog.migrate import upgrade

    runtime = runtime_of(ctx)
    reached = upgrade(runtime.catalog, revision)
    click.echo(f"catalog at revision {reached} ({runtime.catalog!r})")
    if runtime.settings.admin_token and revision == "head":
        # A deployment's initial admin token (from its secrets): registered once, never shown.
        made = runtime.access.accounts.ensure_admin(
            runtime.settings.admin_token, actor="db upgrade"
        )
        if made:
            click.echo("registered SOC_ADMIN_TOKEN as the admin's token")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Show the catalog's schema revision and the code's."""
    from socstack.catalog.migrate import current_revision, head_revision

    runtime = runtime_of(ctx)
    click.echo(f"database: {current_revision(runtime.catalog) or 'none'}  code: {head_revision()}")


@main.group()
def quarantine() -> None:
    """Files that were refused, with their reasons."""


@quarantine.command("list")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per entry.")
@click.pass_context
def quarantine_list(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List quarantined files, newest first."""
    runtime = catalog_runtime(ctx)
    entries = runtime.ingestor.quarantine.entries(limit)
    for entry in entries:
        if as_json:
            record = {
                "id": entry.id,
                "name": entry.name,
                "kind": entry.kind,
                "reason": entry.reason,
                "source": entry.source.value,
                "size": entry.size,
                "sha256": entry.sha256,
                "quarantined_at": entry.quarantined_at.isoformat(),
            }
            click.echo(json.dumps(record))
        else:
            when = entry.quarantined_at.strftime("%Y-%m-%d %H:%M:%S")
            click.echo(f"{entry.id:>6}  {when}  {entry.source.value:<8} {entry.name}")
            click.echo(f"        {entry.reason}")
    if not entries and not as_json:
        click.echo("quarantine is empty")


@main.group()
def mission() -> None:
    """Mission configurations."""


@mission.command("check")
@click.argument("folders", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def mission_check(ctx: click.Context, folders: tuple[Path, ...]) -> None:
    """Validate mission folders (default: SOC_MISSIONS), importing their code too.

    Every mistake is reported at once, with its file and line: the schema, the
    cross-references, HAPI parameters against their products' variables, rule queues
    against SOC_QUEUES, and the entry points of rules, formats and the simulator.
    """
    from socstack.mission.code import load_callable
    from socstack.mission.loader import load_missions

    settings: Settings = ctx.obj["settings"]
    registry = load_missions(list(folders) or settings.missions, queues=settings.queues)
    for item in registry:
        for rule in item.rules.values():
            if rule.function is not None:  # a notebook rule's notebook is checked at load
                load_callable(item, rule.function, field=f"rules.{rule.id}.function")
        if item.simulator:
            load_callable(item, item.simulator, field="simulator")
        own = len(item.formats)
        formats = f", {own} format{'s' if own > 1 else ''} of its own" if own else ""
        click.echo(
            f"{item.name}: {len(item.products)} products, {len(item.datasets)} datasets,"
            f" {len(item.rules)} rules{formats}: ok"
        )


@main.command()
@click.option("--url", "urls", multiple=True, help="An http(s) URL that must answer 2xx.")
@click.option("--catalog", is_flag=True, help="The catalog (SOC_DATABASE_URL) must answer.")
@click.option("--broker", is_flag=True, help="The broker (SOC_BROKER_URL) must answer.")
@click.option(
    "--timeout", type=click.FloatRange(0.1, 300), default=5.0, show_default=True, help="Seconds."
)
@click.pass_context
def health(
    ctx: click.Context, urls: tuple[str, ...], catalog: bool, broker: bool, timeout: float
) -> None:
    """Exit 0 if every named service answers (the containers' healthcheck), else 1."""
    from socstack.health import check_broker, check_catalog, check_url

    if not (urls or catalog or broker):
        raise click.UsageError("name at least one of --url, --catalog, --broker")
    settings: Settings = ctx.obj["settings"]
    answers = [check_url(url, timeout=timeout) for url in urls]
    if catalog:
        answers.append(check_catalog(runtime_of(ctx)))
    if broker:
        answers.append(check_broker(settings, timeout=timeout))
    click.echo("ok: " + "; ".join(answers))


@main.command("config")
@click.pass_context
def show_config(ctx: click.Context) -> None:
    """Print the settings in effect (from SOC_* variables and defaults)."""
    from sqlalchemy.engine import make_url

    settings: Settings = ctx.obj["settings"]
    values = settings.model_dump(mode="json")
    values["database_url"] = make_url(settings.database_url).render_as_string(hide_password=True)
    if values.get("admin_token"):
        values["admin_token"] = "[set]"  # noqa: S105 - a secret: say that it is set, not what
    if values.get("peer_tokens"):
        values["peer_tokens"] = dict.fromkeys(values["peer_tokens"], "[set]")
    for key, value in values.items():
        click.echo(
            f"SOC_{key.upper()}={value if not isinstance(value, list) else os.pathsep.join(value)}"
        )
