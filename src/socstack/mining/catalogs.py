"""Event lists in and out: catalogs as CSV, JSON and AMDA's VOTable.

A scientist uploads a catalog made elsewhere (an AMDA time table or catalog, a SciQLop
export, a spreadsheet's CSV) and downloads any event list socstack made, in the form the
next tool reads. Every format carries the same things: each event's start and stop
(UTC, to the nanosecond where the list has them), one value per event of each attribute
(float64, int64, bool, text or time), the list's name and description, and the
attributes' units and descriptions.

Reading is for untrusted uploads: the input is refused over :data:`MAX_BYTES` or
:data:`MAX_EVENTS`, XML is parsed with DOCTYPE and entity declarations refused, and every
problem is a :class:`CatalogFormatError` whose one-line message names the line, row or
field, so the API can answer 422 with it and nothing else escapes.

The VOTable is the one AMDA writes and reads for time tables and catalogs (and so what
speasy and SciQLop load): a ``DESCRIPTION`` of the VOTABLE with ``Name: ...;`` lines, the
first TABLE's first two FIELDs the interval's start and stop as ISO 8601 text
(``datatype="char" xtype="dateTime"``, ``ucd="time.start"``/``"time.end"``, no ``Z``:
speasy parses them with ``%Y-%m-%dT%H:%M:%S.%f``), then one FIELD per parameter, and the
rows as TABLEDATA.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from xml.etree import ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from socstack.mining.events import EventList, EventListError
from socstack.times import format_times, parse_time, parse_times

__all__ = [
    "FORMATS",
    "MAX_BYTES",
    "MAX_EVENTS",
    "CatalogFormatError",
    "guess_format",
    "media_type",
    "read_catalog",
    "suffix",
    "write_catalog",
]

#: The formats :func:`write_catalog` writes and :func:`read_catalog` reads.
FORMATS = ("csv", "json", "votable")
#: Larger uploads are refused before they are parsed (AMDA itself takes 30 MB).
MAX_BYTES = 50 * 1024 * 1024
#: More events than this are refused: a catalog, not a data set.
MAX_EVENTS = 1_000_000

_MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "votable": "application/x-votable+xml",
}
# .xml, not .vot: what AMDA names its time tables and what its upload form expects.
_SUFFIXES = {"csv": ".csv", "json": ".json", "votable": ".xml"}
_ALIASES = {"xml": "votable", "vot": "votable"}
_EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".xml": "votable",
    ".vot": "votable",
    ".votable": "votable",
}

# Header names of the start and stop, compared without case, spaces, _ or -.
_START_NAMES = ("start", "starttime", "timeintervalstart", "begin", "begintime")
_STOP_NAMES = ("stop", "stoptime", "timeintervalstop", "end", "endtime")

_INT64 = np.iinfo(np.int64)
_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.IGNORECASE
)
_TRUE, _FALSE = ("true", "t", "1"), ("false", "f", "0")
# Characters XML 1.0 cannot carry at all (a text attribute holding one cannot be written).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class CatalogFormatError(EventListError):
    """A catalog cannot be read or written; the message says where and why, on one line."""


# -- the types of attributes ---------------------------------------------------------------
#
# One name per type, used by all three formats: JSON's and CSV's "type", and mapped to the
# VOTable datatypes. "double", "integer" and "string" are AMDA's names for its catalog
# parameters; "boolean" and "dateTime" are VOTable's.

DOUBLE, INTEGER, BOOLEAN, STRING, DATETIME = "double", "integer", "boolean", "string", "dateTime"
_TYPES = (DOUBLE, INTEGER, BOOLEAN, STRING, DATETIME)


def _kind(name: str, values: np.ndarray) -> str:
    """The catalog type of an attribute's values (refused: vectors, complex, objects)."""
    if values.ndim != 1:
        raise CatalogFormatError(
            f"attribute {name!r} has {values.shape[1:]} values per event;"
            " catalogs hold one value per event and attribute"
        )
    kinds = {"f": DOUBLE, "i": INTEGER, "u": INTEGER, "b": BOOLEAN, "U": STRING, "S": STRING}
    kinds["M"] = DATETIME
    if values.dtype.kind not in kinds:
        raise CatalogFormatError(f"attribute {name!r}: {values.dtype} values cannot be written")
    return kinds[values.dtype.kind]


def _typed(name: str, kind: str, values: np.ndarray) -> np.ndarray:
    """Values in the one dtype their catalog type has (int64 checked for range)."""
    if kind == INTEGER:
        if len(values) and (values.max() > _INT64.max or values.min() < _INT64.min):
            raise CatalogFormatError(f"attribute {name!r}: integers beyond 64 bits")
        return values.astype(np.int64)
    if kind == DOUBLE:
        return values.astype(np.float64)
    if kind == STRING and values.dtype.kind == "S":
        return np.char.decode(values, "utf-8")
    if kind == DATETIME:
        return values.astype("datetime64[ns]")
    return values


