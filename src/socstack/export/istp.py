"""ISTP/SPDF compliance check of a CDF file, run before a delivery to NASA's SPDF.

SPDF (CDAWeb) rejects a file that misses the ISTP attributes its tools rely on: the
global attributes naming the mission, instrument and product, and per variable its
``VAR_TYPE``, the time it depends on, its fill value, valid range, units, labels and
format. :func:`check_istp` runs before a delivery so that a bad file is kept back with
its reasons (one :class:`IstpProblem` each) instead of being bounced by SPDF later.

It checks what the ISTP guidelines require, not everything they recommend:
https://spdf.gsfc.nasa.gov/istp_guide/istp_guide.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REQUIRED_GLOBAL", "IstpProblem", "check_istp"]

REQUIRED_GLOBAL = (
    "Project",
    "Source_name",
    "Discipline",
    "Data_type",
    "Descriptor",
    "Data_version",
    "Logical_file_id",
    "Logical_source",
    "Logical_source_description",
    "PI_name",
    "PI_affiliation",
    "TEXT",
    "Instrument_type",
    "Mission_group",
)
VAR_TYPES = ("data", "support_data", "metadata", "ignore_data")
REQUIRED_DATA = (
    "FILLVAL",
    "VALIDMIN",
    "VALIDMAX",
    "CATDESC",
    "FIELDNAM",
    "DISPLAY_TYPE",
)
REQUIRED_SUPPORT = ("CATDESC", "FIELDNAM")
# CDF_EPOCH, CDF_EPOCH16, CDF_TIME_TT2000 (CDF User's Guide, section 2.5).
TIME_TYPES = frozenset({31, 32, 33})
# Attributes whose value is the name of another variable of the file.
_POINTER = re.compile(r"^(DEPEND_\d+|LABL_PTR_\d+|DELTA_PLUS_VAR|DELTA_MINUS_VAR|FORM_PTR)$")


@dataclass(frozen=True)
class IstpProblem:
    """One way a file falls short of ISTP: a global attribute when ``variable`` is None."""

    variable: str | None
    attribute: str
    message: str

    def __str__(self) -> str:
        where = f"{self.variable}.{self.attribute}" if self.variable else self.attribute
        return f"{where}: {self.message}"


def _empty(value: Any) -> bool:
    """Whether an attribute value holds nothing (absent, blank text, no entries)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return len(value) == 0 or all(_empty(v) for v in value)
    size = getattr(value, "size", None)
    return size == 0


def _text(value: Any) -> str:
    """A global attribute's first entry as text (cdflib gives a list of entries)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip()


def check_istp(path: Path) -> list[IstpProblem]:
    """The ISTP problems of the CDF at ``path``; an empty list means it passes."""
    import cdflib

    try:
        cdf = cdflib.CDF(path)
        info = cdf.cdf_info()
        names = list(info.zVariables) + list(info.rVariables)
        global_attrs = cdf.globalattsget()
        variable_attrs = {name: cdf.varattsget(name) for name in names}
        inquiries = {name: cdf.varinq(name) for name in names}
        for name, inquiry in inquiries.items():  # a file cut short loses its last records
            if inquiry.Last_Rec >= 0:
                cdf.varget(name, startrec=inquiry.Last_Rec, endrec=inquiry.Last_Rec)
        types = {name: inquiry.Data_Type for name, inquiry in inquiries.items()}
    except Exception as exc:  # cdflib raises OSError, ValueError, struct.error ... on bad files
        return [IstpProblem(None, "file", f"not a readable CDF: {type(exc).__name__}: {exc}")]
    problems = _check_global(global_attrs)
    existing = set(names)
    time_dependencies = set()
    for name in names:
        attrs = variable_attrs[name]
        problems += _check_variable(name, attrs, existing)
        depend_0 = attrs.get("DEPEND_0")
        if isinstance(depend_0, str) and depend_0 in existing:
            time_dependencies.add(depend_0)
    for name in sorted(time_dependencies):
        if types[name] in TIME_TYPES:
            problems += _check_time(name, variable_attrs[name])
    return list(dict.fromkeys(problems))  # a time variable's CATDESC may be named twice


def _check_global(attrs: dict[str, Any]) -> list[IstpProblem]:
    problems = [
        IstpProblem(None, key, "required global attribute is missing or empty")
        for key in REQUIRED_GLOBAL
        if _empty(attrs.get(key))
    ]
    source, file_id = attrs.get("Logical_source"), attrs.get("Logical_file_id")
    if not _empty(source) and not _empty(file_id) and not _text(file_id).startswith(_text(source)):
        problems.append(
            IstpProblem(
                None,
                "Logical_file_id",
                f"{_text(file_id)!r} does not start with Logical_source {_text(source)!r}",
            )
        )
    return problems


def _missing(
    name: str, attrs: dict[str, Any], keys: tuple[str, ...], kind: str
) -> list[IstpProblem]:
    return [
        IstpProblem(name, key, f"required for VAR_TYPE={kind}, missing or empty")
        for key in keys
        if _empty(attrs.get(key))
    ]


def _check_variable(name: str, attrs: dict[str, Any], existing: set[str]) -> list[IstpProblem]:
    problems: list[IstpProblem] = []
    var_type = attrs.get("VAR_TYPE")
    var_type = var_type.strip() if isinstance(var_type, str) else var_type
    if _empty(var_type):
        problems.append(IstpProblem(name, "VAR_TYPE", "required, missing or empty"))
    elif var_type not in VAR_TYPES:
        problems.append(
            IstpProblem(name, "VAR_TYPE", f"{var_type!r} is not one of {', '.join(VAR_TYPES)}")
        )
    for key, value in attrs.items():
        if _POINTER.match(key) and not _empty(value) and str(value) not in existing:
            problems.append(IstpProblem(name, key, f"names {value!r}, no variable of the file"))
    if var_type == "data":
        if _empty(attrs.get("DEPEND_0")):
            problems.append(IstpProblem(name, "DEPEND_0", "required for VAR_TYPE=data, missing"))
        problems += _missing(name, attrs, REQUIRED_DATA, "data")
        if not isinstance(attrs.get("UNITS"), str):  # present; ISTP's " " means dimensionless
            problems.append(IstpProblem(name, "UNITS", "required for VAR_TYPE=data, missing"))
        if _empty(attrs.get("FORMAT")) and _empty(attrs.get("FORM_PTR")):
            problems.append(
                IstpProblem(name, "FORMAT", "required for VAR_TYPE=data (or FORM_PTR), missing")
            )
        if _empty(attrs.get("LABLAXIS")) and _empty(attrs.get("LABL_PTR_1")):
            problems.append(
                IstpProblem(name, "LABLAXIS", "required for VAR_TYPE=data (or LABL_PTR_1), missing")
            )
    elif var_type == "support_data":
        problems += _missing(name, attrs, REQUIRED_SUPPORT, "support_data")
    return problems


def _check_time(name: str, attrs: dict[str, Any]) -> list[IstpProblem]:
    """The time variable a data variable depends on: ISTP support data with a description."""
    problems: list[IstpProblem] = []
    var_type = attrs.get("VAR_TYPE")
    if not _empty(var_type) and var_type != "support_data":
        message = f"a DEPEND_0 time variable must be support_data, not {var_type!r}"
        problems.append(IstpProblem(name, "VAR_TYPE", message))
    return problems + _missing(name, attrs, REQUIRED_SUPPORT, "support_data")
