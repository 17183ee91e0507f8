"""What a notebook run's kernel shares with the worker that runs it: one folder.

The worker sets ``SOC_RUN_DIR`` (and ``SOC_TOKEN``, the run's own token) in the
kernel's environment. Inside the kernel, :mod:`socstack.client` appends every archive
file it reads to ``reads.jsonl`` there, and ``Client.publish`` writes datasets under
``published/`` with one line per dataset in ``published.jsonl``. When the kernel ends,
however it ends, the worker reads that folder: the reads become the provenance of what
the run archives. A folder rather than a connection, because a kernel may be killed at
any instruction and what it wrote before stays readable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from socstack._exceptions import SocError
from socstack.config import get_settings

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "PUBLISHED",
    "PUBLISH_DIR",
    "READS",
    "NotInRunError",
    "publish",
    "read_lines",
    "record_read",
    "run_dir",
]

READS = "reads.jsonl"
PUBLISHED = "published.jsonl"
PUBLISH_DIR = "published"


class NotInRunError(SocError):
    """``publish`` was called outside a notebook run (there is no run to archive it)."""


def run_dir() -> Path | None:
    """The folder of the run this process is part of, or None outside a run."""
    return get_settings().run_dir


def _append(name: str, entry: dict[str, Any]) -> None:
    folder = run_dir()
    if folder is None:
        return
    folder.mkdir(parents=True, exist_ok=True)
    # One write of one line: a kernel killed mid-way leaves at most a torn last line,
    # which read_lines skips.
    with (folder / name).open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry, sort_keys=True) + "\n")


def record_read(
    name: str, *, product: str | None = None, sha256: str | None = None, **extra: Any
) -> None:
    """Note that the run read the archive file ``name`` (nothing outside a run)."""
    _append(READS, {"name": name, "product": product, "sha256": sha256, **extra})


def read_lines(folder: Path, name: str) -> list[dict[str, Any]]:
    """The entries of ``folder/name`` (a torn last line is skipped, not an error)."""
    path = folder / name
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return entries


def publish(ds: xr.Dataset, product: str, *, mission: str | None = None, **extra: Any) -> Path:
    """Hand ``ds`` to the run's worker, to be archived as a file of ``product``.

    The dataset is written as a CDF under ``published/`` now, so that what a kernel
    published stays even if the kernel is killed right after. When the run ends the
    worker archives it through the ingest path, with the files the run read as its
    provenance; ``product`` must be declared in the mission's YAML (so HAPI can serve
    it), which the worker checks.

    Raises
    ------
    NotInRunError
        Outside a notebook run: nothing would ever archive the file.
    """
    from socstack.formats.cdf import write_cdf

    folder = run_dir()
    if folder is None:
        raise NotInRunError(
            "publish() archives a dataset when a notebook run ends; outside a run (SOC_RUN_DIR"
            " unset) there is no run to do it: submit the notebook with `socstack runs submit`"
            " or POST /api/runs"
        )
    if not re.fullmatch(r"[A-Za-z0-9_]{1,64}", product):
        raise SocError(f"product {product!r}: give a product id of the mission's YAML")
    target = folder / PUBLISH_DIR
    target.mkdir(parents=True, exist_ok=True)
    count = len(read_lines(folder, PUBLISHED))
    path = target / f"{count:03d}_{product}.cdf"
    write_cdf(ds, path, global_attributes={k: v for k, v in ds.attrs.items() if v})
    _append(PUBLISHED, {"product": product, "mission": mission, "file": path.name, **extra})
    return path