def _digits(*times: np.ndarray, least: int = 0, most: int = 9) -> int:
    """Fraction digits (0, 3, 6 or 9; within least..most) that write these times exactly."""
    ns = np.concatenate([t[~np.isnat(t)].astype(np.int64) for t in times])
    for digits in (0, 3, 6):
        if least <= digits and not np.any(ns % 10 ** (9 - digits)):
            return digits
    return max(least, min(9, most))


def _iso(times: np.ndarray, digits: int, *, zulu: bool = True) -> list[str]:
    """ISO 8601 UTC text of times (``""`` for NaT), with or without the trailing Z."""
    missing = np.isnat(times)
    ns = np.where(missing, 0, times.astype(np.int64))
    text = [t.decode() if zulu else t.decode()[:-1] for t in format_times(ns, digits)]
    return [("" if m else t) for m, t in zip(missing.tolist(), text, strict=True)]


@dataclass
class _Column:
    """One attribute as a reader found it: raw values, declared type and metadata."""

    name: str
    values: list[Any] = field(default_factory=list)
    kind: str | None = None  # None: infer from the values
    units: str = ""
    description: str = ""
    null: str | None = None  # VOTable's VALUES null: this text means "no value"


@dataclass
class _Table:
    """What a reader found, before the values are checked and typed."""

    start: list[Any]
    stop: list[Any]
    columns: list[_Column]
    where: Callable[[int], str]  # row index -> "line 7", "event 3", "row 2"
    name: str = ""
    description: str = ""


# -- values: text or JSON in, typed arrays out ---------------------------------------------


def _times(values: Sequence[Any], what: str, where: Callable[[int], str]) -> np.ndarray:
    """ISO 8601 times (UTC; T or a space; Z or none) as datetime64[ns]; NaT for blanks.

    Blanks are allowed only for time attributes; the caller refuses them for start and stop.
    """
    text = ["" if v is None else v.strip().replace(" ", "T") if isinstance(v, str) else v
            for v in values]  # fmt: skip
    given = [i for i, v in enumerate(text) if v != ""]
    for i in given:
        if not isinstance(text[i], str):
            raise CatalogFormatError(f"{where(i)}: {what} {text[i]!r} is not an ISO 8601 time")
    try:
        ns = parse_times(np.array([text[i] for i in given], dtype=str))
    except ValueError:
        for i in given:
            try:
                parse_time(text[i])
            except ValueError as exc:
                raise CatalogFormatError(
                    f"{where(i)}: {what} {values[i]!r} is not a time ({exc})"
                ) from None
        raise CatalogFormatError(f"{what}: times do not parse") from None  # pragma: no cover
    out = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[given] = ns.astype("datetime64[ns]")
    return out


def _blank(value: Any, column: _Column) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", column.null))


def _infer(column: _Column) -> str:
    """The type of a column that declares none: from its values, integer before double."""
    values = [v for v in column.values if not _blank(v, column)]
    if all(isinstance(v, str) for v in values):
        if values and all(_INTEGER.fullmatch(v.strip()) for v in values):
            return INTEGER if len(values) == len(column.values) else DOUBLE
        if values and all(_FLOAT.fullmatch(v.strip()) for v in values):
            return DOUBLE
        return STRING if values or not column.values else DOUBLE
    if all(isinstance(v, bool) for v in values):
        return BOOLEAN if len(values) == len(column.values) else DOUBLE
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        whole = all(isinstance(v, int) for v in values) and len(values) == len(column.values)
        return INTEGER if whole else DOUBLE
    return STRING


def _number(value: Any, kind: str, column: _Column, at: str) -> float | int:
    """One double or integer value; blanks are NaN (an integer column then becomes double)."""
    if _blank(value, column):
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if kind == INTEGER and _INTEGER.fullmatch(text):
            number: float | int = int(text)
        elif _FLOAT.fullmatch(text):
            number = float(text)
        else:
            raise CatalogFormatError(f"{at}: {value!r} is not a number")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = value
    else:
        raise CatalogFormatError(f"{at}: {value!r} is not a number")
    if kind == INTEGER and not isinstance(number, int):
        if not float(number).is_integer():
            raise CatalogFormatError(f"{at}: {value!r} is not an integer")
        number = int(number)
    if isinstance(number, int) and not _INT64.min <= number <= _INT64.max:
        raise CatalogFormatError(f"{at}: {value!r} is beyond 64-bit integers")
    return number


