"""A HAPI info and its records as one xarray Dataset, whichever transport read them.

Both transports end here, so the direct reader and the HAPI reader cannot drift apart:
equal infos and equal columns make identical Datasets. The layout follows what
scientists index by: ``time`` (datetime64[ns]) is the index, each HAPI parameter is a
variable, a bins axis is a dimension named after its bins with the centers as its
coordinate (and units), and bins that move with time (``centers`` naming a parameter,
HAPI 3.x) are a 2-D ``(time, bin)`` coordinate named after that parameter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from socstack._exceptions import ClientError
from socstack.client.hapi import Table

__all__ = ["empty_table", "fill_nan", "metadata", "parameters_of", "to_dataset"]

#: Info keys that describe the transport, not the data (never Dataset attributes).
_NOT_METADATA = {"HAPI", "status", "parameters", "format"}
#: Parameter keys that become variable attributes when present.
_ATTRIBUTES = ("units", "label", "description", "coordinateSystemName", "vectorComponents")


def metadata(info: dict[str, Any]) -> dict[str, Any]:
    """The info's metadata for Dataset attributes: spec keys only, ``x_`` ignored.

    Extensions are dropped because they are one server's business; a Dataset read from
    socstack must look like one read from any other HAPI server.
    """
    return {k: v for k, v in info.items() if k not in _NOT_METADATA and not k.startswith("x_")}


def parameters_of(info: dict[str, Any], dataset: str, names: list[str] | None) -> list[str]:
    """The parameter names asked for (all but Time by default), checked against the info."""
    declared = [str(p.get("name")) for p in info.get("parameters") or []][1:]
    if names is None:
        return declared
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise ClientError(
            f"{dataset} has no parameter {', '.join(map(repr, unknown))}"
            f" (it has {', '.join(declared)})"
        )
    return [n for n in declared if n in names]  # the info's order, as servers require


def empty_table(info: dict[str, Any], names: list[str]) -> Table:
    """No records, with each column's type and shape (a window outside the coverage)."""
    by_name = {p["name"]: p for p in info.get("parameters") or []}
    values = {}
    for name in names:
        p = by_name[name]
        shape = tuple(int(n) for n in p.get("size") or ())
        values[name] = np.empty((0, *shape), dtype=_dtype(p))
    return Table(np.empty(0, dtype=np.int64), values)


def _dtype(parameter: dict[str, Any]) -> np.dtype[Any]:
    kind = parameter.get("type", "double")
    if kind == "integer":
        return np.dtype("<i4")
    if kind in ("string", "isotime"):
        return np.dtype(f"S{int(parameter.get('length', 1))}")
    return np.dtype("<f8")


def _filled(values: Any, parameter: dict[str, Any], *, nan_filled: bool = False) -> Any:
    """Doubles with fill values as NaN; integers unchanged (NaN is no integer).

    An integer's dtype must not depend on whether a fill happens to occur, so integers
    keep their fill and say it in the ``fill`` attribute.
    """
    kind = parameter.get("type", "double")
    if hasattr(values, "map_blocks"):  # a Dask array: filled chunk by chunk, when read
        out = np.dtype(object) if kind in ("string", "isotime") else values.dtype
        out = np.dtype(np.float64) if kind == "double" else out
        return values.map_blocks(_filled, parameter, dtype=out)
    if kind in ("string", "isotime"):
        return np.char.decode(values.astype(bytes), "utf-8", "replace").astype(str)
    if kind == "integer":
        return values
    values = np.asarray(values, dtype=np.float64)
    fill = parameter.get("fill")
    number = float("nan") if fill is None or nan_filled else float(fill)
    if math.isnan(number):
        return values  # no fill, NaN already, or filled by the transport
    if not values.flags.writeable:
        return np.where(values == number, np.nan, values)
    np.copyto(values, np.nan, where=values == number)  # the columns are ours: no copy
    return values


def fill_nan(values: np.ndarray, parameter: dict[str, Any]) -> None:
    """Put NaN in place of the fill value of a double column (in place: it is ours)."""
    if parameter.get("type", "double") == "double":
        _filled(values, parameter)


def _attributes(parameter: dict[str, Any]) -> dict[str, Any]:
    out = {k: parameter[k] for k in _ATTRIBUTES if parameter.get(k) is not None}
    if parameter.get("type") == "integer" and parameter.get("fill") is not None:
        out["fill"] = int(parameter["fill"])
    return out


def to_dataset(
    dataset: str, server: str, info: dict[str, Any], table: Table, names: list[str]
) -> xr.Dataset:
    """The Dataset of ``names`` (parameters) from ``table`` described by ``info``.

    ``table`` holds the columns of ``names`` and of any parameter their bins name.
    """
    by_name = {str(p["name"]): p for p in info.get("parameters") or []}
    # A view, and an index that keeps it: a year of 1 Hz times is 250 MB, copied twice
    # otherwise (numpy's cast checks each value; pandas 3 copies what it is given).
    time = pd.DatetimeIndex(
        np.asarray(table.time, dtype=np.int64).view("datetime64[ns]"), copy=False
    )
    coords: dict[str, Any] = {"time": ("time", time, {"standard_name": "time"})}
    variables: dict[str, Any] = {}
    moving: dict[str, tuple[str, ...]] = {}  # a parameter held as a time-varying bin
    for name in names:
        p = by_name[name]
        size = [int(n) for n in p.get("size") or ()]
        dims = [f"{name}_dim{i}" for i in range(len(size))]
        for axis, spec in enumerate(p.get("bins") or []):
            if axis >= len(dims):
                break
            dims[axis] = _bin_axis(coords, name, spec, size[axis])
            centers = spec.get("centers")
            if isinstance(centers, str):
                moving[centers] = ("time", dims[axis])
        values = _filled(table.values[name], p, nan_filled=table.nan_filled)
        variables[name] = (("time", *dims), values, _attributes(p))
    for ref, dims in moving.items():
        p = by_name.get(ref)
        if p is None or ref not in table.values:
            raise ClientError(f"{dataset}: bins name parameter {ref!r}, which the info lacks")
        coords[ref] = (
            dims,
            _filled(table.values[ref], p, nan_filled=table.nan_filled),
            _attributes(p),
        )
        variables.pop(ref, None)  # a coordinate, not also a variable of the same name
    attrs = {"dataset": dataset, "server": server, **metadata(info)}
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def _bin_axis(coords: dict[str, Any], parameter: str, spec: dict[str, Any], length: int) -> str:
    """The dimension of one bins axis, with its static centers and ranges as coordinates.

    Named after the bins; a second parameter whose bins share the name but not the
    values gets its own dimension (``<parameter>_<bins>``) rather than a silent clash.
    """
    name = str(spec.get("name") or f"{parameter}_bins")
    attrs = {k: spec[k] for k in ("units", "label", "description") if spec.get(k)}
    centers, ranges = spec.get("centers"), spec.get("ranges")
    new: dict[str, Any] = {}
    if isinstance(centers, list):
        new[name] = ((name,), np.asarray(centers, dtype=np.float64), attrs)
    if isinstance(ranges, list):
        edges = np.asarray(ranges, dtype=np.float64).reshape(length, 2)
        new[f"{name}_ranges"] = ((name, "bound"), edges, attrs)
    if any(k in coords and not _same(coords[k], v) for k, v in new.items()):
        name = f"{parameter}_{name}"
        new = {
            k.replace(str(spec.get("name")), name, 1): ((name, *v[0][1:]), v[1], v[2])
            for k, v in new.items()
        }
    coords.update(new)
    return name


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return bool(a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2])
