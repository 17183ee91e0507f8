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
from socstack.mission.spase import parse_spase_quantity
from socstack.times import duration_ns, parse_time_any, time_length

__all__ = ["FILE_PARAMETERS", "STOP_TIME", "URI", "Bins", "Dataset", "Parameter"]

#: The parameter an interval dataset's records end at (its second column).
STOP_TIME = "stopTime"
#: A file listing's parameter holding each file's link (HAPI ``stringType: uri``).
URI = "URI"
#: Longest file name a listing's URI column holds (HAPI strings have a fixed length).
URI_LENGTH = 255
#: What a file listing (``files: true``) serves of each file, after its time range.
FILE_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": URI,
        "type": "string",
        "length": URI_LENGTH,
        "description": "The file, relative to the stringType's base (socstack's /api/files/)",
    },
    {"name": "version", "type": "string", "length": 32, "description": "The file's version"},
    {"name": "size", "type": "double", "units": "bytes", "description": "The file's size"},
    {"name": "sha256", "type": "string", "length": 64, "description": "SHA-256 of the file"},
]


#: SPASE 2.x's MeasurementType enumeration (the values a registry accepts).
MeasurementType = Literal[
    "ActivityIndex",
    "Dust",
    "ElectricField",
    "EnergeticParticles",
    "Ephemeris",
    "ImageIntensity",
    "InstrumentStatus",
    "IonComposition",
    "Irradiance",
    "MagneticField",
    "Magnetogram",
    "NeutralAtomImages",
    "NeutralGas",
    "Profile",
    "Radiance",
    "Spectrum",
    "SPICE",
    "ThermalPlasma",
    "Waves",
    "Waves.Active",
    "Waves.Passive",
]


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