def _values(column: _Column, where: Callable[[int], str]) -> np.ndarray:
    """A column's values as the array of its (declared or inferred) type."""
    kind = column.kind or _infer(column)

    def at(i: int) -> str:
        return f"{where(i)}, field {column.name!r}"

    if kind == DATETIME:
        return _times([None if _blank(v, column) else v for v in column.values], "time", at)
    if kind in (DOUBLE, INTEGER):
        numbers = [_number(v, kind, column, at(i)) for i, v in enumerate(column.values)]
        if kind == INTEGER and not any(isinstance(n, float) for n in numbers):
            return np.array(numbers, dtype=np.int64)
        return np.array(numbers, dtype=np.float64)
    out: list[Any] = []
    for i, value in enumerate(column.values):
        if kind == BOOLEAN:
            text = str(value).strip().lower()
            if isinstance(value, bool) or text in _TRUE + _FALSE:
                out.append(value if isinstance(value, bool) else text in _TRUE)
                continue
            raise CatalogFormatError(f"{at(i)}: {value!r} is not true or false")
        if not isinstance(value, str):
            raise CatalogFormatError(f"{at(i)}: {value!r} is not text")
        out.append(value)
    return np.array(out, dtype=bool if kind == BOOLEAN else str)


def _event_list(table: _Table) -> EventList:
    """The checked, typed event list of what a reader found."""
    if len(table.start) > MAX_EVENTS:
        raise CatalogFormatError(f"{len(table.start)} events; at most {MAX_EVENTS} are read")
    start = _times(table.start, "start time", table.where)
    stop = _times(table.stop, "stop time", table.where)
    for name, times in (("start", start), ("stop", stop)):
        missing = np.flatnonzero(np.isnat(times))
        if missing.size:
            raise CatalogFormatError(f"{table.where(int(missing[0]))}: no {name} time")
    backwards = np.flatnonzero(stop < start)
    if backwards.size:
        i = int(backwards[0])
        raise CatalogFormatError(
            f"{table.where(i)}: stops ({table.stop[i]}) before it starts ({table.start[i]})"
        )
    seen: set[str] = set()
    for column in table.columns:
        if column.name in seen:
            raise CatalogFormatError(f"field {column.name!r} appears twice")
        seen.add(column.name)
    try:
        return EventList(
            start,
            stop,
            {c.name: _values(c, table.where) for c in table.columns},
            name=table.name,
            description=table.description,
            units={c.name: c.units for c in table.columns if c.units},
            descriptions={c.name: c.description for c in table.columns if c.description},
        )
    except CatalogFormatError:
        raise
    except EventListError as exc:
        raise CatalogFormatError(str(exc)) from exc


def _normal(name: str) -> str:
    return re.sub(r"[\s_-]", "", name).lower()


def _time_columns(names: Sequence[str], what: str) -> tuple[int, int]:
    """Where the start and stop are among a header's names (case, spaces, _ ignored)."""
    found = []
    for wanted, aliases in (("start", _START_NAMES), ("stop", _STOP_NAMES)):
        hits = [i for i, n in enumerate(names) if _normal(n) in aliases]
        if not hits:
            raise CatalogFormatError(
                f"{what}: no {wanted} column (one of {wanted}, {wanted.title()}Time,"
                f" {wanted}_time, TimeInterval{wanted.title()}); it has"
                f" {', '.join(map(repr, names)) or 'none'}"
            )
        found.append(hits[0])
    return found[0], found[1]


# -- CSV ------------------------------------------------------------------------------------
#
#   # name: Bow shock crossings
#   # description: one comment line per line of the description
#   # parameter: {"name": "distance", "type": "double", "units": "km", "description": "..."}
#   start,stop,distance,label
#   2020-01-01T00:00:00Z,2020-01-01T00:10:00Z,12.5,"inbound, fast"
#
# Lines end in CRLF (RFC 4180). The parameter lines keep the types (text that looks like a
# number stays text); a CSV without them (a spreadsheet's) gets types inferred from the values.


def _text_value(kind: str, value: Any) -> str:
    """One value as CSV text: floats as repr (exact round trip), bools as true/false."""
    if kind == DOUBLE:
        return repr(float(value))
    if kind == BOOLEAN:
        return "true" if value else "false"
    return str(value)


def _metadata(attribute: str, kind: str, events: EventList) -> dict[str, str]:
    """The parameter record of an attribute, as JSON and the CSV comments carry it."""
    out = {"name": attribute, "type": kind}
    if events.units.get(attribute):
        out["units"] = events.units[attribute]
    if events.descriptions.get(attribute):
        out["description"] = events.descriptions[attribute]
    return out


def _columns(events: EventList) -> list[tuple[str, str, np.ndarray]]:
    """(name, type, typed values) of each attribute, checked for being writable."""
    out = []
    for name, values in events.attributes.items():
        kind = _kind(name, values)
        out.append((name, kind, _typed(name, kind, values)))
    return out


