"""What a processing function receives: its partition, its input files, a scratch folder.

Mission code computes; the pipeline finds inputs, names and versions outputs, writes
the CDF with the product's attributes and archives it. A rule's function has the
signature ``process(context: RuleContext) -> xarray.Dataset | dict[str, Dataset | Path]``
(one Dataset when the rule has one output; a mapping by output product otherwise, a
Path for files the function wrote itself, such as quicklook images).

Inputs are reached by the names the rule gives them (``context.one("previous_day")``);
an input without a name is called by its product. A function with nothing to make for
its partition (an instrument off all day, say) raises :class:`NoOutput` with the reason:
the job then ends ``skipped``, not ``failed``, and a later change of its inputs runs it
again. See docs/missions.md for the whole contract.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from socstack._exceptions import SocError
from socstack.mission.model import Mission, Product, Rule
from socstack.mission.versions import Version

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["InputFile", "NoOutput", "RuleContext"]


class NoOutput(SocError):  # noqa: N818 - a decision of the rule, not a crash
    """Raised by a rule's function: this partition has nothing to make, and why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


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
        return self.product.reader.read(self.path, self.product)


@dataclass
class RuleContext:
    """One run of a rule for one partition."""

    mission: Mission
    rule: Rule
    partition: dt.date
    scratch: Path
    inputs: dict[str, list[InputFile]] = field(default_factory=dict)

    def files(self, name: str) -> list[InputFile]:
        """The files of the input called ``name`` (oldest partition first); [] if none."""
        self._known(name)
        return sorted(self.inputs.get(name, []), key=lambda f: f.partition)

    def one(self, name: str) -> InputFile:
        """The single file of the input called ``name``; an error if there is not exactly one."""
        found = self.files(name)
        if len(found) != 1:
            raise SocError(
                f"rule {self.rule.id} expected one {name} file for {self.partition},"
                f" got {len(found)}"
            )
        return found[0]

    def read(self, name: str) -> xr.Dataset:
        """All files of the input called ``name`` read and joined along time, in time order."""
        import xarray as xr

        datasets = [f.read() for f in self.files(name)]
        if not datasets:
            raise SocError(f"rule {self.rule.id} has no {name} input for {self.partition}")
        if len(datasets) == 1:
            return datasets[0]
        try:
            joined = xr.concat(datasets, dim="epoch", data_vars="minimal", coords="minimal")
        except xr.MergeError as exc:
            raise SocError(
                f"rule {self.rule.id}: the {name} files cannot be joined in time, for what"
                f" they hold once per file differs ({exc}); read them one by one"
                f" (context.files({name!r}))"
            ) from exc
        return joined.sortby("epoch")

    def _known(self, name: str) -> None:
        names = [i.name for i in self.rule.inputs]
        if name not in names:
            raise SocError(
                f"rule {self.rule.id} has no input called {name!r}; its inputs are"
                f" {', '.join(names)}"
            )

    @property
    def day(self) -> tuple[np.datetime64, np.datetime64]:
        """The partition's day as [start, stop) in datetime64[ns]."""
        start = np.datetime64(self.partition.isoformat(), "ns")
        return start, start + np.timedelta64(1, "D")
