"""HAPI datasets as a mission declares them: parameters mapped to file variables, bins.

What a dataset says is checked against its product when the mission loads (see
:mod:`socstack.mission.checks`): a parameter whose variable the product's files do not
hold, or whose size is not the variable's, fails there rather than at the first request.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from socstack.mission._base import StrictModel, check_duration

__all__ = ["Bins", "Dataset", "Parameter"]


class Bins(StrictModel):
    """Bins of one dimension of a HAPI array parameter (HAPI 3.3 section 3.6.13).

    Values come from the YAML (``centers``, ``ranges``), from a support variable of the
    product's files (``centers_variable``; ``ranges_variables`` for the lower and upper
    edges), or, for time-varying bins, name another parameter of the dataset (HAPI's own
    form: ``centers: ParameterName``).
    """

    name: str
    units: str | None = None
    label: str | None = None
    description: str = ""
    centers: list[float] | str | None = None
    ranges: list[list[float]] | str | None = None
    centers_variable: str | None = None
    ranges_variables: list[str] | None = Field(None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _has_values(self) -> Bins:
        given = [self.centers, self.ranges, self.centers_variable, self.ranges_variables]
        if all(v is None for v in given):
            raise ValueError(
                f"bins {self.name!r}: give centers or ranges (values, a variable or a parameter)"
            )
        if self.centers is not None and self.centers_variable is not None:
            raise ValueError(f"bins {self.name!r}: give centers or centers_variable, not both")
        if self.ranges is not None and self.ranges_variables is not None:
            raise ValueError(f"bins {self.name!r}: give ranges or ranges_variables, not both")
        if isinstance(self.ranges, list) and any(len(r) != 2 for r in self.ranges):
            raise ValueError(f"bins {self.name!r}: every range has two values [min, max]")
        return self


class Parameter(StrictModel):
    """A HAPI parameter and the file variable that holds it."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    variable: str = ""
    type: Literal["double", "integer", "string", "isotime"] = "double"
    units: str | list[str | None] | None = None
    fill: str | None = None
    length: int | None = Field(None, gt=0)
    size: list[Annotated[int, Field(gt=0)]] | None = None
    label: str | list[str] | None = None
    description: str = ""
    bins: list[Bins] | None = None
    vector_components: list[str] | str | None = None
    coordinate_system: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="x_ keys of our own")

    @field_validator("fill", mode="before")
    @classmethod
    def _fill_as_text(cls, value: object) -> object:
        # HAPI carries fill as a string; YAML gives numbers.
        if isinstance(value, bool):
            raise ValueError("fill must be a number, a string or null")
        if isinstance(value, float) and math.isnan(value):
            return "NaN"  # HAPI's spelling; YAML's is .nan
        if isinstance(value, int | float):
            return repr(value) if isinstance(value, float) else str(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if not self.variable:
            self.variable = self.name
        if self.type in ("string", "isotime") and self.length is None:
            raise ValueError(f"parameter {self.name!r}: a {self.type} needs a length")
        if self.bins is not None:
            if not self.size or len(self.bins) != len(self.size):
                raise ValueError(f"parameter {self.name!r}: one bins entry per size dimension")
            for dim, (bins, n) in enumerate(zip(self.bins, self.size, strict=True)):
                for what, values in (("centers", bins.centers), ("ranges", bins.ranges)):
                    if isinstance(values, list) and len(values) != n:
                        raise ValueError(
                            f"parameter {self.name!r}: bins[{dim}].{what} has {len(values)}"
                            f" values but size[{dim}] is {n}"
                        )
        if isinstance(self.vector_components, list) and (
            not self.size or len(self.size) != 1 or self.size[0] != len(self.vector_components)
        ):
            raise ValueError(f"parameter {self.name!r}: vector_components must match size [n]")
        for key in self.extra:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", key):
                raise ValueError(f"parameter {self.name!r}: bad extra key {key!r}")
        return self


class Dataset(StrictModel):
    """A HAPI dataset served from one product's files."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{1,63}$")]
    product: str
    title: str = Field("", max_length=120)
    description: str = ""
    time_variable: str = "epoch"
    time_digits: int = Field(3, ge=0, le=9, description="Fractional digits of output times.")
    cadence: str | None = None
    max_request_duration: str | None = None
    resource_url: str | None = None
    provenance: str | None = None
    contact: str | None = None
    additional_metadata: list[dict[str, Any]] | None = None
    summary: str | None = Field(
        None,
        description=(
            "A dataset of this one at a coarser cadence, holding <name>_min and <name>_max "
            "for its parameters: plots of long windows draw their envelope from it instead "
            "of downloading every sample (HAPI info: x_socstack.summary)."
        ),
    )
    parameters: list[Parameter] = Field(min_length=1)

    def summarized_by(self, summary: Dataset) -> dict[str, dict[str, str]]:
        """Parameter -> {min, max} names in ``summary``, for those it summarizes."""
        theirs = {p.name for p in summary.parameters}
        return {
            p.name: {"min": f"{p.name}_min", "max": f"{p.name}_max"}
            for p in self.parameters
            if {f"{p.name}_min", f"{p.name}_max"} <= theirs
        }

    _check_cadence = field_validator("cadence", "max_request_duration")(check_duration)

    @model_validator(mode="after")
    def _unique_parameters(self) -> Dataset:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter names: {', '.join(dupes)}")
        if "Time" in names:
            raise ValueError("'Time' is added by the server; do not declare it")
        by_name = {p.name: p for p in self.parameters}
        for parameter in self.parameters:
            for dim, spec in enumerate(parameter.bins or []):
                for what in ("centers", "ranges"):
                    ref = getattr(spec, what)
                    if isinstance(ref, str):
                        self._check_bins_parameter(parameter, dim, what, by_name.get(ref), ref)
        return self

    @staticmethod
    def _check_bins_parameter(
        parameter: Parameter, dim: int, what: str, target: Parameter | None, ref: str
    ) -> None:
        """Time-varying bins name a parameter holding one row of values per record."""
        where = f"parameter {parameter.name!r}: bins[{dim}].{what}"
        if target is None:
            raise ValueError(f"{where} names {ref!r}, which is not a parameter of the dataset")
        n = (parameter.size or [1])[dim]
        want = [n, 2] if what == "ranges" else [n]
        if list(target.size or []) != want:
            raise ValueError(
                f"{where} names {ref!r}, whose size {target.size or []} should be {want}"
            )