def _write_csv(events: EventList) -> bytes:
    buffer = io.StringIO(newline="")
    for key, text in (("name", events.name), ("description", events.description)):
        for line in text.splitlines() if text else []:
            buffer.write(f"# {key}: {line}\r\n")
    columns = _columns(events)
    for name, kind, _ in columns:
        record = json.dumps(_metadata(name, kind, events), ensure_ascii=False)
        buffer.write(f"# parameter: {record}\r\n")
    # CRLF as RFC 4180 has it; it also makes the csv module quote a lone \r in text
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["start", "stop", *(name for name, _, _ in columns)])
    digits = _digits(events.start, events.stop)
    cells = [_iso(events.start, digits), _iso(events.stop, digits)]
    for _, kind, values in columns:
        if kind == DATETIME:
            cells.append(_iso(values, _digits(values)))
        else:
            cells.append([_text_value(kind, v) for v in values.tolist()])
    writer.writerows(zip(*cells, strict=True))
    return buffer.getvalue().encode("utf-8")


class _CsvLines:
    """The lines a csv reader is fed, minus the comment lines between records.

    The reader itself says where a record starts (it asks for a line while no record is
    under way), so a line inside a quoted field (a text value with a line break) is data
    even when it starts with #. Comments before the header carry the list's metadata.
    """

    def __init__(self, text: str, table: _Table, parameters: dict[str, dict[str, Any]]):
        self.lines = enumerate(io.StringIO(text, newline=""), start=1)
        self.table, self.parameters = table, parameters
        self.boundary = True  # the reader is between records
        self.first_line = 0  # where the record now being read starts
        self.header_seen = False

    def __iter__(self) -> Iterator[str]:
        for number, line in self.lines:
            if self.boundary:
                if line.startswith("#"):
                    if not self.header_seen:
                        _comment(line, self.table, self.parameters, f"line {number}")
                    continue
                self.first_line, self.boundary = number, False
            yield line


def _comment(line: str, table: _Table, parameters: dict[str, dict[str, Any]], at: str) -> None:
    """Take the name, a description line or a parameter record from a comment line."""
    key, sep, value = line.lstrip("#").partition(":")
    key = key.strip().lower()
    if not sep or key not in ("name", "description", "parameter"):
        return
    value = value.rstrip("\r\n")
    value = value[1:] if value.startswith(" ") else value
    if key == "parameter":
        try:
            record = json.loads(value)
        except ValueError as exc:
            raise CatalogFormatError(f"{at}: parameter comment is not JSON ({exc})") from None
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            raise CatalogFormatError(f"{at}: parameter comment needs a JSON object with a name")
        parameters[record["name"]] = record
    elif key == "name":
        table.name = f"{table.name}\n{value}" if table.name else value
    else:
        table.description = f"{table.description}\n{value}" if table.description else value


def _read_csv(data: bytes) -> _Table:
    line_of: list[int] = []  # the first line of each data row
    table = _Table([], [], [], where=lambda i: f"line {line_of[i]}")
    parameters: dict[str, dict[str, Any]] = {}
    lines = _CsvLines(_decode(data), table, parameters)
    rows = csv.reader(lines, strict=True)
    header: list[str] | None = None
    others: list[int] = []
    i_start = i_stop = 0
    try:
        for row in rows:
            lines.boundary = True
            if not row:  # a blank line
                continue
            if header is None:
                lines.header_seen = True
                header = [h.strip() for h in row]
                i_start, i_stop = _time_columns(header, f"header at line {lines.first_line}")
                others = [i for i in range(len(header)) if i not in (i_start, i_stop)]
                table.columns = [_csv_column(header[i], parameters) for i in others]
                continue
            line_of.append(lines.first_line)
            if len(row) != len(header):
                raise CatalogFormatError(
                    f"line {lines.first_line}: {len(row)} values for {len(header)} columns"
                )
            if len(line_of) > MAX_EVENTS:
                raise CatalogFormatError(
                    f"more than {MAX_EVENTS} events; at most {MAX_EVENTS} are read"
                )
            table.start.append(row[i_start])
            table.stop.append(row[i_stop])
            for column, i in zip(table.columns, others, strict=True):
                column.values.append(row[i])
    except csv.Error as exc:
        raise CatalogFormatError(f"line {lines.first_line}: not CSV ({exc})") from None
    if header is None:
        raise CatalogFormatError("no header row (start,stop,...)")
    return table


def _csv_column(name: str, parameters: dict[str, dict[str, Any]]) -> _Column:
    """A CSV column with what its ``# parameter:`` comment declares (type, units, ...)."""
    record = parameters.get(name, {})
    kind = record.get("type")
    if kind is not None and kind not in _TYPES:
        raise CatalogFormatError(f"parameter {name!r}: unknown type {kind!r}")
    units, description = record.get("units") or "", record.get("description") or ""
    return _Column(name, kind=kind, units=str(units), description=str(description))


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogFormatError(f"not UTF-8 text (byte {exc.start})") from None


