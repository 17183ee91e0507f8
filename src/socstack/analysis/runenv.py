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
    "as_product_variables",
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
    ds = as_product_variables(ds, product, mission)
    count = len(read_lines(folder, PUBLISHED))
    path = target / f"{count:03d}_{product}.cdf"
    write_cdf(ds, path)
    _append(PUBLISHED, {"product": product, "mission": mission, "file": path.name, **extra})
    return path


def as_product_variables(ds: xr.Dataset, product: str, mission: str | None = None) -> xr.Dataset:
    """``ds`` with the names the product's files use, when it has the client's names.

    ``Client.get`` names a Dataset's variables after the HAPI parameters and its index
    ``time``; the archive's files use the variables the mission's datasets map those
    parameters to. A scientist publishes what the client gave them (reduced, filtered)
    and should not have to know the file's names, so each HAPI parameter of a dataset
    served from ``product`` is renamed to its variable, and ``time`` to the dataset's
    time variable. Names that are already the file's pass through unchanged.
    """
    from socstack.mission.loader import load_missions

    settings = get_settings()
    renames: dict[str, str] = {}
    for entry in load_missions(settings.missions):
        if mission not in (None, entry.name) or product not in entry.products:
            continue
        for dataset in entry.datasets.values():
            if dataset.product != product:
                continue
            if "time" in ds.variables and dataset.time_variable not in ds.variables:
                renames.setdefault("time", dataset.time_variable)
            for parameter in dataset.parameters:
                variable = parameter.variable or parameter.name
                if parameter.name in ds.data_vars and variable not in ds.variables:
                    renames.setdefault(parameter.name, variable)
    ds = ds.rename(renames) if renames else ds.copy()  # a new Dataset: the caller's stays
    # What the client took from the source dataset's info describes that dataset, not
    # this product: the worker gives the file the product's own ISTP attributes.
    ds.attrs = _cdf_attributes({k: v for k, v in ds.attrs.items() if k not in _FROM_INFO})
    for variable in ds.variables.values():
        variable.attrs = _cdf_attributes(variable.attrs)
    return ds


_FROM_INFO = frozenset(
    {
        "HAPI", "status", "dataset", "server", "parameters", "startDate", "stopDate",
        "sampleStartDate", "sampleStopDate", "timeStampLocation", "description",
        "modificationDate", "cadence", "maxRequestDuration", "provenance", "resourceURL",
        "resourceID", "creationDate", "citation", "contact", "contactID", "additionalMetadata",
        "unitsSchema", "coordinateSystemSchema", "licenseURL", "note",
    }
)  # fmt: skip


def _cdf_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """The attributes a CDF can hold: text, numbers and lists of them.

    A client's Dataset carries the HAPI info's metadata, some of it nested (bins,
    additional metadata); the product's own ISTP attributes are written when the
    worker archives the file, so nothing a reader needs is lost here.
    """

    def plain(value: Any) -> bool:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value != ""
        if isinstance(value, list | tuple):
            return bool(value) and all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
            )
        return False

    return {key: value for key, value in attrs.items() if plain(value)}
