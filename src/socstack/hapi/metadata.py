"""HAPI metadata (about, capabilities, catalog, info) from mission configuration and catalog.

A dataset's static description comes from the mission YAML: its parameters, and their
units, fill values and descriptions, which default to the product's CDF attributes. Its
dynamic part comes from the archive's catalog: coverage (``startDate``/``stopDate``,
updated as files arrive), a sample window, and ``modificationDate`` (the last ingest).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from socstack import __version__
from socstack.formats.registry import media_type
from socstack.hapi.status import HAPI_VERSION
from socstack.mission.datasets import STOP_TIME, URI
from socstack.mission.model import Bins, Dataset, Mission, Parameter, Product
from socstack.times import format_time, time_length

if TYPE_CHECKING:
    from socstack.config import Settings

#: The Time parameter's description, by where in its sample interval the stamp is.
_STAMP_DESCRIPTIONS = {
    "begin": "Start of the sample interval",
    "center": "Middle of the sample interval",
    "end": "End of the sample interval",
    "other": "Time of the sample (see the dataset's description for where in its interval)",
}

__all__ = ["Coverage", "HapiDataset", "HapiParameter", "build_dataset", "iso"]

_NS = 1_000_000_000


def iso(value: dt.datetime | int) -> str:
    """A HAPI time string (seconds resolution) for metadata."""
    if isinstance(value, dt.datetime):
        value = int(value.timestamp()) * _NS
    return format_time(int(value), 0)


@dataclass(frozen=True)
class Coverage:
    """What the archive holds of a dataset."""

    start: int  # ns, inclusive (midnight of the first day)
    stop: int  # ns, exclusive (midnight after the last day)
    sample_start: int
    sample_stop: int
    modified: dt.datetime
    files: int


@dataclass(frozen=True)
class HapiParameter:
    """One non-time parameter: how to read it and how to describe it."""

    name: str
    type: str
    variable: str
    size: tuple[int, ...]
    length: int | None
    description: dict[str, Any]
    bin_variables: tuple[str, ...] = ()  # support variables the bins are read from

    @property
    def columns(self) -> int:
        """CSV/binary columns: the product of the size (1 for scalars)."""
        return math.prod(self.size) if self.size else 1

    @property
    def binary_dtype(self) -> str:
        """numpy dtype of one element in the binary format."""
        if self.type == "double":
            return "<f8"
        if self.type == "integer":
            return "<i4"
        return f"S{self.length}"


@dataclass
class HapiDataset:
    """A dataset as the HAPI server sees it."""

    id: str
    mission: Mission
    product: Product
    config: Dataset
    parameters: list[HapiParameter] = field(default_factory=list)

    @property
    def time_digits(self) -> int:
        """Fractional digits of output times."""
        return self.config.time_digits

    @property
    def time_parameter(self) -> dict[str, Any]:
        """The primary time parameter (always first)."""
        return {
            "name": "Time",
            "type": "isotime",
            "units": "UTC",
            "fill": None,
            "length": time_length(self.time_digits),
            "description": self.config.time_description
            or (
                "Start of the interval (it ends at stopTime)"
                if self.config.intervals or self.config.files
                else _STAMP_DESCRIPTIONS[self.config.time_stamp_location]
            ),
        }

    @property
    def title(self) -> str:
        """The catalog title (HAPI recommends at most 40 characters)."""
        return self.config.title or self.product.title or self.id

    def parameter(self, name: str) -> HapiParameter | None:
        """A parameter by name (not Time)."""
        return next((p for p in self.parameters if p.name == name), None)

    def info(
        self,
        coverage: Coverage,
        support: dict[str, np.ndarray],
        chosen: list[HapiParameter] | None = None,
        base_url: str = "",
    ) -> dict[str, Any]:
        """The info document without ``HAPI``/``status`` (the catalog's depth=all form).

        ``base_url`` is where clients reach socstack: a file listing's links are names
        under its ``/api/files/`` (HAPI's ``stringType`` ``base``), so they follow the
        deployment's public URL and each download is authorized like any other.
        """
        product, config = self.product, self.config
        parameters = [self.time_parameter]
        for parameter in chosen if chosen is not None else self.parameters:
            described = _with_bins(parameter, support)
            if config.files and parameter.name == URI:
                described["stringType"] = _links(product, base_url)
            parameters.append(described)
        out: dict[str, Any] = {
            "parameters": parameters,
            "startDate": iso(coverage.start),
            "stopDate": iso(coverage.stop),
            "sampleStartDate": iso(coverage.sample_start),
            "sampleStopDate": iso(coverage.sample_stop),
            "timeStampLocation": "begin" if config.intervals else config.time_stamp_location,
            "description": config.description or product.description or product.title,
            "modificationDate": iso(coverage.modified),
        }
        optional = {
            "cadence": config.cadence,
            "maxRequestDuration": config.max_request_duration,
            "resourceURL": config.resource_url,
            "contact": config.contact,
            "contactID": config.contact_id,
            "datasetCitation": config.dataset_citation,
            "licenseURL": config.license_url,
            "resourceID": config.resource_id,
            "creationDate": config.creation_date,
            "note": config.note,
            "warning": config.warning,
            "unitsSchema": config.units_schema,
            "coordinateSystemSchema": config.coordinate_system_schema,
            "provenance": config.provenance or _provenance(self),
        }
        out.update({k: v for k, v in optional.items() if v})
        metadata = config.additional_metadata or [_istp_block(product)]
        out["additionalMetadata"] = metadata[0]  # the 3.3 schema takes a single object
        out["x_socstack"] = {
            "mission": self.mission.name,
            "product": product.id,
            "instrument": product.instrument,
            "level": product.level,
            "fileNamePattern": product.pattern,
            "files": coverage.files,
            "server": f"socstack {__version__}",
        }
        if config.files:
            out["x_socstack"]["fileListing"] = True
        if config.intervals or config.files:
            # HAPI's proposed interval-based records (data-specification#227): until the
            # specification names the key, it is ours.
            out["x_socstack"]["intervalBasedRecords"] = True
            out["x_socstack"]["stopTime"] = STOP_TIME
        summary = self.mission.datasets.get(config.summary or "")
        if summary is not None:
            out["x_socstack"]["summary"] = {
                "dataset": config.summary,
                "cadence": summary.cadence,
                "parameters": config.summarized_by(summary),
            }
        return out


def _links(product: Product, base_url: str) -> dict[str, Any]:
    """A file listing's stringType: what the links point to, and where they are relative to."""
    uri: dict[str, Any] = {"mediaType": media_type(product.format)}
    if base_url:
        uri["scheme"] = base_url.split(":", 1)[0]
        uri["base"] = f"{base_url.rstrip('/')}/api/files/"
    return {"uri": uri}


def _provenance(dataset: HapiDataset) -> str:
    rules = [
        r
        for r in dataset.mission.rules.values()
        if any(o.product == dataset.product.id for o in r.outputs)
    ]
    if dataset.config.files:
        return f"The catalog's list of the archived files of product {dataset.product.id}."
    if not rules:
        return f"Files of product {dataset.product.id} as delivered to the archive."
    rule = rules[0]
    inputs = ", ".join(dict.fromkeys(i.product for i in rule.inputs))
    return (
        f"Made by the {dataset.mission.name} mission's rule {rule.id} (code version "
        f"{rule.code_version}) from {inputs}; each file's inputs are listed in its CDF "
        "Parents attribute and at /api/files/{name}/provenance."
    )


def _istp_block(product: Product) -> dict[str, Any]:
    options = product.format_options
    attributes = getattr(options, "global_attributes", {}) or {}
    content = {k: str(v) for k, v in attributes.items() if v is not None}
    return {"name": "ISTP", "content": content or {"Logical_source": product.key}}


def _with_bins(parameter: HapiParameter, support: dict[str, np.ndarray]) -> dict[str, Any]:
    described = dict(parameter.description)
    if "bins" not in described:
        return described
    bins = []
    for spec in described["bins"]:
        entry = {k: v for k, v in spec.items() if not k.startswith("_")}
        if "_centers_variable" in spec:
            entry["centers"] = [float(v) for v in support[spec["_centers_variable"]]]
        if "_ranges_variables" in spec:
            low, high = (support[v] for v in spec["_ranges_variables"])
            entry["ranges"] = [[float(a), float(b)] for a, b in zip(low, high, strict=True)]
        bins.append(entry)
    described["bins"] = bins
    return described


def _fill(parameter: Parameter, attributes: dict[str, Any]) -> str | None:
    if parameter.fill is not None:
        return parameter.fill
    value = attributes.get("FILLVAL")
    if value is None or parameter.type in ("string", "isotime"):
        return None
    if parameter.type == "integer":
        return str(int(value))
    number = float(value)
    return "NaN" if math.isnan(number) else repr(number)


def _units(parameter: Parameter, attributes: dict[str, Any]) -> str | list[str | None] | None:
    if parameter.units is not None:
        return parameter.units
    value = str(attributes.get("UNITS", "")).strip()
    return value or None


def _label(parameter: Parameter, attributes: dict[str, Any]) -> str | list[str] | None:
    if parameter.label is not None:
        return parameter.label
    value = str(attributes.get("LABLAXIS", "")).strip()
    return value or None


def _bin(spec: Bins, support: list[str]) -> dict[str, Any]:
    """One bins object; values held in files are marked for filling at request time."""
    entry: dict[str, Any] = {"name": spec.name, "units": spec.units}
    for key in ("label", "description"):
        if getattr(spec, key):
            entry[key] = getattr(spec, key)
    if spec.centers is not None:
        entry["centers"] = spec.centers
    elif not spec.centers_variable:
        entry["centers"] = None  # HAPI's form for bins given by their ranges alone
    if spec.ranges is not None:
        entry["ranges"] = spec.ranges
    if spec.centers_variable:
        entry["_centers_variable"] = spec.centers_variable
        support.append(spec.centers_variable)
    if spec.ranges_variables:
        entry["_ranges_variables"] = list(spec.ranges_variables)
        support.extend(spec.ranges_variables)
    return entry


def build_parameter(parameter: Parameter, attributes: dict[str, Any]) -> HapiParameter:
    """The HAPI view of one configured parameter."""
    described: dict[str, Any] = {
        "name": parameter.name,
        "type": parameter.type,
        "units": _units(parameter, attributes),
        "fill": _fill(parameter, attributes),
    }
    if parameter.length is not None:
        described["length"] = parameter.length
    if parameter.size:
        described["size"] = list(parameter.size)
    description = parameter.description or str(attributes.get("CATDESC", "")).strip()
    if description:
        described["description"] = description
    label = _label(parameter, attributes)
    if label is not None:
        described["label"] = label
    if parameter.vector_components is not None:
        described["vectorComponents"] = parameter.vector_components
    if parameter.coordinate_system is not None:
        described["coordinateSystemName"] = parameter.coordinate_system
    support: list[str] = []
    if parameter.bins:
        described["bins"] = [_bin(spec, support) for spec in parameter.bins]
    for key, value in parameter.extra.items():
        described[f"x_{key}"] = value
    return HapiParameter(
        name=parameter.name,
        type=parameter.type,
        variable=parameter.variable,
        size=tuple(parameter.size or ()),
        length=parameter.length,
        description=described,
        bin_variables=tuple(support),
    )


def build_dataset(mission: Mission, config: Dataset) -> HapiDataset:
    """The HAPI view of one configured dataset."""
    product = mission.products[config.product]
    attributes = getattr(product.format_options, "variable_attributes", {}) or {}
    if config.files:  # a listing's parameters describe the files, not their variables
        attributes = {}
    parameters = [build_parameter(p, attributes.get(p.variable, {})) for p in config.parameters]
    return HapiDataset(config.id, mission, product, config, parameters)


def capabilities() -> dict[str, Any]:
    """The capabilities document."""
    return {
        "HAPI": HAPI_VERSION,
        "status": {"code": 1200, "message": "OK"},
        "outputFormats": ["csv", "binary", "json"],
        "catalogDepthOptions": ["dataset", "all"],
    }


def about(settings: Settings, public_url: str) -> dict[str, Any]:
    """The about document, from the deployment's settings (``SOC_HAPI_ID`` and the rest).

    ``contactID`` and ``serverCitation`` are there only when the operator gives them:
    HAPI means ``contactID`` as a persistent identifier of the contact, not a URL.
    Where clients reach the server is ``x_url``.
    """
    document: dict[str, Any] = {
        "HAPI": HAPI_VERSION,
        "status": {"code": 1200, "message": "OK"},
        "id": settings.hapi_id,
        "title": settings.hapi_title,
        "contact": settings.hapi_contact,
        "description": f"HAPI server of {settings.hapi_title} (socstack).",
    }
    if settings.hapi_contact_id:
        document["contactID"] = settings.hapi_contact_id
    if settings.hapi_server_citation:
        document["serverCitation"] = settings.hapi_server_citation
    return {**document, "x_server": f"socstack {__version__}", "x_url": public_url}