# -- JSON -----------------------------------------------------------------------------------
#
#   {"name": "...", "description": "...",
#    "parameters": [{"name": "distance", "type": "double", "units": "km"}, ...],
#    "events": [{"start": "2020-01-01T00:00:00Z", "stop": "...", "distance": 12.5}, ...]}
#
# NaN is null; infinities are the strings "inf" and "-inf" (JSON has no such numbers).


def _json_value(kind: str, value: Any) -> Any:
    if kind == DOUBLE and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _write_json(events: EventList) -> bytes:
    columns = _columns(events)
    digits = _digits(events.start, events.stop)
    cells: list[list[Any]] = []
    for _, kind, values in columns:
        if kind == DATETIME:
            cells.append([t or None for t in _iso(values, _digits(values))])
        else:
            cells.append([_json_value(kind, v) for v in values.tolist()])
    names = [name for name, _, _ in columns]
    rows = zip(_iso(events.start, digits), _iso(events.stop, digits), *cells, strict=True)
    document = {
        "name": events.name,
        "description": events.description,
        "parameters": [_metadata(name, kind, events) for name, kind, _ in columns],
        "events": [
            {"start": start, "stop": stop, **dict(zip(names, values, strict=True))}
            for start, stop, *values in rows
        ],
    }
    return json.dumps(document, ensure_ascii=False, allow_nan=False, indent=1).encode("utf-8")


