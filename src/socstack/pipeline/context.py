"""What a processing function receives: its partition, its input files, a scratch folder.

Mission code computes; the pipeline finds inputs, names and versions outputs, writes
the CDF with the product's attributes and archives it. A rule's function has the
signature ``process(context: RuleContext) -> xarray.Dataset | dict[str, Dataset | Path]``
(one Dataset when the rule has one output; a mapping by output product otherwise, a
Path for files the function wrote itself, such as quicklook images).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from socstack._exceptions import SocError
from socstack.formats import registry
from socstack.mission.model import Mission, Product, Rule
from socstack.mission.versions import Version

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["InputFile", "RuleContext"]


@dataclass(frozen=True)
class InputFile:
    """One archived input, available as a local file."""

    name: str
    path: Path
    product: Product
    partition: dt.date
    version: Version
    file_id: int

    def read(self) -> xr.Dataset:
        """Decode the whole file with its product's reader."""
        return registry.get(self.product.format).read(self.path, self.product)


@dataclass
class RuleContext:
    """One run of a rule for one partition."""

    mission: Mission
    rule: Rule
    partition: dt.date
    scratch: Path
    inputs: dict[str, list[InputFile]] = field(default_factory=dict)

    def files(self, product: str) -> list[InputFile]:
        """The input files of ``product`` (oldest partition first); [] if none."""
        return sorted(self.inputs.get(product, []), key=lambda f: f.partition)

    def one(self, product: str) -> InputFile:
        """The single input file of ``product``; an error if there is not exactly one."""
        found = self.files(product)
        if len(found) != 1:
            raise SocError(
                f"rule {self.rule.id} expected one {product} file for {self.partition},"
                f" got {len(found)}"
            )
        return found[0]

    def read(self, product: str) -> xr.Dataset:
        """All files of ``product`` read and joined along time, in time order."""
        import xarray as xr

        datasets = [f.read() for f in self.files(product)]
        if not datasets:
            raise SocError(f"rule {self.rule.id} has no {product} input for {self.partition}")
        if len(datasets) == 1:
            return datasets[0]
        return xr.concat(datasets, dim="epoch", data_vars="minimal", coords="minimal").sortby(
            "epoch"
        )

    @property
    def day(self) -> tuple[np.datetime64, np.datetime64]:
        """The partition's day as [start, stop) in datetime64[ns]."""
        start = np.datetime64(self.partition.isoformat(), "ns")
        return start, start + np.timedelta64(1, "D")
