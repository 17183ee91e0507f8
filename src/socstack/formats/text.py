r"""Text tables with header lines: whitespace-separated, delimited or fixed-width columns.

Ground observatories and older instruments deliver text: a block of header lines, often
a line naming the columns, then one record per line. The layout is described entirely in
a product's ``options:``, so a new station or format needs YAML, not code. IAGA-2002
(the INTERMAGNET exchange format for geomagnetic observatory data) is the common case;
an example follows the options.

``inspect`` (the ingest gate) reads every line with whole-column numpy operations, so it
can refuse a file for a bad line anywhere, naming the line: an empty file, a missing or
garbled header, a wrong number of fields, a value that is not a number, a time that does
not parse or does not increase. ``read`` then gives a Dataset along ``epoch``
(``datetime64[ns]``): one float64 variable per numeric column (fill values as NaN), text
columns as ``str`` arrays, header fields in ``attrs``.

Options
-------
``header``
    Where the header ends (default: no header). An integer N: the first N lines. A
    string: a regular expression of the column-header line, the header's last line. Or a
    mapping of

    - ``lines``: the number of header lines, or ``until``: the column-header regex
      (searched in the first ``max_lines`` lines, default 1000);
    - ``pattern``: a regex every other header line must match (comment lines aside), to
      refuse garbled or truncated headers.

    Regexes here are Python ``re`` syntax, searched in the line as it is in the file.
``comment``
    Prefixes of comment lines (a string or a list, default ``"#"``), matched after any
    leading blanks. Comment and blank lines are skipped everywhere; in the header they are
    neither checked against ``header.pattern`` nor searched for ``header_fields``.
``line_end``
    A terminator lines may end with (IAGA-2002: ``"|"``), removed with any blanks around
    it before names, header fields and values are read.
``delimiter``
    ``whitespace`` (default: runs of blanks) or a literal separator such as ``";"``.
``colspecs`` or ``widths``
    Fixed-width columns instead of a delimiter. ``colspecs``: one ``[start, end]`` per
    column, character offsets counted from 0 with ``end`` excluded (as pandas'
    ``read_fwf``), in order and not overlapping. ``widths``: the widths of adjacent
    columns from the start of the line. Values are stripped of blanks; text after the
    last column is refused.
``columns`` (required)
    The column names in order (a list), or a mapping of

    - ``from_header: true``: names from the column-header line (the ``until`` line, or
      the last of ``lines``), split as the data lines are;
    - ``rename``: ``{regex: replacement}`` applied in order to each name (``re.sub``),
      e.g. ``{'^[A-Z0-9]{3}(?=[XYZFHDIG]$)': ''}`` drops an IAGA station code: KOUX -> X;
    - ``names``: the names the product expects (after renaming); a file naming other
      columns is refused, and the names are known before any file arrives.
``time`` (required)
    The time of each record: ``columns`` (one or more, joined by ``join``, default one
    space) and ``format``: ``iso`` (default; ISO 8601 in UTC as HAPI writes it, a space
    allowed for the ``T``) or a strptime-style format of %Y %y %m %d %j %H %M %S %f %%
    (:mod:`socstack.formats.time_format`). A string is short for one ISO 8601 column.
    Times must increase from line to line. The time columns become ``epoch``.
``numeric``
    Columns of numbers, read as float64 (default ``all``: every column but the time
    columns). The others are kept as text.
``fill``
    Values meaning "no data" in every numeric column, read as NaN (IAGA-2002: 99999
    missing, 88888 not recorded). Infinite values are refused.
``header_fields``
    Values copied from the header into the Dataset's ``attrs`` (and the inspection's
    details), by attribute name. Each is a regex with one capture group, searched in the
    header lines (``^`` and ``$`` match at each line), or a mapping of ``key`` (a label:
    the first header line starting with it, ignoring case, gives the rest of the line) or
    ``pattern`` (the regex), ``type`` (``str``, default, ``int`` or ``float``) and
    ``required`` (default true: a file whose header lacks the field is refused).
``max_rows``
    The most data lines a file may have (default 1,000,000).
``encoding``
    The text encoding (default ``utf-8``; ``latin-1`` for older files).

Examples
--------
One observatory's IAGA-2002 minute files, strictly checked (the header lines are 70
characters ending in ``|``; a file from another station or with other components is
refused)::

    kou_1m:
      title: Kourou (KOU) magnetic field, 1-minute values
      instrument: kou
      level: l2
      descriptor: 1m
      pattern: "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.min"
      format: text
      options:
        header: {until: '^DATE\s+TIME\s+DOY', pattern: '^ .{68}\|$'}
        line_end: "|"
        columns:
          from_header: true
          rename: {'^KOU': ''}
          names: [DATE, TIME, DOY, X, Y, Z, F]
        time: {columns: [DATE, TIME], format: "%Y-%m-%d %H:%M:%S.%f"}
        fill: [99999.00, 88888.00]
        header_fields:
          station: {key: IAGA CODE}
          reported: {key: Reported}
          latitude: {key: Geodetic Latitude, type: float}
          longitude: {key: Geodetic Longitude, type: float}

The least that reads such a file: ``header: '^DATE\s+TIME'``,
``columns: [DATE, TIME, DOY, X, Y, Z, F]``, ``time: {columns: [DATE, TIME]}`` and
``fill: [99999, 88888]``.

A fixed-width file with a three-line header::

    options:
      header: 3
      widths: [13, 10, 3]
      columns: [time, absorption, quality]
      time: {columns: [time], format: "%Y%j%H%M%S"}
      numeric: [absorption]
"""