def _read_json(data: bytes) -> _Table:
    try:
        document = json.loads(_decode(data))
    except json.JSONDecodeError as exc:
        raise CatalogFormatError(
            f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    if isinstance(document, list):  # a bare list of events
        document = {"events": document}
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise CatalogFormatError('JSON catalog needs an object with an "events" list')
    events: list[Any] = document["events"]
    if len(events) > MAX_EVENTS:
        raise CatalogFormatError(f"{len(events)} events; at most {MAX_EVENTS} are read")
    table = _Table([], [], [], where=lambda i: f"event {i + 1}")
    table.name = _json_text(document, "name", "catalog")
    table.description = _json_text(document, "description", "catalog")
    declared = document.get("parameters")
    columns = _json_parameters(declared)
    keys: tuple[str, str] | None = None
    for n, event in enumerate(events):
        if not isinstance(event, dict):
            raise CatalogFormatError(f"event {n + 1}: not an object")
        names = list(event)
        if keys is None or keys[0] not in event or keys[1] not in event:
            i_start, i_stop = _time_columns(names, f"event {n + 1}")
            keys = (names[i_start], names[i_stop])
        table.start.append(event[keys[0]])
        table.stop.append(event[keys[1]])
        for name in names:
            if name not in keys and name not in columns:
                if declared is not None:
                    raise CatalogFormatError(f"event {n + 1}: {name!r} is not a parameter")
                columns[name] = _Column(name, values=[None] * n)
        for name, column in columns.items():
            column.values.append(event.get(name))
    table.columns = list(columns.values())
    return table


def _json_parameters(declared: Any) -> dict[str, _Column]:
    """The columns a JSON catalog declares (its "parameters"), checked one by one."""
    if declared is not None and not isinstance(declared, list):
        raise CatalogFormatError('"parameters" is not a list')
    columns: dict[str, _Column] = {}
    for n, record in enumerate(declared or []):
        if not isinstance(record, dict) or not isinstance(record.get("name"), str):
            raise CatalogFormatError(f"parameter {n + 1}: needs an object with a name")
        kind = record.get("type")
        if kind is not None and kind not in _TYPES:
            raise CatalogFormatError(f"parameter {record['name']!r}: unknown type {kind!r}")
        if record["name"] in columns:
            raise CatalogFormatError(f"field {record['name']!r} appears twice")
        columns[record["name"]] = _Column(
            record["name"], kind=kind, units=_json_text(record, "units", "parameter"),
            description=_json_text(record, "description", "parameter"),
        )  # fmt: skip
    return columns


def _json_text(record: dict[str, Any], key: str, what: str) -> str:
    value = record.get(key) or ""
    if not isinstance(value, str):
        raise CatalogFormatError(f"{what} {key} is not text: {value!r}")
    return value


# -- VOTable --------------------------------------------------------------------------------
#
# What socstack writes (a list with a double "distance" in km and a text "label"):
#
#   <?xml version="1.0" encoding="UTF-8"?>
#   <VOTABLE version="1.3" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
#     <DESCRIPTION>Name: Bow shock crossings;
#   Historic: exported by socstack;
#   Description: ...;
#   </DESCRIPTION>
#     <RESOURCE>
#       <TABLE nrows="1">
#         <FIELD name="TimeIntervalStart" ID="TimeIntervalStart" ucd="time.start"
#                datatype="char" arraysize="*" xtype="dateTime" utype=""/>
#         <FIELD name="TimeIntervalStop" ID="TimeIntervalStop" ucd="time.end"
#                datatype="char" arraysize="*" xtype="dateTime" utype=""/>
#         <FIELD name="distance" datatype="double" unit="km"><DESCRIPTION>..</DESCRIPTION></FIELD>
#         <FIELD name="label" datatype="char" arraysize="*"/>
#         <DATA><TABLEDATA>
#           <TR><TD>2020-01-01T00:00:00.000</TD><TD>2020-01-01T00:10:00.000</TD>
#               <TD>12.5</TD><TD>inbound</TD></TR>
#         </TABLEDATA></DATA>
#       </TABLE>
#     </RESOURCE>
#   </VOTABLE>
#
# Times have milliseconds (speasy's %f needs a fraction), microseconds where the list has
# them, never more: %f reads six digits at most, so finer times are truncated to the
# microsecond here (CSV and JSON keep nanoseconds). Text with non-ASCII characters is
# datatype="unicodeChar", as VOTable asks. The name has no line breaks in a DESCRIPTION
# line: they become spaces. Read: the start and stop FIELDs by ucd, else by name or ID
# (TimeIntervalStart, StartTime, "Start Time", ...), the name from the DESCRIPTION's
# Name line or the TABLE's name.

_VOTABLE_NS = "http://www.ivoa.net/xml/VOTable/v1.3"
_DATATYPES = {DOUBLE: "double", INTEGER: "long", BOOLEAN: "boolean", STRING: "char"}
_DATATYPES[DATETIME] = "char"
_READ_TYPES = {
    "double": DOUBLE, "float": DOUBLE, "long": INTEGER, "int": INTEGER, "short": INTEGER,
    "unsignedByte": INTEGER, "boolean": BOOLEAN, "char": STRING, "unicodeChar": STRING,
}  # fmt: skip
_SPECIAL = {math.inf: "+Inf", -math.inf: "-Inf"}


def _xml_text(text: str, what: str) -> str:
    """Text escaped for XML content (a carriage return kept as &#13;), or refused."""
    bad = _NOT_XML.search(text)
    if bad:
        raise CatalogFormatError(f"{what}: character {bad.group()!r} cannot be written in XML")
    return escape(text, {"\r": "&#13;"})


def _xml_attribute(text: str, what: str) -> str:
    _xml_text(text, what)
    return quoteattr(text)


def _td_value(kind: str, value: Any) -> str:
    if kind == DOUBLE:
        value = float(value)
        return "NaN" if math.isnan(value) else _SPECIAL.get(value, repr(value))
    return _text_value(kind, value)


def _write_votable(events: EventList) -> bytes:
    columns = _columns(events)
    name = events.name.replace("\r", " ").replace("\n", " ")
    summary = f"Name: {name};\nHistoric: exported by socstack;\n"
    if events.description:
        summary += f"Description: {events.description};\n"
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<VOTABLE version="1.3" xmlns="{_VOTABLE_NS}">\n',
        f"  <DESCRIPTION>{_xml_text(summary, 'catalog description')}</DESCRIPTION>\n",
        "  <RESOURCE>\n",
        f'    <TABLE nrows="{len(events)}">\n',
    ]
    for edge, ucd in (("Start", "time.start"), ("Stop", "time.end")):
        out.append(
            f'      <FIELD name="TimeInterval{edge}" ID="TimeInterval{edge}" ucd="{ucd}"'
            ' datatype="char" arraysize="*" xtype="dateTime" utype=""/>\n'
        )
    digits = _digits(events.start, events.stop, least=3, most=6)
    cells = [_iso(events.start, digits, zulu=False), _iso(events.stop, digits, zulu=False)]
    for attribute, kind, values in columns:
        what = f"attribute {attribute!r}"
        datatype = _DATATYPES[kind]
        if kind == STRING and not all(v.isascii() for v in values.tolist()):
            datatype = "unicodeChar"
        text = f'      <FIELD name={_xml_attribute(attribute, what)} datatype="{datatype}"'
        if kind in (STRING, DATETIME):
            text += ' arraysize="*"'
        if kind == DATETIME:
            text += ' xtype="dateTime"'
        if events.units.get(attribute):
            text += f" unit={_xml_attribute(events.units[attribute], what)}"
        described = events.descriptions.get(attribute)
        if described:
            text += f"><DESCRIPTION>{_xml_text(described, what)}</DESCRIPTION></FIELD>\n"
        else:
            text += "/>\n"
        out.append(text)
        if kind == DATETIME:
            cells.append(_iso(values, _digits(values, least=3, most=6), zulu=False))
        else:
            cells.append([_td_value(kind, v) for v in values.tolist()])
    out.append("      <DATA><TABLEDATA>\n")
    names = ["start", "stop", *(a for a, _, _ in columns)]
    for n, row in enumerate(zip(*cells, strict=True)):
        tds = "".join(
            f"<TD>{_xml_text(v, f'event {n + 1}, {names[k]}')}</TD>" for k, v in enumerate(row)
        )
        out.append(f"        <TR>{tds}</TR>\n")
    out.append("      </TABLEDATA></DATA>\n    </TABLE>\n  </RESOURCE>\n</VOTABLE>\n")
    return "".join(out).encode("utf-8")


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_: Any) -> None:
        raise CatalogFormatError(
            f"XML with a {what} is refused (entities can expand without bound)"
        )

    return handler


