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
from pathlib import Path
from typing import Any

from socstack.config import get_settings

__all__ = ["PUBLISHED", "PUBLISH_DIR", "READS", "read_lines", "record_read", "run_dir"]

READS = "reads.jsonl"
PUBLISHED = "published.jsonl"
PUBLISH_DIR = "published"


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
