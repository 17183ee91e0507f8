"""NASA Common Data Format files: read with cdflib and pycdfpp, written with ISTP attributes.

Processing functions only compute (they return xarray Datasets); this module writes
their CDF files, merging the ISTP attributes the mission keeps as YAML (a global file
and one per product, as IMAP does) with what it knows itself: ``DEPEND_0``, the logical
file id and source, the version and the parent files (provenance inside the file).

Ingest's checks and processing's reads go through cdflib's record-level API and
convert times with :mod:`socstack.formats.tt2000`: cdflib's xarray bridge converts
times one by one in Python, ten times slower than the rest of the write. Serving
(:func:`read_variables`, what HAPI and the direct client read) goes through pycdfpp,
the SciQLop team's C++ reader: a day of 1 Hz field in 1 ms instead of 12 ms, which is
most of a year's read. Types it would return in another shape than cdflib (strings,
CDF_EPOCH, column-major files) are still read by cdflib, so both paths give the same
arrays (tests/unit/test_formats.py compares them on every demo product).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np
import yaml
from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions
from socstack.formats.tt2000 import from_tt2000, to_tt2000

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = [
    "CdfOptions",
    "CdfReader",
    "CdfVariable",
    "read_variables",
    "write_cdf",
    "write_cdf_variables",
]

RECORD_DIM = "epoch"

# CDF data type codes (CDF User's Guide, section 2.5).
_CDF_TYPES = {
    np.dtype("int8"): 1,
    np.dtype("int16"): 2,
    np.dtype("int32"): 4,
    np.dtype("int64"): 8,
    np.dtype("uint8"): 11,
    np.dtype("uint16"): 12,
    np.dtype("uint32"): 14,
    np.dtype("float32"): 44,
    np.dtype("float64"): 45,
}
_TT2000, _CHAR = 33, 51


@lru_cache(maxsize=1)
def _slow_types() -> frozenset[Any]:
    """The types cdflib reads (pycdfpp gives them in other shapes); pycdfpp loads lazily."""
    import pycdfpp

    kinds = pycdfpp.DataType
    return frozenset(
        {kinds.CDF_CHAR, kinds.CDF_UCHAR, kinds.CDF_EPOCH, kinds.CDF_EPOCH16, kinds.CDF_NONE}
    )


_TYPE_NAMES = {
    1: "CDF_INT1",
    2: "CDF_INT2",
    4: "CDF_INT4",
    8: "CDF_INT8",
    11: "CDF_UINT1",
    12: "CDF_UINT2",
    14: "CDF_UINT4",
    44: "CDF_FLOAT",
    45: "CDF_DOUBLE",
    33: "CDF_TIME_TT2000",
    51: "CDF_CHAR",
}
# Attributes whose values take the variable's own data type.
_TYPED_ATTRIBUTES = {"FILLVAL", "VALIDMIN", "VALIDMAX", "SCALEMIN", "SCALEMAX"}


class CdfOptions(ReaderOptions):
    """Options of a ``cdf`` product."""

    time_variable: str = RECORD_DIM
    variables: list[str] | dict[str, list[Annotated[int, Field(gt=0)]]] = Field(
        default_factory=list,
        description=(
            "Variables the file must hold: names, or names with their shape per record"
            " ([] a scalar, [3] a vector; a support variable's whole shape), checked at ingest."
        ),
    )
    attributes: list[str] = Field(
        default_factory=list,
        description="YAML files (relative to the mission) of ISTP attributes: global, variables.",
    )

    _global: dict[str, Any] = PrivateAttr(default_factory=dict)
    _variables: dict[str, dict[str, Any]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _load_attributes(self, info: ValidationInfo) -> CdfOptions:
        mission_dir = Path((info.context or {}).get("mission_dir", "."))
        for name in self.attributes:
            path = (mission_dir / name).resolve()
            if not path.is_file():
                raise ValueError(f"attributes: no such file {path}")
            loaded = _load_attribute_file(path, path.stat().st_mtime_ns)
            self._global.update(loaded.get("global") or {})
            for variable, attrs in (loaded.get("variables") or {}).items():
                self._variables.setdefault(variable, {}).update(attrs or {})
        return self

    @property
    def global_attributes(self) -> dict[str, Any]:
        """ISTP global attributes from the product's attribute files."""
        return dict(self._global)

    @property
    def variable_attributes(self) -> dict[str, dict[str, Any]]:
        """ISTP variable attributes from the product's attribute files, by variable."""
        return {k: dict(v) for k, v in self._variables.items()}

    @property
    def required(self) -> dict[str, tuple[int, ...] | None]:
        """The variables every file must hold, with their shapes where given."""
        if isinstance(self.variables, dict):
            return {name: tuple(shape) for name, shape in self.variables.items()}
        return dict.fromkeys(self.variables)