def _parse_xml(data: bytes) -> ET.Element:
    """The element tree of untrusted XML: DOCTYPE and entities refused, namespaces dropped.

    expat drives an ElementTree builder directly, so a DOCTYPE (the only place entities
    can be declared) stops the parse before anything is expanded: no billion laughs, no
    external entities, without a third-party parser.
    """
    parser = expat.ParserCreate(namespace_separator=" ")
    builder = ET.TreeBuilder()

    def local(name: str) -> str:
        return name.rpartition(" ")[2]

    def start(tag: str, attributes: dict[str, str]) -> None:
        builder.start(local(tag), {local(k): v for k, v in attributes.items()})

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: builder.end(local(tag))
    parser.CharacterDataHandler = builder.data
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE")
    parser.EntityDeclHandler = _refuse("ENTITY declaration")
    parser.ExternalEntityRefHandler = _refuse("external entity")
    parser.buffer_text = True
    try:
        parser.Parse(data, True)
        return builder.close()
    except expat.ExpatError as exc:
        raise CatalogFormatError(
            f"not well-formed XML: {expat.ErrorString(exc.code)} at line {exc.lineno},"
            f" column {exc.offset + 1}"
        ) from None


# The keys AMDA writes in a VOTable's DESCRIPTION, each "Key: value;" on its own line.
_KEYS = r"(?:Name|Historic|Creation Date|Description|Contact|Nb Intervals|Survey Start|Survey Stop)"
_NAME_LINE = re.compile(r"^[ \t]*Name[ \t]*:[ \t]?(.*?);?[ \t]*$", re.MULTILINE)
_NAME_ITEM = re.compile(r"(?:^|;)\s*Name\s*:\s*([^;]*)")  # tscat: "Contact:x;Name:y;"
_DESCRIPTION = re.compile(
    rf"^[ \t]*Description[ \t]*:[ \t]?(.*?);?\s*(?=\n[ \t]*{_KEYS}[ \t]*:|\Z)",
    re.MULTILINE | re.DOTALL,
)


def _summary(text: str) -> tuple[str, str]:
    """Name and description from an AMDA DESCRIPTION (``Name: ...;`` lines)."""
    name = _NAME_LINE.search(text) or _NAME_ITEM.search(text)
    described = _DESCRIPTION.search(text)
    return (name[1].strip() if name else ""), (described[1] if described else "")


def _field_kind(element: ET.Element, name: str) -> str:
    """The catalog type of a parameter FIELD; vectors and unknown datatypes refused."""
    datatype = element.get("datatype", "char")
    if datatype not in _READ_TYPES:
        raise CatalogFormatError(f"FIELD {name!r}: datatype {datatype!r} is not read")
    kind = _READ_TYPES[datatype]
    size = element.get("arraysize", "1")
    if kind != STRING and size not in ("1", ""):
        raise CatalogFormatError(
            f"FIELD {name!r}: {size} values per row (arraysize); only one is read"
        )
    if kind == STRING and element.get("xtype", "").lower() in ("datetime", "timestamp"):
        return DATETIME
    return kind


