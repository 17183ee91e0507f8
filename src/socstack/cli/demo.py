"""``socstack demo``: a mission's simulator, for demonstrations and tests."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from socstack._exceptions import ConfigError
from socstack.cli._base import main, runtime_of


@main.group()
def demo() -> None:
    """The simulated demo spacecraft."""


@demo.command("generate")
@click.option(
    "--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="First day, YYYY-MM-DD."
)
@click.option("--days", required=True, type=click.IntRange(1, 3660), help="Number of days.")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write.",
)
@click.option(
    "--mission", default="demo", show_default=True, help="Mission whose simulator to run."
)
@click.option("--seed", type=int, default=2025, show_default=True, help="Same seed, same files.")
@click.pass_context
def demo_generate(
    ctx: click.Context, *, start: dt.datetime, days: int, out: Path, mission: str, seed: int
) -> None:
    """Write simulated L0 telemetry and calibration files for DAYS days from START."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from socstack.mission.code import load_callable

    runtime = runtime_of(ctx)
    target = runtime.missions.mission(mission)
    if not target.simulator:
        raise ConfigError("the mission declares no simulator", field="simulator")
    simulate = load_callable(target, target.simulator, field="simulator")
    columns = (TextColumn("generate"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task("generate", total=None)
        written = simulate(
            start.date(),
            days,
            out,
            mission=target,
            seed=seed,
            progress=lambda _p: progress.advance(task),
        )
    size = sum(p.stat().st_size for p in written)
    click.echo(f"wrote {len(written)} files ({size / 1e6:.1f} MB) to {out}")