from __future__ import annotations

import codecs
import datetime as dt
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field, PrivateAttr, field_validator, model_validator

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions
from socstack.formats.time_format import TimeFormat
from socstack.times import parse_time, parse_times

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["ColumnsSpec", "HeaderField", "HeaderSpec", "TextOptions", "TextReader", "TimeSpec"]

_TIME_COORD = "epoch"
_CONVERT = {"str": str, "int": int, "float": float}


def _check_regex(value: str | None, groups: int | None = None) -> str | None:
    """``value`` if it compiles (with ``groups`` capture groups when given)."""
    if value is None:
        return None
    try:
        compiled = re.compile(value)
    except re.error as exc:
        raise ValueError(f"'{value}' is not a valid regular expression: {exc}") from None
    if groups is not None and compiled.groups != groups:
        raise ValueError(
            f"'{value}' must have exactly {groups} capture group (the value); "
            f"it has {compiled.groups}"
        )
    return value


class HeaderSpec(ReaderOptions):
    """Where a file's header ends, and what each of its lines must look like."""

    lines: int | None = Field(None, ge=0, description="The number of header lines.")
    until: str | None = Field(None, description="Regex of the column-header line.")
    pattern: str | None = Field(None, description="Regex every other header line matches.")
    max_lines: int = Field(1000, gt=0, description="How far to search for ``until``.")

    @field_validator("until", "pattern")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        return _check_regex(value)

    @model_validator(mode="after")
    def _one_end(self) -> HeaderSpec:
        if (self.lines is None) == (self.until is None):
            raise ValueError(
                "give the header's end either as lines (a count) or as until "
                "(a regex of the column-header line)"
            )
        return self

    @property
    def empty(self) -> bool:
        """True when the file has no header at all."""
        return self.lines == 0