def _read_votable(data: bytes) -> _Table:
    root = _parse_xml(data)
    if root.tag != "VOTABLE":
        raise CatalogFormatError(f"XML is not a VOTable (its root is <{root.tag}>, not <VOTABLE>)")
    element = next(root.iter("TABLE"), None)
    if element is None:
        raise CatalogFormatError("the VOTable holds no TABLE")
    fields = element.findall("FIELD")
    names = [f.get("name") or f.get("ID") or f"column {n + 1}" for n, f in enumerate(fields)]

    def by_ucd(word: str) -> int | None:
        hits = [n for n, f in enumerate(fields) if word in f.get("ucd", "").split(";")]
        return hits[0] if hits else None

    i_start, i_stop = by_ucd("time.start"), by_ucd("time.end")
    if i_start is None or i_stop is None:
        ids = [f.get("ID") or "" for f in fields]
        for candidates in (names, ids):
            try:
                i_start, i_stop = _time_columns(candidates, "the VOTable's FIELDs")
                break
            except CatalogFormatError:
                continue
        else:
            raise CatalogFormatError(
                "missing column: no FIELD for the start and stop (ucd time.start and time.end,"
                f" or names TimeIntervalStart/StartTime); it has {', '.join(map(repr, names))}"
            )
    table = _Table([], [], [], where=lambda i: f"row {i + 1}")
    table.name, table.description = _summary(root.findtext("DESCRIPTION") or "")
    table.name = table.name or element.get("name", "")
    table.description = table.description or (element.findtext("DESCRIPTION") or "").strip()
    others = [n for n in range(len(fields)) if n not in (i_start, i_stop)]
    for n in others:
        values = fields[n].find("VALUES")
        table.columns.append(
            _Column(
                names[n],
                kind=_field_kind(fields[n], names[n]),
                units=fields[n].get("unit", ""),
                description=(fields[n].findtext("DESCRIPTION") or "").strip(),
                null=values.get("null") if values is not None else None,
            )
        )
    body = element.find("DATA")
    if body is not None and body.find("TABLEDATA") is None:
        kinds = ", ".join(child.tag for child in body)
        raise CatalogFormatError(f"only TABLEDATA VOTables are read, not {kinds or 'empty DATA'}")
    rows = body.find("TABLEDATA").findall("TR") if body is not None else []  # type: ignore[union-attr]
    if len(rows) > MAX_EVENTS:
        raise CatalogFormatError(f"{len(rows)} events; at most {MAX_EVENTS} are read")
    for r, row in enumerate(rows):
        cells = [td.text or "" for td in row.findall("TD")]
        if len(cells) != len(fields):
            raise CatalogFormatError(f"row {r + 1}: {len(cells)} TD for {len(fields)} FIELDs")
        table.start.append(cells[i_start])
        table.stop.append(cells[i_stop])
        for column, n in zip(table.columns, others, strict=True):
            column.values.append(cells[n])
    return table


# -- the public functions -------------------------------------------------------------------

_WRITERS: dict[str, Callable[[EventList], bytes]] = {
    "csv": _write_csv, "json": _write_json, "votable": _write_votable,
}  # fmt: skip
_READERS: dict[str, Callable[[bytes], _Table]] = {
    "csv": _read_csv, "json": _read_json, "votable": _read_votable,
}  # fmt: skip


def _format(fmt: str) -> str:
    """A format's canonical name (``xml`` and ``vot`` mean VOTable), or a clear refusal."""
    name = _ALIASES.get(str(fmt).lower(), str(fmt).lower())
    if name not in FORMATS:
        raise CatalogFormatError(f"unknown catalog format {fmt!r}; use one of {', '.join(FORMATS)}")
    return name


def media_type(fmt: str) -> str:
    """The Content-Type of a format (VOTable's is IVOA's ``application/x-votable+xml``)."""
    return _MEDIA_TYPES[_format(fmt)]


def suffix(fmt: str) -> str:
    """The file-name suffix of a format, with its dot (``.xml`` for VOTable, as AMDA's)."""
    return _SUFFIXES[_format(fmt)]


def guess_format(data: bytes, filename: str = "") -> str:
    """The format of an upload: from its file name's suffix, else from its first bytes."""
    by_name = _EXTENSIONS.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())
    if by_name:
        return by_name
    head = data[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "votable"
    if head.startswith((b"{", b"[")):
        return "json"
    return "csv"


def write_catalog(events: EventList, fmt: str) -> bytes:
    """The event list as a catalog file in ``fmt`` (one of :data:`FORMATS`), UTF-8."""
    return _WRITERS[_format(fmt)](events)


def read_catalog(data: bytes, fmt: str | None = None, *, filename: str = "") -> EventList:
    """The event list a catalog file holds; ``fmt`` None guesses it (:func:`guess_format`).

    A list without a name of its own takes the file name's stem. Anything wrong is a
    :class:`CatalogFormatError` naming the file and the line, row or field.
    """
    prefix = f"{filename}: " if filename else ""
    try:
        if isinstance(data, str):
            data = data.encode("utf-8")
        if len(data) > MAX_BYTES:
            raise CatalogFormatError(
                f"{len(data)} bytes; catalogs over {MAX_BYTES // 2**20} MB are refused"
            )
        name = _format(fmt) if fmt is not None else guess_format(data, filename)
        events = _event_list(_READERS[name](data))
    except CatalogFormatError as exc:
        raise CatalogFormatError(f"{prefix}{exc}") from exc
    except RecursionError:
        raise CatalogFormatError(f"{prefix}nested too deeply to read") from None
    except Exception as exc:  # the boundary: no third-party error reaches the API
        raise CatalogFormatError(
            f"{prefix}unreadable catalog ({type(exc).__name__}: {exc})"
        ) from exc
    if not events.name and filename:
        events.name = PurePosixPath(filename.replace("\\", "/")).stem
    return events