@lru_cache(maxsize=128)
def _load_attribute_file(path: Path, mtime_ns: int) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"attributes: {path.name} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict) or set(loaded) - {"global", "variables"}:
        raise ValueError(f"attributes: {path.name} must map 'global' and 'variables'")
    return loaded


def _open(path: Path):
    import cdflib

    try:
        return cdflib.CDF(path)
    except Exception as exc:  # cdflib raises OSError, ValueError, struct.error ... on bad files
        raise FormatError(f"does not open as CDF: {exc}") from exc


def _utc(value: np.datetime64) -> dt.datetime:
    return dt.datetime.fromtimestamp(
        int(value.astype("datetime64[ns]").astype(np.int64)) / 1e9, dt.UTC
    )


def _decode(cdf: Any, name: str) -> np.ndarray:
    values = np.asarray(cdf.varget(name))
    if cdf.varinq(name).Data_Type == _TT2000:
        return from_tt2000(values)
    return values


def read_variables(
    path: Path, names: Iterable[str], *, sha256: str | None = None
) -> dict[str, np.ndarray]:
    """The named variables of a CDF file as numpy arrays (times as datetime64[ns]).

    A variable a file holds once (not record-varying) comes without a record axis, as
    cdflib gives it; the HAPI source repeats it on every record.

    With ``sha256`` (the catalog's checksum of the file ingest checked) the file is
    read by pycdfpp once its bytes are shown to be that file: pycdfpp is a C++ parser,
    and a damaged file (truncated, a flipped byte) can crash it, and the server with it,
    where cdflib raises. 2 ms of hashing a day of 1 Hz field (once per process while the
    file is unchanged) buys 11 ms of decoding, and a damaged archive file is named as
    such instead of served. Without a checksum the file is read by cdflib.
    """
    if sha256 is None:
        return _read_slowly(path, names)
    import pycdfpp

    content = _vouched_for(path, sha256)
    try:
        cdf = pycdfpp.load(content)
    except Exception as exc:  # pycdfpp raises ValueError on what is no CDF
        raise FormatError(f"does not open as CDF: {exc}") from exc
    out = {}
    slow = None
    try:
        for name in names:
            if name not in cdf:
                raise FormatError(f"cannot read {path.name}: no variable {name!r}")
            values = _fast(cdf[name])
            if values is None:
                slow = slow or _open(path)
                values = _decode(slow, name)
            out[name] = values
    except FormatError:
        raise
    except Exception as exc:  # a damaged record
        raise FormatError(f"cannot read {path.name}: {exc}") from exc
    return out


#: The files whose content was shown to have their checksum, by path: the checksum and
#: the file's stat identity then. Any write since changes the identity (its ctime, which
#: nobody can set), so an unchanged identity vouches for unchanged bytes; the second read
#: of a year in a notebook, or HAPI's next request for the same days, skips the hashing.
_VERIFIED: dict[str, tuple[str, tuple[int, ...]]] = {}
_VERIFIED_MAX = 100_000
#: Only a file unchanged for this long is remembered: the kernel's file clock ticks in
#: milliseconds, so a write just after another may leave the same ctime.
_SETTLED_NS = 1_000_000_000


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _vouched_for(path: Path, sha256: str) -> bytes:
    """The bytes of ``path``, shown to be those of checksum ``sha256`` (or FormatError)."""
    key = str(path)
    with path.open("rb") as file:
        before = _identity(os.fstat(file.fileno()))
        content = file.read()
        after = _identity(os.fstat(file.fileno()))
    if before == after and _VERIFIED.get(key) == (sha256, before) and len(content) == before[2]:
        return content
    if hashlib.sha256(content).hexdigest() != sha256:
        _VERIFIED.pop(key, None)
        raise FormatError(f"{path.name} is damaged: its checksum differs from the catalog's")
    if before == after and time.time_ns() - before[-1] > _SETTLED_NS:
        if len(_VERIFIED) >= _VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = (sha256, before)
    return content