class ColumnsSpec(ReaderOptions):
    """The names of the columns: given, or read from the column-header line."""

    names: list[str] | None = Field(None, min_length=1)
    from_header: bool = False
    rename: dict[str, str] = Field(default_factory=dict)

    @field_validator("names")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if any(not n.strip() for n in value):
                raise ValueError("column names cannot be empty")
            repeated = sorted({n for n in value if value.count(n) > 1})
            if repeated:
                raise ValueError(f"column {repeated[0]!r} is named twice")
        return value

    @field_validator("rename")
    @classmethod
    def _substitutions(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, replacement in value.items():
            _check_regex(pattern)
            try:  # an empty alternative always matches, so the template is checked now
                re.compile(f"(?:{pattern})|").sub(replacement, "", count=1)
            except (re.error, IndexError) as exc:
                raise ValueError(
                    f"replacement '{replacement}' of '{pattern}' is invalid: {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _named(self) -> ColumnsSpec:
        if self.names is None and not self.from_header:
            raise ValueError("give the column names, or from_header: true")
        if self.rename and not self.from_header:
            raise ValueError("rename applies to names read from the header (from_header: true)")
        return self

    def renamed(self, name: str) -> str:
        """A name from the column-header line after ``rename``."""
        for pattern, replacement in self.rename.items():
            name = re.sub(pattern, replacement, name)
        return name


class TimeSpec(ReaderOptions):
    """Which columns give a record's time, and in which format."""

    columns: list[str] = Field(min_length=1)
    format: str = "iso"
    join: str = " "

    @field_validator("columns", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != "iso":
            TimeFormat.compile(value)  # raises ValueError naming the problem
        return value


class HeaderField(ReaderOptions):
    """A value taken from the header: by label (``key``) or by regex (``pattern``)."""

    key: str | None = Field(None, min_length=1)
    pattern: str | None = None
    type: Literal["str", "int", "float"] = "str"
    required: bool = True

    @field_validator("pattern")
    @classmethod
    def _one_group(cls, value: str | None) -> str | None:
        return _check_regex(value, groups=1)

    @model_validator(mode="after")
    def _one_way(self) -> HeaderField:
        if (self.key is None) == (self.pattern is None):
            raise ValueError("give either key (a label) or pattern (a regex)")
        return self

    def find(self, lines: list[str]) -> str | None:
        """The raw value in the (cleaned, comment-free) header ``lines``, or None."""
        if self.pattern is not None:
            match = re.search(self.pattern, "\n".join(lines), re.MULTILINE)
            return None if match is None else (match.group(1) or "").strip()
        key = (self.key or "").casefold()
        for line in lines:
            text = line.strip()
            rest = text[len(key) :]
            if text[: len(key)].casefold() == key and (not rest or rest[0] in " \t:="):
                return rest.lstrip(" \t:=").strip()
        return None

    def describe(self) -> str:
        """How the field is looked for, for error messages."""
        if self.key is not None:
            return f"no header line starts with {self.key!r}"
        return f"no header line matches '{self.pattern}'"


class TextOptions(ReaderOptions):
    """Options of a ``text`` product (documented in the module docstring)."""

    header: HeaderSpec = Field(default_factory=lambda: HeaderSpec(lines=0))
    comment: list[str] = Field(default_factory=lambda: ["#"])
    line_end: str | None = Field(None, min_length=1)
    delimiter: str = Field("whitespace", min_length=1)
    colspecs: list[tuple[int, int]] | None = Field(None, min_length=1)
    widths: list[int] | None = Field(None, min_length=1)
    columns: ColumnsSpec
    time: TimeSpec
    numeric: list[str] | Literal["all"] = "all"
    fill: list[float] = Field(default_factory=list)
    header_fields: dict[str, HeaderField] = Field(default_factory=dict)
    max_rows: int = Field(1_000_000, gt=0)
    encoding: str = "utf-8"

    _spans: list[tuple[int, int]] | None = PrivateAttr(None)

    @field_validator("header", mode="before")
    @classmethod
    def _header_shorthand(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("give a number of lines, a regex or a mapping, not true/false")
        if isinstance(value, int):
            return {"lines": value}
        return {"until": value} if isinstance(value, str) else value

    @field_validator("columns", mode="before")
    @classmethod
    def _columns_shorthand(cls, value: Any) -> Any:
        return {"names": value} if isinstance(value, list) else value

    @field_validator("time", mode="before")
    @classmethod
    def _time_shorthand(cls, value: Any) -> Any:
        return {"columns": [value]} if isinstance(value, str) else value

    @field_validator("numeric", mode="before")
    @classmethod
    def _numeric_list(cls, value: Any) -> Any:
        if value != "all" and not isinstance(value, list):
            raise ValueError("give a list of column names, or all")
        return value

    @field_validator("header_fields", mode="before")
    @classmethod
    def _field_shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"pattern": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("comment", mode="before")
    @classmethod
    def _one_prefix(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("comment")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        for prefix in value:
            if not prefix.strip() or prefix != prefix.lstrip():
                raise ValueError(
                    f"comment prefix {prefix!r} must not be empty or start with a blank "
                    "(prefixes are matched after leading blanks)"
                )
        return value

    @field_validator("delimiter")
    @classmethod
    def _delimiter(cls, value: str) -> str:
        if "\n" in value or "\r" in value:
            raise ValueError("a delimiter cannot hold a line break")
        return value

    @field_validator("widths")
    @classmethod
    def _positive(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and min(value) < 1:
            raise ValueError("widths must be positive")
        return value

    @field_validator("colspecs")
    @classmethod
    def _ordered(cls, value: list[tuple[int, int]] | None) -> list[tuple[int, int]] | None:
        previous_end = 0
        for start, end in value or []:
            if not 0 <= start < end:
                raise ValueError(f"[{start}, {end}] is not a column: need 0 <= start < end")
            if start < previous_end:
                raise ValueError(f"[{start}, {end}] overlaps the column before it")
            previous_end = end
        return value

    @field_validator("encoding")
    @classmethod
    def _codec(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TextOptions:
        self._check_layout()
        self._check_names()
        return self

    def _check_layout(self) -> None:
        if self.colspecs is not None and self.widths is not None:
            raise ValueError("give colspecs or widths, not both")
        if self.widths is not None:
            ends = np.cumsum(self.widths).tolist()
            self._spans = [(end - w, end) for end, w in zip(ends, self.widths, strict=True)]
        elif self.colspecs is not None:
            self._spans = [(start, end) for start, end in self.colspecs]
        if self._spans is not None and "delimiter" in self.model_fields_set:
            raise ValueError("fixed-width columns (colspecs, widths) take no delimiter")
        names = self.columns.names
        if self._spans is not None and names is not None and len(names) != len(self._spans):
            raise ValueError(
                f"{len(names)} column names for {len(self._spans)} fixed-width columns"
            )
        if self.header.empty and (self.columns.from_header or self.header_fields):
            what = "columns.from_header" if self.columns.from_header else "header_fields"
            raise ValueError(f"{what} needs a header (header: a line count or a regex)")

    def _check_names(self) -> None:
        times = self.time.columns
        if len(set(times)) != len(times):
            raise ValueError("time: a column is named twice")
        if self.numeric != "all":
            both = [c for c in self.numeric if c in times]
            if both:
                raise ValueError(f"numeric: {both[0]} is a time column")
        names = self.columns.names
        if names is None:
            return
        wanted = [("time", c) for c in times]
        if self.numeric != "all":
            wanted += [("numeric", c) for c in self.numeric]
        for option, column in wanted:
            if column not in names:
                raise ValueError(f"{option}: {column!r} is not a column ({', '.join(names)})")
        if _TIME_COORD in names and _TIME_COORD not in times:
            raise ValueError(f"a column cannot be named {_TIME_COORD!r} (the time coordinate)")

    @property
    def spans(self) -> list[tuple[int, int]] | None:
        """The fixed-width columns as ``(start, end)`` offsets, from colspecs or widths."""
        return self._spans

    def data_columns(self, names: list[str]) -> list[str]:
        """The columns that become variables: all but the time columns."""
        return [n for n in names if n not in self.time.columns]

    def numeric_columns(self, names: list[str]) -> list[str]:
        """The columns read as numbers."""
        return self.data_columns(names) if self.numeric == "all" else list(self.numeric)


@dataclass
class _Table:
    """A parsed file: what both ``inspect`` and ``read`` need."""

    names: list[str]
    columns: dict[str, list[str] | np.ndarray]  # raw text of each column
    line_numbers: np.ndarray  # the file line (1-based) of each record
    epoch: np.ndarray  # int64 nanoseconds since 1970
    values: dict[str, np.ndarray] = field(default_factory=dict)  # numeric columns
    attrs: dict[str, Any] = field(default_factory=dict)


def _utc(nanoseconds: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=nanoseconds // 1000)


class TextReader(Reader):
    """Reader of text tables; see the module docstring for the options."""

    name = "text"
    media_type = "text/plain"
    options_model = TextOptions

    def declared_variables(self, options: ReaderOptions) -> dict[str, tuple[int, ...]] | None:
        """Every column but the time columns, one scalar per record.

        Known when the names are given (``columns`` as a list, or ``columns.names``); with
        names read from each file's header only the listed ``numeric`` columns are sure.
        """
        if not isinstance(options, TextOptions):
            raise TypeError(f"text options expected, not {type(options).__name__}")
        if options.columns.names is not None:
            return {n: () for n in options.data_columns(options.columns.names)}
        if options.numeric != "all":
            return {n: () for n in options.numeric}
        return None

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Parse every line (header, fields, numbers, times); report coverage and count."""
        table = self._parse(path, product.format_options)
        details: dict[str, Any] = {"columns": table.names}
        if table.attrs:
            details["header"] = dict(table.attrs)
        return Inspection(
            records=len(table.epoch),
            start=_utc(int(table.epoch[0])),
            stop=_utc(int(table.epoch[-1])),
            details=details,
        )

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """Columns as variables along ``epoch``; header fields as attributes."""
        import xarray as xr

        options: TextOptions = product.format_options
        table = self._parse(path, options)
        variables = {}
        for name in options.data_columns(table.names):
            values = table.values.get(name)
            if values is None:
                values = np.asarray(table.columns[name], dtype=str)
            variables[name] = (_TIME_COORD, values)
        epoch = table.epoch.astype("datetime64[ns]")
        return xr.Dataset(variables, coords={_TIME_COORD: epoch}, attrs=table.attrs)

    # -- parsing -----------------------------------------------------------------------

    def _parse(self, path: Path, options: TextOptions) -> _Table:
        lines = _lines(path, options)
        end, column_line = _header_end(lines, options)
        header = _header_lines(lines, end, column_line, options)
        attrs = _header_fields(header, options)
        names = _names(None if column_line is None else lines[column_line], column_line, options)
        records, line_no = _records(lines, end, options)
        columns = _split(records, line_no, names, options)
        table = _Table(names, columns, line_no, _times(columns, line_no, options), attrs=attrs)
        for name in options.numeric_columns(names):
            table.values[name] = _numeric(name, columns[name], line_no, options.fill)
        return table


def _lines(path: Path, options: TextOptions) -> list[str]:
    """The file's lines, without line breaks."""
    raw = path.read_bytes()
    if not raw.strip():
        raise FormatError("empty file")
    try:
        text = raw.decode(options.encoding)
    except UnicodeDecodeError as exc:
        raise FormatError(f"not {options.encoding} text (byte {exc.start})") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _is_comment(line: str, options: TextOptions) -> bool:
    return line.lstrip().startswith(tuple(options.comment))


def _clean(line: str, options: TextOptions) -> str:
    """``line`` without trailing blanks and the ``line_end`` terminator."""
    line = line.rstrip()
    if options.line_end and line.endswith(options.line_end):
        line = line[: -len(options.line_end)].rstrip()
    return line


def _header_end(lines: list[str], options: TextOptions) -> tuple[int, int | None]:
    """The index of the first line after the header, and of the column-header line."""
    spec = options.header
    if spec.until is not None:
        regex = re.compile(spec.until)
        for i, line in enumerate(lines[: spec.max_lines]):
            if regex.search(line):
                return i + 1, i
        where = (
            f"the first {spec.max_lines} lines"
            if len(lines) > spec.max_lines
            else f"the file's {len(lines)} lines"
        )
        raise FormatError(f"header: no column-header line matching '{spec.until}' in {where}")
    count = spec.lines or 0
    if len(lines) < count:
        raise FormatError(f"header: the file has {len(lines)} lines, the header {count}")
    return count, (count - 1 if options.columns.from_header else None)


def _header_lines(
    lines: list[str], end: int, column_line: int | None, options: TextOptions
) -> list[str]:
    """The header's lines (not comments, not the column header), checked and cleaned."""
    pattern = options.header.pattern
    kept = []
    for i in range(end):
        line = lines[i]
        if i == column_line or _is_comment(line, options):
            continue
        if pattern is not None and not re.search(pattern, line):
            shown = line if len(line) <= 80 else line[:77] + "..."
            raise FormatError(f"header line {i + 1} does not match '{pattern}': {shown!r}")
        kept.append(_clean(line, options))
    return kept


def _header_fields(header: list[str], options: TextOptions) -> dict[str, Any]:
    """The configured header fields, converted to their types."""
    found: dict[str, Any] = {}
    for name, spec in options.header_fields.items():
        value = spec.find(header)
        if value is None:
            if spec.required:
                raise FormatError(f"header lacks {name}: {spec.describe()}")
            continue
        try:
            found[name] = _CONVERT[spec.type](value)
        except ValueError:
            raise FormatError(f"header field {name}: {value!r} is not {spec.type}") from None
    return found


def _fields(line: str, options: TextOptions) -> list[str]:
    """One line split into its fields, as the data lines are split."""
    if options.spans is not None:
        return [line[a:b].strip() for a, b in options.spans]
    if options.delimiter == "whitespace":
        return line.split()
    return [f.strip() for f in line.split(options.delimiter)]


def _names(line: str | None, index: int | None, options: TextOptions) -> list[str]:
    """The column names: given, or read from the column-header ``line`` and checked."""
    spec = options.columns
    if line is None or not spec.from_header:
        return list(spec.names or [])
    where = f"column header (line {(index or 0) + 1})"
    names = [spec.renamed(n) for n in _fields(_clean(line, options), options)]
    if spec.names is not None and names != spec.names:
        raise FormatError(
            f"{where} gives {', '.join(names) or 'no names'}; "
            f"the product expects {', '.join(spec.names)}"
        )
    if not all(names):
        raise FormatError(f"{where} has an empty column name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise FormatError(f"{where} names column {repeated[0]} twice")
    if _TIME_COORD in names and _TIME_COORD not in options.time.columns:
        raise FormatError(f"{where} names a column {_TIME_COORD!r}, the time coordinate's name")
    wanted = [*options.time.columns, *options.numeric_columns(names)]
    missing = [c for c in wanted if c not in names]
    if missing:
        raise FormatError(
            f"{where} lacks column(s) {', '.join(missing)}; it has {', '.join(names)}"
        )
    return names


def _records(lines: list[str], start: int, options: TextOptions) -> tuple[list[str], np.ndarray]:
    """The data lines (no comments or blank lines) and their 1-based line numbers."""
    data = lines[start:]
    text = "\n".join(data)
    if options.line_end and options.line_end in text:
        ending = re.compile(rf"[ \t]*{re.escape(options.line_end)}[ \t]*$", re.MULTILINE)
        text = ending.sub("", text)
        data = text.split("\n")
    line_no = np.arange(start + 1, start + 1 + len(data))
    prefixes = "".join(f"|{re.escape(p)}" for p in options.comment)
    # A search starting with a literal line break is several times faster than ^ in
    # multiline mode; only a file with comment or blank data lines is looked at line by line.
    if re.search(rf"\n[ \t]*(?:\n{prefixes})", f"\n{text}\n"):
        skip = re.compile(rf"[ \t]*(?:${prefixes})")
        keep = [i for i, line in enumerate(data) if not skip.match(line)]
        data = [data[i] for i in keep]
        line_no = line_no[keep]
    if not data:
        raise FormatError("no data lines after the header")
    if len(data) > options.max_rows:
        raise FormatError(f"{len(data)} data lines exceed the limit of {options.max_rows}")
    return data, line_no


def _split(
    data: list[str], line_no: np.ndarray, names: list[str], options: TextOptions
) -> dict[str, list[str] | np.ndarray]:
    """Each column's text, checking that every line has one field per column."""
    if options.spans is not None:
        return _split_fixed(data, line_no, names, options.spans)
    k = len(names)
    if options.delimiter == "whitespace":
        counts = np.fromiter(map(len, map(str.split, data)), dtype=np.int64, count=len(data))
        tokens = "\n".join(data).split()
    else:
        delimiter = options.delimiter
        count = operator.methodcaller("count", delimiter)
        counts = np.fromiter(map(count, data), dtype=np.int64, count=len(data)) + 1
        tokens = list(map(str.strip, delimiter.join(data).split(delimiter)))
    bad = np.flatnonzero(counts != k)
    if bad.size:
        i = int(bad[0])
        raise FormatError(f"line {line_no[i]} has {counts[i]} fields, not {k} ({', '.join(names)})")
    return {name: tokens[j::k] for j, name in enumerate(names)}


def _split_fixed(
    data: list[str], line_no: np.ndarray, names: list[str], spans: list[tuple[int, int]]
) -> dict[str, np.ndarray]:
    """Fixed-width columns, sliced from a grid of code points (one row per line)."""
    width = spans[-1][1]
    lengths = np.fromiter(map(len, map(str.rstrip, data)), dtype=np.int64, count=len(data))
    bad = np.flatnonzero(lengths > width)
    if bad.size:
        i = int(bad[0])
        raise FormatError(
            f"line {line_no[i]} has {lengths[i]} characters; the last column ends at {width}"
        )
    grid = np.asarray(data, dtype=f"U{width}").view(np.uint32).reshape(len(data), width)
    return {
        name: np.char.strip(np.ascontiguousarray(grid[:, a:b]).view(f"U{b - a}").ravel())
        for name, (a, b) in zip(names, spans, strict=True)
    }


def _times(
    columns: dict[str, list[str] | np.ndarray], line_no: np.ndarray, options: TextOptions
) -> np.ndarray:
    """Nanoseconds since 1970 of each record, checked to increase."""
    spec = options.time
    parts = [columns[c] for c in spec.columns]
    if len(parts) == 1:
        text = np.asarray(parts[0], dtype=str)
    else:
        lists = [p.tolist() if isinstance(p, np.ndarray) else p for p in parts]
        text = np.asarray(list(map(spec.join.join, zip(*lists, strict=True))), dtype=str)
    if spec.format == "iso":
        epoch = _iso_times(text, line_no)
    else:
        epoch, ok = TimeFormat.compile(spec.format).parse(text)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise FormatError(
                f"line {line_no[i]}: time {str(text[i])!r} does not match {spec.format!r}"
            )
    bad = np.flatnonzero(np.diff(epoch) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise FormatError(
            f"line {line_no[i]}: time {str(text[i])!r} is not after {str(text[i - 1])!r} "
            f"(line {line_no[i - 1]}); times must increase"
        )
    return epoch


def _iso_times(text: np.ndarray, line_no: np.ndarray) -> np.ndarray:
    """ISO 8601 times (HAPI's subset, a space allowed for the T) as nanoseconds."""
    column = np.char.replace(text, " ", "T")
    try:
        return parse_times(column)
    except ValueError:
        pass
    for i, value in enumerate(column.tolist()):
        try:
            parse_time(value)
        except ValueError as exc:
            raise FormatError(f"line {line_no[i]}: time {str(text[i])!r}: {exc}") from None
    raise FormatError("times do not parse as ISO 8601")  # pragma: no cover - parse_times agrees


def _numeric(
    name: str, values: list[str] | np.ndarray, line_no: np.ndarray, fill: list[float]
) -> np.ndarray:
    """A column as float64, fill values as NaN; a bad value is named with its line."""
    try:
        out = np.asarray(values, dtype=np.float64)
    except ValueError:
        for i, value in enumerate(values):
            try:
                np.asarray([value], dtype=np.float64)
            except ValueError:
                what = "an empty field" if not str(value) else f"{str(value)!r}"
                raise FormatError(
                    f"line {line_no[i]}, column {name}: {what} is not a number"
                ) from None
        raise  # pragma: no cover - the loop finds the value numpy refused
    infinite = np.flatnonzero(np.isinf(out))
    if infinite.size:
        i = int(infinite[0])
        raise FormatError(f"line {line_no[i]}, column {name}: infinite value")
    if fill:
        out[np.isin(out, fill)] = np.nan
    return out
