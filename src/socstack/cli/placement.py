"""``socstack placement``: what a placement of the services would cost a month.

It reads the deployment's own measurements (``/metrics`` of each process, or files of
them) and the operator's price table, and prices every movable service on-premises and
in the cloud, before anything moves (``k8s/README.md``, placing one service).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import httpx

from socstack._exceptions import ClientError
from socstack.cli._base import main
from socstack.config import get_settings


def _read(source: str, token: str) -> tuple[str, float]:
    """A metrics text and when it was read (a file: when it was written)."""
    from socstack.placement import now

    if "://" not in source:
        path = Path(source)
        try:
            return path.read_text(), path.stat().st_mtime
        except OSError as exc:
            raise ClientError(f"{source}: {exc.strerror or exc}") from None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        answer = httpx.get(source, headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise ClientError(f"{source}: {type(exc).__name__}: {exc}") from None
    if answer.status_code != 200:
        hint = (
            " (metrics are for operators: set SOC_TOKEN)"
            if answer.status_code in (401, 403)
            else ""
        )
        raise ClientError(f"{source}: HTTP {answer.status_code}{hint}")
    return answer.text, now()


@main.command()
@click.option(
    "--prices",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The price table (YAML: currency, hours_per_month, between_sites_gb, onprem, cloud).",
)
@click.option(
    "--metrics",
    "sources",
    multiple=True,
    help="A /metrics URL or a file of one (repeat: one per process). Default: this server's.",
)
@click.option("--cloud", "moved", multiple=True, help="A service placed in the cloud (repeat).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON.")
def placement(
    prices: Path, sources: tuple[str, ...], moved: tuple[str, ...], as_json: bool
) -> None:
    """Estimate the monthly cost of placing services on-premises or in the cloud."""
    from socstack.placement import WORKERS, archive_gb, estimate, load_prices, measured

    table = load_prices(prices)
    settings = get_settings()
    texts = [_read(s, settings.token) for s in sources or (f"{settings.public_url}/metrics",)]
    estimates = estimate(measured(texts, table.hours_per_month), table, moved)
    stored = archive_gb(t for t, _ in texts)
    storage = stored * table.onprem.gb_month
    onprem = sum(e.onprem for e in estimates) + storage
    chosen = sum(e.cost for e in estimates) + storage
    if as_json:
        rows = [
            {
                "service": e.service,
                "site": e.site,
                "core_hours": e.use.core_hours,
                "gb_out": e.use.gb_out,
                "onprem": e.onprem,
                "cloud": e.cloud,
            }
            for e in estimates
        ]
        document = {"currency": table.currency, "services": rows, "archive_gb": stored}
        document |= {"storage": storage, "all_onprem": onprem, "placement": chosen}
        click.echo(json.dumps(document, indent=1))
        return
    unit = table.currency
    click.echo(
        f"{'service':10} {'site':7} {'core-h/month':>12} {'GB out/month':>12}"
        f" {'on-prem':>10} {'cloud':>10}"
    )
    for e in estimates:
        click.echo(
            f"{e.service:10} {e.site:7} {e.use.core_hours:12.2f} {e.use.gb_out:12.3f}"
            f" {e.onprem:10.2f} {e.cloud:10.2f}"
        )
    click.echo(f"archive: {stored:.3f} GB stored on-premises, {storage:.2f} {unit}/month")
    change = chosen - onprem
    click.echo(
        f"all on-premises: {onprem:.2f} {unit}/month; this placement: {chosen:.2f}"
        f" {unit}/month ({change:+.2f})"
    )
    if any(e.site == "cloud" and e.service in WORKERS for e in estimates):
        click.echo("not counted: what cloud workers read from and write to the archive")
