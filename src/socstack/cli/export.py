"""``socstack export check|cloudcatalog|spase|manifest|deliver``: files for the archives.

``check`` runs the ISTP checks SPDF applies before it accepts a delivery, on any CDF
files (a team's own, or the archive's); ``cloudcatalog`` writes HelioCloud's
CloudCatalog of the released files (``catalog.json`` and one index per dataset and
year) at the archive's root or another folder or bucket, rewriting only what changed;
``spase`` writes a SPASE NumericalData description per released dataset and
``manifest`` a dataset's released files with their catalog checksums (``sha256sum -c``);
``deliver`` puts them together: the released CDF files that pass the ISTP check, with a
SPASE description and a manifest per dataset, copied to a folder or bucket incrementally
and recorded in the catalog (exit 1 if a file was held back, so cron and CI notice).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from socstack.cli._base import catalog_runtime, main


@main.group()
def export() -> None:
    """Deliveries to long-term archives: ISTP checks, CloudCatalog, SPASE, manifests."""


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


@export.command("spase")
@click.option("--dataset", "dataset_id", help="One dataset (default: every released one).")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder the <dataset>.xml files are written to.",
)
@click.pass_context
def export_spase(ctx: click.Context, dataset_id: str | None, dest: Path) -> None:
    """Write a SPASE NumericalData description (<dataset>.xml) per released dataset."""
    from socstack.export.spase import write_spase

    result = write_spase(catalog_runtime(ctx), dest, dataset_id)
    for path in result.written:
        click.echo(str(path))
    if result.skipped:
        click.echo(f"nothing released yet, skipped: {', '.join(result.skipped)}", err=True)
    if dataset_id is not None and not result.written:
        ctx.exit(1)


@export.command("manifest")
@click.option("--dataset", "dataset_id", required=True, help="The dataset whose files to list.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the manifest here (default: print it).",
)
@click.pass_context
def export_manifest(ctx: click.Context, dataset_id: str, output: Path | None) -> None:
    """List a dataset's released files with their SHA-256 (sha256sum -c format)."""
    from socstack.export.spase import manifest

    text = manifest(catalog_runtime(ctx), dataset_id)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text)
        click.echo(f"{output}: {text.count(chr(10))} files")


@export.command("deliver")
@click.option("--dest", required=True, help="Folder or bucket URL (s3://bucket/prefix).")
@click.option("--dataset", "dataset_id", help="One dataset (default: every data dataset).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def export_deliver(ctx: click.Context, dest: str, dataset_id: str | None, as_json: bool) -> None:
    """Deliver the released CDFs (ISTP-checked), SPASE and manifests; exit 1 if any held."""
    import dataclasses

    from socstack.export.deliver import DatasetDelivery, deliver

    def show(d: DatasetDelivery) -> None:
        if d.skipped:
            click.echo(f"{d.dataset}: skipped, {d.skipped}")
        elif d.error:
            click.echo(f"{d.dataset}: not delivered, {d.error}")
        else:
            click.echo(
                f"{d.dataset}: {len(d.delivered)} delivered, {len(d.unchanged)} unchanged,"
                f" {len(d.held)} held"
            )
        for held in d.held:
            click.echo(f"  held {held.name}:")
            for reason in held.reasons:
                click.echo(f"    {reason}")

    runtime = catalog_runtime(ctx)
    if as_json:
        result = deliver(runtime, dest, dataset_id)
        click.echo(json.dumps(dataclasses.asdict(result), indent=1))
    else:
        result = deliver(runtime, dest, dataset_id, on_dataset=show)
        done = result.datasets
        click.echo(
            f"{result.destination}: {sum(len(d.delivered) for d in done)} delivered,"
            f" {sum(len(d.unchanged) for d in done)} unchanged, {len(result.held)} held"
        )
    if not result.ok:
        ctx.exit(1)
