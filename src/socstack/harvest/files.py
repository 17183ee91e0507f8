"""A peer's day of records as a daily CDF with ISTP attributes taken from its ``info``.

What the peer says of each parameter (description, units, fill, labels, bins) becomes
the variable's ISTP attributes, so the file explains itself in the archive as files made
here do, and the HAPI server describes it again from those attributes. A product's own
attribute YAML (``options.attributes``) overrides what is generated: a mission can say
better than a peer's info what a harvested dataset is.

The day's checksum is over the records as they came (times and values, in the info's
order): the same records make the same checksum, whatever the peer's formatting, so a
pass that finds a day unchanged archives nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from socstack.client.hapi import Table
from socstack.formats.cdf import RECORD_DIM, CdfVariable
from socstack.mission.products import Product

__all__ = ["attributes_for", "day_checksum", "day_variables", "schema_hash"]

_FILL = -1.0e31
_SCHEMA_KEYS = ("name", "type", "units", "size", "fill", "length")


def _parameters(info: dict[str, Any], names: Sequence[str]) -> list[dict[str, Any]]:
    known = {str(p.get("name")): p for p in info.get("parameters") or []}
    return [known[n] for n in names]


def schema_hash(info: dict[str, Any], names: Sequence[str]) -> str:
    """The sha256 of what the parameters are (not of the data): a change is a new interface."""
    described = []
    for parameter in _parameters(info, names):
        entry = {k: parameter.get(k) for k in _SCHEMA_KEYS}
        entry["bins"] = [
            {"units": b.get("units"), "centers": b.get("centers")}
            for b in parameter.get("bins") or []
        ]
        described.append(entry)
    text = json.dumps(described, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def day_checksum(table: Table, names: Sequence[str]) -> str:
    """The sha256 of a day's records: times, then each parameter's values in order."""
    digest = hashlib.sha256(np.ascontiguousarray(table.time, dtype=np.int64).tobytes())
    for name in names:
        values = np.ascontiguousarray(table.values[name])
        digest.update(name.encode() + b"\0" + str(values.dtype).encode() + b"\0")
        digest.update(values.tobytes())
    return digest.hexdigest()


def _fill(parameter: dict[str, Any]) -> float:
    try:
        value = float(parameter.get("fill"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _FILL
    return _FILL if np.isnan(value) else value


def _text(value: Any) -> str:
    if isinstance(value, list):
        value = next((v for v in value if v), "")
    return str(value or "").strip()


def day_variables(
    info: dict[str, Any], names: Sequence[str], table: Table
) -> dict[str, CdfVariable]:
    """The records as a CDF's variables: the time, each parameter, its labels and bins.

    Handed to :func:`~socstack.formats.cdf.write_cdf_variables` as they are: an xarray
    Dataset in between cost a day's copy of every array and a third of the writing.
    """
    variables: dict[str, CdfVariable] = {
        RECORD_DIM: CdfVariable((RECORD_DIM,), table.time.view("datetime64[ns]"))
    }
    for parameter in _parameters(info, names):
        name = str(parameter["name"])
        values = _filled(np.asarray(table.values[name]), parameter)
        dims = [RECORD_DIM]
        bins = parameter.get("bins") or []
        for axis in range(1, values.ndim):
            centers = bins[axis - 1].get("centers") if len(bins) >= axis else None
            if isinstance(centers, list) and len(centers) == values.shape[axis]:
                axis_name = f"{name}_bins{axis}" if values.ndim > 2 else f"{name}_bins"
                variables[axis_name] = CdfVariable(
                    (axis_name,), np.asarray(centers, dtype=np.float64)
                )
            else:
                axis_name = f"{name}_dim{axis}"
            dims.append(axis_name)
        labels = parameter.get("label")
        if values.ndim == 2 and isinstance(labels, list) and len(labels) == values.shape[1]:
            variables[f"{name}_labl"] = CdfVariable(
                (dims[1],), np.asarray([str(x) for x in labels])
            )
        variables[name] = CdfVariable(tuple(dims), values)
    return variables


def _filled(values: np.ndarray, parameter: dict[str, Any]) -> np.ndarray:
    """Values as the CDF holds them: text as str, NaN as the fill value (ISTP has no NaN)."""
    if values.dtype.kind in "SU":
        return values.astype(str)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            return np.where(missing, _fill(parameter), values)
    return values


def attributes_for(
    product: Product,
    info: dict[str, Any],
    names: Sequence[str],
    *,
    url: str,
    dataset: str,
    file_stem: str,
    version: str,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Global and per-variable ISTP attributes for a harvested day (the YAML's override)."""
    source = f"{url}/info?dataset={dataset}"
    description = _text(info.get("description")) or product.description or dataset
    global_attributes: dict[str, Any] = {
        "Project": f"Harvested from {url}",
        "Source_name": product.instrument,
        "Discipline": "Space Physics>Heliospheric Physics",
        "Data_type": f"{product.level}>harvested",
        "Descriptor": product.descriptor,
        "Data_version": version,
        "Logical_file_id": file_stem,
        "Logical_source": f"{product.mission}_{product.instrument}_{product.level}_"
        f"{product.descriptor}",
        "Logical_source_description": product.title or f"{dataset} of {url}",
        "PI_name": _text(info.get("contact")) or "see the HAPI source",
        "PI_affiliation": _text(info.get("contact")) or "see the HAPI source",
        "TEXT": f"{description} Harvested from the HAPI dataset {dataset} at {url}.",
        "Instrument_type": "Harvested",
        "Mission_group": product.mission,
        "HAPI_source": source,
    }
    variables: dict[str, dict[str, Any]] = {
        RECORD_DIM: {
            "VAR_TYPE": "support_data",
            "CATDESC": "Time of the record, UTC",
            "FIELDNAM": "Time",
            "UNITS": "ns",
            "LABLAXIS": "Epoch",
        }
    }
    for parameter in _parameters(info, names):
        name = str(parameter["name"])
        size = parameter.get("size") or []
        attrs: dict[str, Any] = {
            "VAR_TYPE": "data",
            "CATDESC": _text(parameter.get("description")) or name,
            "FIELDNAM": name,
            "UNITS": _text(parameter.get("units")) or " ",
            "DISPLAY_TYPE": "spectrogram" if parameter.get("bins") else "time_series",
        }
        if parameter.get("type") in ("double", "integer", None):
            attrs |= {
                "FILLVAL": _fill(parameter),
                "VALIDMIN": -1.0e30,
                "VALIDMAX": 1.0e30,
                "FORMAT": "E12.4",
            }
        else:
            attrs["FORMAT"] = f"A{parameter.get('length') or 24}"
        labels = parameter.get("label")
        if len(size) == 1 and isinstance(labels, list) and len(labels) == size[0]:
            attrs["LABL_PTR_1"] = f"{name}_labl"
            variables[f"{name}_labl"] = {
                "VAR_TYPE": "metadata",
                "CATDESC": f"Labels of {name}",
                "FIELDNAM": f"{name} labels",
            }
        else:
            attrs["LABLAXIS"] = _text(labels) or name
        for axis, spec in enumerate(parameter.get("bins") or [], start=1):
            axis_name = f"{name}_bins{axis}" if len(size) > 1 else f"{name}_bins"
            variables[axis_name] = {
                "VAR_TYPE": "support_data",
                "CATDESC": _text(spec.get("description")) or str(spec.get("name") or axis_name),
                "FIELDNAM": str(spec.get("name") or axis_name),
                "UNITS": _text(spec.get("units")) or " ",
            }
        variables[name] = attrs
    options = product.format_options
    global_attributes |= dict(getattr(options, "global_attributes", None) or {})
    for variable, extra in (getattr(options, "variable_attributes", None) or {}).items():
        variables.setdefault(variable, {}).update(extra)
    return global_attributes, variables
