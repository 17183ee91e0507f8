"""``socstack demo``: a mission's simulator, for demonstrations and tests."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

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
@click.option(
    "--seed",
    type=int,
    help="Same seed, same files [the simulator's own default].",
)
@click.pass_context
def demo_generate(
    ctx: click.Context,
    *,
    start: dt.datetime,
    days: int,
    out: Path,
    mission: str,
    seed: int | None,
) -> None:
    """Write simulated L0 telemetry and calibration files for DAYS days from START.

    OUT may be a watched drop box: each file is counted as it is written, so files a
    watcher takes away before the simulation ends are still reported.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from socstack.mission.code import load_callable

    runtime = runtime_of(ctx)
    target = runtime.missions.mission(mission)
    if not target.simulator:
        raise ConfigError("the mission declares no simulator", field="simulator")
    simulate = load_callable(target, target.simulator, field="simulator")
    # A simulator's own default seed is part of the mission: pass one only when asked.
    options: dict[str, Any] = {} if seed is None else {"seed": seed}
    sizes: dict[Path, int | None] = {}
    columns = (TextColumn("generate"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, disable=not sys.stderr.isatty(), transient=True) as progress:
        task = progress.add_task("generate", total=None)

        def written_one(path: Path) -> None:
            sizes[Path(path)] = _size(Path(path))
            progress.advance(task)

        written = simulate(start.date(), days, out, mission=target, progress=written_one, **options)
    for path in written:
        if Path(path) not in sizes:
            sizes[Path(path)] = _size(Path(path))
    measured = sum(size for size in sizes.values() if size is not None)
    taken = sum(1 for size in sizes.values() if size is None)
    note = f"; {taken} taken from the folder before they could be measured" if taken else ""
    click.echo(f"wrote {len(written)} files ({measured / 1e6:.1f} MB{note}) to {out}")


def _size(path: Path) -> int | None:
    """The file's size, or None if it is gone already (a drop box took it)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None
