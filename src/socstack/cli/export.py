"""``socstack export check|cloudcatalog``: get files ready for the long-term archives.

``check`` runs the ISTP checks SPDF applies before it accepts a delivery, on any CDF
files (a team's own, or the archive's); ``cloudcatalog`` writes HelioCloud's
CloudCatalog of the released files (``catalog.json`` and one index per dataset and
year) at the archive's root or another folder or bucket, rewriting only what changed.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from socstack.cli._base import catalog_runtime, main


@main.group()
def export() -> None:
    """Deliveries to long-term archives: ISTP checks, HelioCloud's CloudCatalog."""


@export.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_context
def export_check(ctx: click.Context, paths: tuple[Path, ...], as_json: bool) -> None:
    """Check CDF files against the ISTP guidelines; exit 1 if any fails."""
    from socstack.export.istp import check_istp

    found = {str(p): [str(problem) for problem in check_istp(p)] for p in paths}
    if as_json:
        click.echo(json.dumps(found, indent=1))
    else:
        for path, problems in found.items():
            click.echo(f"{path}: {'ok' if not problems else f'{len(problems)} problems'}")
            for problem in problems:
                click.echo(f"  {problem}")
    if any(found.values()):
        ctx.exit(1)


@export.command("cloudcatalog")
@click.option("--dest", help="Folder or bucket URL (default: the archive bucket's root).")
@click.option("--public-url", help="Where readers reach the destination (http(s):// or s3://).")
@click.option(
    "--follow", is_flag=True, help="Keep it current: rewrite after arrivals until Ctrl-C."
)
@click.pass_context
def export_cloudcatalog(
    ctx: click.Context, dest: str | None, public_url: str | None, follow: bool
) -> None:
    """Write HelioCloud's CloudCatalog (1.1) of the released files."""
    from socstack.export.cloudcatalog import write_cloudcatalog

    runtime = catalog_runtime(ctx)
    if follow:
        import threading

        from socstack.export.follow import CloudCatalogFollower

        click.echo("keeping the CloudCatalog current; stop with Ctrl-C")
        stop = threading.Event()
        try:
            CloudCatalogFollower(runtime, dest, public_url=public_url).run(stop)
        except KeyboardInterrupt:
            stop.set()
        return
    result = write_cloudcatalog(runtime, dest, public_url=public_url)
    click.echo(
        f"{result.url}: {len(result.datasets)} datasets, {len(result.written)} files written,"
        f" {len(result.removed)} removed"
    )