def _read_slowly(path: Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    cdf = _open(path)
    out = {}
    try:
        for name in names:
            out[name] = _decode(cdf, name)
    except FormatError:
        raise
    except Exception as exc:  # a missing variable or a damaged record
        raise FormatError(f"cannot read {path.name}: {exc}") from exc
    return out


def _fast(variable: Any) -> np.ndarray | None:
    """A numeric or TT2000 variable's values through pycdfpp; None: let cdflib read it."""
    import pycdfpp

    kind = variable.type
    if variable.majority != pycdfpp.Majority.row or kind in _slow_types():
        return None
    values = variable.values
    if kind == pycdfpp.DataType.CDF_TIME_TT2000:
        values = from_tt2000(values.view(np.int64))
    if variable.is_nrv and len(values) == 1:
        values = values[0]
    return values


class CdfReader(Reader):
    """Reader of CDF files with a record time variable (CDF_TIME_TT2000)."""

    name = "cdf"
    media_type = "application/x-cdf"
    options_model = CdfOptions

    def declared_variables(
        self, options: ReaderOptions
    ) -> dict[str, tuple[int, ...] | None] | None:
        """The required variables and those the attribute files describe (None: neither)."""
        cdf_options: CdfOptions = options
        declared: dict[str, tuple[int, ...] | None] = dict.fromkeys(cdf_options.variable_attributes)
        declared.update(cdf_options.required)
        return declared or None

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Open, check the expected variables (and shapes) and read the time variable."""
        options: CdfOptions = product.format_options
        if path.stat().st_size == 0:
            raise FormatError("empty file")
        cdf = _open(path)
        try:
            info = cdf.cdf_info()
            names = set(info.zVariables) | set(info.rVariables)
            required = options.required
            missing = [v for v in (options.time_variable, *required) if v not in names]
            if missing:
                raise FormatError(f"lacks variable(s) {', '.join(missing)}")
            for variable, shape in required.items():
                held = tuple(int(n) for n in cdf.varinq(variable).Dim_Sizes)
                if shape is not None and held != shape:
                    raise FormatError(
                        f"variable {variable} holds {list(held)} per record, not {list(shape)}"
                    )
            epochs = np.atleast_1d(_decode(cdf, options.time_variable))
        except FormatError:
            raise
        except Exception as exc:
            raise FormatError(f"unreadable CDF content: {exc}") from exc
        valid = epochs[~np.isnat(epochs)] if np.issubdtype(epochs.dtype, np.datetime64) else epochs
        if valid.size == 0:
            return Inspection(records=0)
        if not np.issubdtype(valid.dtype, np.datetime64):
            raise FormatError(f"time variable {options.time_variable} is not CDF_TIME_TT2000")
        return Inspection(records=int(epochs.size), start=_utc(valid.min()), stop=_utc(valid.max()))

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """The whole file as a Dataset; the time variable becomes the ``epoch`` dimension."""
        import xarray as xr

        options: CdfOptions = product.format_options
        cdf = _open(path)
        try:
            names = list(cdf.cdf_info().zVariables)
            variables: dict[str, Any] = {}
            for name in names:
                inquiry = cdf.varinq(name)
                values = _decode(cdf, name)
                target = RECORD_DIM if name == options.time_variable else name
                if name == options.time_variable:
                    dims: tuple[str, ...] = (RECORD_DIM,)
                elif inquiry.Rec_Vary:
                    dims = (RECORD_DIM, *(f"{name}_dim{i}" for i in range(1, values.ndim)))
                else:
                    dims = tuple(f"{name}_dim{i}" for i in range(values.ndim))
                attrs = dict(cdf.varattsget(name))
                variables[target] = xr.Variable(dims, values, attrs)
        except FormatError:
            raise
        except Exception as exc:
            raise FormatError(f"cannot read {path.name}: {exc}") from exc
        return xr.Dataset(
            {k: v for k, v in variables.items() if k != RECORD_DIM},
            coords={RECORD_DIM: variables[RECORD_DIM]} if RECORD_DIM in variables else None,
            attrs=dict(cdf.globalattsget()),
        )


def _cdf_type(values: np.ndarray) -> tuple[int, int]:
    """(CDF data type, number of elements) for an array."""
    if np.issubdtype(values.dtype, np.datetime64):
        return _TT2000, 1
    if values.dtype.kind in "US":
        return _CHAR, max(1, int(np.char.str_len(values.astype(str)).max(initial=1)))
    if values.dtype == np.bool_:
        return _CDF_TYPES[np.dtype("uint8")], 1
    try:
        return _CDF_TYPES[values.dtype], 1
    except KeyError:
        raise TypeError(f"no CDF type for numpy {values.dtype}") from None


def _attribute(value: Any, cdf_type: int) -> Any:
    if cdf_type == _TT2000 and isinstance(value, float) and np.isnan(value):
        value = np.datetime64("NaT")  # YAML's .nan: the TT2000 fill value
    if isinstance(value, np.datetime64 | dt.datetime | dt.date) and cdf_type == _TT2000:
        return [int(to_tt2000(np.asarray([value], dtype="datetime64[ns]"))[0]), "CDF_TIME_TT2000"]
    if cdf_type in (_CHAR,) or isinstance(value, str):
        return str(value)
    return [value, _TYPE_NAMES[cdf_type]]


@dataclass(frozen=True)
class CdfVariable:
    """A variable to write: dimensions (``epoch`` first if it varies by record), values.

    What :func:`write_cdf` takes from each of a Dataset's variables; code that has the
    arrays already (a harvested day) hands them over as these, without an xarray
    Dataset built only to be taken apart again.
    """

    dims: tuple[str, ...]
    values: np.ndarray
    attrs: Mapping[str, Any] = field(default_factory=dict)


def write_cdf(
    dataset: xr.Dataset,
    path: Path,
    *,
    global_attributes: Mapping[str, Any] | None = None,
    variable_attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write ``dataset`` as an uncompressed row-major CDF (fast to read, as HAPI does).

    Variables whose first dimension is ``epoch`` vary by record; others (energy tables,
    labels) do not. Attributes given here override the Dataset's own; ``DEPEND_0`` and
    ``DEPEND_1`` are added from the dimensions when they name a variable of the file.
    """
    variables = {
        str(name): CdfVariable(
            tuple(str(d) for d in variable.dims), np.asarray(variable.values), dict(variable.attrs)
        )
        for name, variable in dataset.variables.items()
    }
    write_cdf_variables(
        variables,
        path,
        global_attributes={**dataset.attrs, **(global_attributes or {})},
        variable_attributes=variable_attributes,
    )


def write_cdf_variables(
    variables: Mapping[str, CdfVariable],
    path: Path,
    *,
    global_attributes: Mapping[str, Any] | None = None,
    variable_attributes: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Write ``variables`` as :func:`write_cdf` writes a Dataset holding them.

    The same file, byte for byte: ``epoch`` first, then the others in their order.
    """
    from cdflib import cdfwrite

    path.unlink(missing_ok=True)
    writer = cdfwrite.CDF(str(path), cdf_spec={"Compressed": 0, "Majority": "row_major"})
    try:
        writer.write_globalattrs(
            {
                key: dict(enumerate(value)) if isinstance(value, list) else {0: value}
                for key, value in (global_attributes or {}).items()
            }
        )
        names = [RECORD_DIM] if RECORD_DIM in variables else []
        names += [n for n in variables if n != RECORD_DIM]
        for name in names:
            extra = (variable_attributes or {}).get(name, {})
            _write_variable(writer, name, variables[name], variables.keys(), extra)
    finally:
        writer.close()


def _write_variable(
    writer: Any,
    name: str,
    variable: CdfVariable,
    names: Collection[str],
    extra: Mapping[str, Any],
) -> None:
    values = np.asarray(variable.values)
    cdf_type, elements = _cdf_type(values)
    record_varying = bool(variable.dims) and variable.dims[0] == RECORD_DIM
    shape = values.shape[1:] if record_varying else values.shape
    attrs: dict[str, Any] = dict(variable.attrs)
    if record_varying and name != RECORD_DIM:
        attrs.setdefault("DEPEND_0", RECORD_DIM)
    for axis, dim in enumerate(variable.dims[1:] if record_varying else (), start=1):
        if dim in names and dim != name:
            attrs.setdefault(f"DEPEND_{axis}", str(dim))
    attrs.update(extra)
    if cdf_type == _TT2000:
        data: Any = to_tt2000(values)
    elif cdf_type == _CHAR:
        data = values.astype(str)
    elif values.dtype == np.bool_:
        data = values.astype(np.uint8)
    else:
        data = values
    spec = {
        "Variable": name,
        "Data_Type": cdf_type,
        "Num_Elements": elements,
        "Rec_Vary": record_varying,
        "Dim_Sizes": list(shape),
        "Compress": 0,  # cdflib gzips each variable unless told not to; reads cost 3x more
    }
    typed = {
        key: (_attribute(value, cdf_type) if key in _TYPED_ATTRIBUTES else _attribute(value, _CHAR))
        for key, value in attrs.items()
        if value is not None
    }
    if record_varying and len(values) == 0:
        writer.write_var(spec, var_attrs=typed)
    else:
        writer.write_var(spec, var_attrs=typed, var_data=data)