def _fits(values: list[Any], size: list[int] | None) -> bool:
    """Whether a units or label array matches a parameter's size (nested per dimension)."""
    if not size:
        return len(values) == 1
    if len(values) != size[0]:
        return False
    if len(size) == 1:
        return not any(isinstance(v, list) for v in values)
    return all(isinstance(v, list) and _fits(v, size[1:]) for v in values)


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
    spase: str | None = Field(
        None,
        description=(
            "What it measures in SPASE's terms, Kind:Quantity (Field:Magnetic,"
            " Mixed:PlasmaBeta, Support:DataQuality) or Particle:Type:Quantity"
            " (Particle:Proton:NumberDensity); default Field:Magnetic for nT, else"
            " Support:Other (socstack export spase)"
        ),
    )

    @field_validator("spase")
    @classmethod
    def _spase_terms(cls, value: str | None) -> str | None:
        if value is not None:
            parse_spase_quantity(value)
        return value

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
        for what, values in (("units", self.units), ("label", self.label)):
            # HAPI: an array of units or labels has one per element of a 1-D parameter,
            # or the parameter's shape; a single value holds for every element.
            if isinstance(values, list) and not _fits(values, self.size):
                raise ValueError(
                    f"parameter {self.name!r}: {what} has {len(values)} values but size is"
                    f" {self.size}: give one value, or one per element"
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
    contact_id: str | None = Field(None, description="HAPI contactID: the contact's persistent id.")
    dataset_citation: str | None = Field(None, description="HAPI datasetCitation.")
    license_url: str | None = Field(None, description="HAPI licenseURL, e.g. a CC BY 4.0 URL.")
    resource_id: str | None = Field(None, description="HAPI resourceID, e.g. a SPASE id or DOI.")
    creation_date: str | None = Field(None, description="HAPI creationDate (a HAPI time).")
    note: list[str] | None = Field(None, description="HAPI note: remarks for users.")
    warning: list[str] | None = Field(None, description="HAPI warning: known problems.")
    units_schema: str | None = Field(None, description="HAPI unitsSchema (udunits2, astropy3).")
    coordinate_system_schema: str | None = Field(
        None, description="HAPI coordinateSystemSchema (e.g. spase2.4.1)."
    )
    time_stamp_location: Literal["begin", "center", "end", "other"] = Field(
        "begin", description="Where in each sample interval its time stamp is (HAPI)."
    )
    time_description: str | None = Field(
        None, description="The Time parameter's description (default: from the stamp's place)."
    )
    additional_metadata: list[dict[str, Any]] | None = None
    measurement_type: list[MeasurementType] = Field(
        default_factory=list,
        description=(
            "SPASE MeasurementType(s) of the data (e.g. MagneticField, ThermalPlasma):"
            " what a SPASE registry files the dataset under (socstack export spase)."
        ),
    )
    summary: str | None = Field(
        None,
        description=(
            "A dataset of this one at a coarser cadence, holding <name>_min and <name>_max "
            "for its parameters: plots of long windows draw their envelope from it instead "
            "of downloading every sample (HAPI info: x_socstack.summary)."
        ),
    )
    intervals: bool = Field(
        False,
        description=(
            "Each record is an interval (an event list): Time is its start and the"
            " stopTime parameter, from the file variable 'stop', its end. A request returns"
            " every record that overlaps it, as proposed for HAPI's interval-based records"
            " (hapi-server/data-specification#227)."
        ),
    )
    max_interval: str | None = Field(
        None,
        description=(
            "The longest interval the dataset holds (default P1D): how far before a"
            " request's start the server looks for intervals reaching into it."
        ),
    )
    files: bool = Field(
        False,
        description=(
            "A listing of the product's files instead of their records (HAPI 3.2's"
            " stringType uri): each record is one file, Time and stopTime its range, URI"
            " its link under /api/files/, then its version, size and sha256. A product of"
            " quicklook images served this way lets HAPI clients find the images too."
            " Its parameters are declared for you."
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

    _check_cadence = field_validator("cadence", "max_request_duration", "max_interval")(
        check_duration
    )

    @field_validator("creation_date")
    @classmethod
    def _creation_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_time_any(value)  # a ValueError says what is wrong with it, at load
        return value

    @property
    def lookback_ns(self) -> int:
        """How far before a request an interval dataset's records may start and still reach in."""
        if not self.intervals:
            return 0
        return duration_ns(self.max_interval or "P1D") or 0

    @model_validator(mode="before")
    @classmethod
    def _file_listing(cls, data: object) -> object:
        """A file listing's parameters, declared for the author (they are not the files')."""
        if not (isinstance(data, dict) and data.get("files") is True):
            return data
        clash = [k for k in ("parameters", "intervals", "summary", "max_interval") if k in data]
        if clash:
            raise ValueError(
                f"a file listing (files: true) declares its own parameters and records; leave"
                f" out {', '.join(clash)}"
            )
        digits = data.get("time_digits", 3)
        stop = {
            "name": STOP_TIME,
            "type": "isotime",
            "units": "UTC",
            "length": time_length(digits if isinstance(digits, int) else 3),
            "description": "End of the file's time range (it starts at Time)",
        }
        parameters = [stop, *(dict(p) for p in FILE_PARAMETERS)]
        # One file a day (HAPI datasets are of daily products): the listing's cadence.
        return {"cadence": "P1D", **data, "parameters": parameters}

    @model_validator(mode="before")
    @classmethod
    def _stop_time(cls, data: object) -> object:
        """An interval dataset's stopTime parameter, declared for the author."""
        if not (isinstance(data, dict) and data.get("intervals") is True):
            return data
        parameters = data.get("parameters")
        if not isinstance(parameters, list) or any(
            isinstance(p, dict) and p.get("name") == STOP_TIME for p in parameters
        ):
            return data  # the schema reports the list; a declared stopTime is checked below
        digits = data.get("time_digits", 3)
        stop = {
            "name": STOP_TIME,
            "variable": "stop",
            "type": "isotime",
            "units": "UTC",
            "length": time_length(digits if isinstance(digits, int) else 3),
            "description": "End of the interval (each record starts at Time)",
        }
        return {**data, "parameters": [stop, *parameters]}

    @model_validator(mode="after")
    def _unique_parameters(self) -> Dataset:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter names: {', '.join(dupes)}")
        if "Time" in names:
            raise ValueError("'Time' is added by the server; do not declare it")
        if self.max_interval is not None and not self.intervals:
            raise ValueError("max_interval is for interval datasets (intervals: true)")
        first = self.parameters[0]
        if self.intervals and (first.name != STOP_TIME or first.type != "isotime"):
            raise ValueError(
                f"an interval dataset's first parameter is {STOP_TIME!r}, an isotime (leave"
                " it out: it is declared for you, from the variable 'stop')"
            )
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
