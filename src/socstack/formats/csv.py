"""Comma-separated tables (RFC 4180) with a header row, e.g. calibration tables."""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["CsvOptions", "CsvReader"]


class CsvOptions(ReaderOptions):
    """Options of a ``csv`` product."""

    columns: list[str] = Field(min_length=1, description="Columns the header must have.")
    numeric: list[str] = Field(default_factory=list, description="Columns that hold numbers.")
    time_column: str | None = Field(None, description="ISO 8601 times giving the coverage.")
    comment: str = Field("#", min_length=1, max_length=1)
    max_rows: int = Field(1_000_000, gt=0)
    valid_until: str | None = Field(
        None,
        pattern=r"^\w+$",
        description=(
            "For a calibration: the key of a comment line ('# valid_until: 2025-03-31')"
            " giving the last day it is valid; files without that line are refused."
        ),
    )


def _parse_time(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class CsvReader(Reader):
    """Reader of CSV tables; comment lines start with the comment character."""

    name = "csv"
    media_type = "text/csv"
    options_model = CsvOptions

    def _rows(self, path: Path, options: CsvOptions) -> tuple[list[str], list[list[str]]]:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text (byte {exc.start})") from exc
        if not text.strip():
            raise FormatError("empty file")
        lines = [
            ln for ln in text.splitlines() if ln.strip() and not ln.startswith(options.comment)
        ]
        try:
            table = list(csv.reader(lines, strict=True))
        except csv.Error as exc:
            raise FormatError(f"not valid CSV: {exc}") from exc
        if not table:
            raise FormatError("no header row")
        header = [h.strip() for h in table[0]]
        missing = [c for c in options.columns if c not in header]
        if missing:
            raise FormatError(
                f"header lacks column(s) {', '.join(missing)}; it has {', '.join(header)}"
            )
        rows = table[1:]
        if not rows:
            raise FormatError("no data rows")
        if len(rows) > options.max_rows:
            raise FormatError(f"{len(rows)} rows exceed the limit of {options.max_rows}")
        for n, row in enumerate(rows, start=2):
            if len(row) != len(header):
                raise FormatError(f"row {n} has {len(row)} fields, the header {len(header)}")
        return header, rows

    def declared_variables(self, options: ReaderOptions) -> dict[str, tuple[int, ...]] | None:
        """The required and numeric columns, one scalar per row (the time column aside)."""
        if not isinstance(options, CsvOptions):
            raise TypeError(f"csv options expected, not {type(options).__name__}")
        names = dict.fromkeys([*options.columns, *options.numeric])
        names.pop(options.time_column, None)
        return {name: () for name in names}

    def _valid_until(self, path: Path, options: CsvOptions) -> dt.datetime | None:
        """The end of validity (exclusive) a calibration's comment line gives."""
        if options.valid_until is None:
            return None
        key = re.compile(
            rf"^{re.escape(options.comment)}\s*{re.escape(options.valid_until)}\s*[:=]\s*(\S+)"
        )
        for line in path.read_text(encoding="utf-8").splitlines():
            match = key.match(line)
            if match:
                try:
                    last = dt.date.fromisoformat(match.group(1)[:10])
                except ValueError:
                    raise FormatError(
                        f"{options.valid_until}: {match.group(1)!r} is not a date (YYYY-MM-DD)"
                    ) from None
                return dt.datetime(last.year, last.month, last.day, tzinfo=dt.UTC) + dt.timedelta(
                    days=1
                )
        raise FormatError(
            f"no '{options.comment} {options.valid_until}: YYYY-MM-DD' line says until when"
            " the calibration is valid"
        )

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Check header, row lengths, numbers and times."""
        options: CsvOptions = product.format_options
        header, rows = self._rows(path, options)
        for column in options.numeric:
            k = header.index(column) if column in header else -1
            if k < 0:
                raise FormatError(f"header lacks numeric column {column}")
            for n, row in enumerate(rows, start=2):
                try:
                    value = float(row[k])
                except ValueError:
                    raise FormatError(
                        f"row {n}, column {column}: {row[k]!r} is not a number"
                    ) from None
                if math.isinf(value):
                    raise FormatError(f"row {n}, column {column}: infinite value")
        start = stop = None
        if options.time_column:
            k = header.index(options.time_column)
            try:
                times = [_parse_time(row[k]) for row in rows]
            except ValueError as exc:
                raise FormatError(f"column {options.time_column}: {exc}") from exc
            start, stop = min(times), max(times)
        until = self._valid_until(path, options)
        if until is not None:
            stop = until
        return Inspection(records=len(rows), start=start, stop=stop)

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """Columns as variables along ``row`` (or ``epoch`` when there is a time column)."""
        import xarray as xr

        options: CsvOptions = product.format_options
        header, rows = self._rows(path, options)
        dim = "epoch" if options.time_column else "row"
        variables = {}
        coords = {}
        for k, column in enumerate(header):
            values = [row[k] for row in rows]
            if column == options.time_column:
                coords["epoch"] = np.asarray(
                    [np.datetime64(_parse_time(v).replace(tzinfo=None), "ns") for v in values]
                )
            elif column in options.numeric:
                variables[column] = (dim, np.asarray(values, dtype=np.float64))
            else:
                variables[column] = (dim, np.asarray(values, dtype=str))
        return xr.Dataset(variables, coords=coords)
