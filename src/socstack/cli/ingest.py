"""``socstack ingest``: the command-line door of ingest."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import click

from socstack._exceptions import FileChanged
from socstack.cli._base import catalog_runtime, main
from socstack.ingest.results import IngestResult

# -- ingest -----------------------------------------------------------------------------------

#: Exit status of ``socstack ingest`` when at least one file was quarantined.
EXIT_QUARANTINED = 3


def _expand(paths: tuple[Path, ...]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield Path(root) / name
        else:
            yield path


def print_summary(counts: Counter[str]) -> None:
    """One line counting each outcome, for ingest and the drop box alike."""
    parts = [f"{counts.get(k, 0)} {k}" for k in ("archived", "unchanged", "quarantined")]
    click.echo("summary: " + ", ".join(parts))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(1, 64),
    default=min(4, os.cpu_count() or 1),
    show_default=True,
    help="Files ingested at once (waits on disk and database overlap).",
)
@click.pass_context
def ingest(ctx: click.Context, paths: tuple[Path, ...], as_json: bool, jobs: int) -> None:
    """Ingest files or folders of files into the archive.

    Every file is archived, found unchanged (already archived with the same content),
    or quarantined with its reason. Exits with status 3 if any file was quarantined, and
    1 if any was skipped because it changed while it was read (its writer is not done).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from socstack.catalog.models import FileSource

    runtime = catalog_runtime(ctx)
    ingestor = runtime.ingestor
    files = list(_expand(paths))
    counts: Counter[str] = Counter()
    rejected = []
    changing: list[str] = []

    def one(path: Path) -> IngestResult | None:
        try:
            return ingestor.ingest(path, source=FileSource.CLI)
        except FileChanged as exc:  # still being written: nothing kept, say so, go on
            changing.append(str(exc))
            return None

    show_bar = not as_json and sys.stderr.isatty()
    columns = (TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        Progress(*columns, disable=not show_bar, transient=True) as progress,
        ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ingest") as pool,
    ):
        task = progress.add_task("ingest", total=len(files))
        for result in pool.map(one, files):
            progress.advance(task)
            if result is None:
                continue
            counts[result.outcome.value] += 1
            if as_json:
                click.echo(json.dumps(result.as_dict()))
            elif result.reason:
                rejected.append(result)
    for result in rejected:
        click.echo(f"quarantined {result.name}: {result.reason}", err=True)
    for reason in changing:
        click.echo(f"skipped: {reason}; ingest it again once it is complete", err=True)
    if not as_json:
        print_summary(counts)
    if counts.get("quarantined"):
        ctx.exit(EXIT_QUARANTINED)
    if changing:
        ctx.exit(1)
