"""Encode blocks of records as HAPI csv, binary or json (HAPI 3.3.1 section 3.7.4).

- binary: fixed-size little-endian records (time string, float64, int32, NUL-padded
  strings), built as one numpy structured array per block;
- csv: RFC 4180 through Arrow's writer, which prints the shortest text that reads back
  to the same double, so csv and binary clients see equal values; arrays are unrolled
  with the last index fastest; datasets with string parameters go through Python's
  csv module instead, which quotes what needs quoting;
- json: the info header, ``"format": "json"``, then ``"data"`` streamed record by record.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from socstack.hapi.metadata import HapiDataset, HapiParameter
from socstack.hapi.source import Block
from socstack.times import format_times, time_length

__all__ = ["Encoder", "as_columns", "media_type"]

_MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "binary": "application/octet-stream",
    "json": "application/json",
}


def media_type(fmt: str) -> str:
    """The Content-Type of a format."""
    return _MEDIA[fmt]


def as_columns(parameter: HapiParameter, values: np.ndarray) -> np.ndarray:
    """(n, columns) with the last index fastest (C order), in the output type.

    Public because ``socstack.client`` reading the archive directly must hand out the
    very values (types, truncations) this server sends.
    """
    n = len(values)
    flat = (
        np.asarray(values).reshape(n, parameter.columns) if n else np.empty((0, parameter.columns))
    )
    if parameter.type == "double":
        return flat.astype(np.float64, copy=False)
    if parameter.type == "integer":
        return flat.astype(np.int32, copy=False)
    if parameter.type == "isotime" and np.issubdtype(flat.dtype, np.datetime64):
        digits = max(0, (parameter.length or 20) - 21)
        text = format_times(flat.astype("datetime64[ns]").astype(np.int64).ravel(), digits)
        return text.reshape(n, parameter.columns)
    encoded = np.char.encode(flat.astype(str), "utf-8") if flat.dtype.kind == "U" else flat
    return encoded.astype(f"S{parameter.length}")


class Encoder:
    """Turns blocks into the bytes of one response."""

    def __init__(self, dataset: HapiDataset, parameters: list[HapiParameter], fmt: str):
        self.dataset = dataset
        self.parameters = parameters
        self.format = fmt
        self.digits = dataset.time_digits
        self._first = True
        self._textual = any(p.type in ("string", "isotime") for p in parameters)
        fields: list[tuple[Any, ...]] = [("Time", f"S{time_length(self.digits)}")]
        for p in parameters:
            fields.append(
                (p.name, p.binary_dtype, (p.columns,)) if p.size else (p.name, p.binary_dtype)
            )
        self._record = np.dtype(fields)

    def header(self, info: dict[str, Any]) -> bytes:
        """What comes before the records (``include=header``; always for json)."""
        document = {**info, "format": self.format}
        if self.format == "json":
            text = json.dumps(document, separators=(",", ":"))
            return (text[:-1] + ',"data":[').encode()
        lines = json.dumps(document, indent=1).splitlines()
        return ("".join(f"#{line}\n" for line in lines)).encode()

    def empty_json(self, info: dict[str, Any]) -> bytes:
        """A complete json response with no records."""
        return self.header(info) + b"]}"

    def end(self) -> bytes:
        """What closes the response."""
        return b"]}" if self.format == "json" else b""

    def encode(self, block: Block) -> bytes:
        """One block of records."""
        if len(block) == 0:
            return b""
        if self.format == "binary":
            return self._binary(block)
        if self.format == "csv":
            return self._csv_text(block) if self._textual else self._csv_arrow(block)
        return self._json(block)

    def _binary(self, block: Block) -> bytes:
        records = np.empty(len(block), dtype=self._record)
        records["Time"] = format_times(block.times, self.digits)
        for p in self.parameters:
            columns = as_columns(p, block.values[p.name])
            records[p.name] = columns if p.size else columns[:, 0]
        return records.tobytes()

    def _csv_arrow(self, block: Block) -> bytes:
        arrays = [pa.array(format_times(block.times, self.digits))]
        names = ["Time"]
        for p in self.parameters:
            columns = as_columns(p, block.values[p.name])
            for k in range(p.columns):
                arrays.append(pa.array(np.ascontiguousarray(columns[:, k])))
                names.append(f"{p.name}_{k}")
        sink = io.BytesIO()
        options = pacsv.WriteOptions(include_header=False, quoting_style="none")
        pacsv.write_csv(pa.Table.from_arrays(arrays, names=names), sink, write_options=options)
        # A NaN is written as HAPI spells a NaN fill ("NaN"), not as arrow does ("nan"):
        # numbers and times hold no "nan" otherwise, so the replacement is exact.
        return sink.getvalue().replace(b"nan", b"NaN")

    def _csv_text(self, block: Block) -> bytes:
        sink = io.StringIO()
        writer = csv.writer(sink, lineterminator="\n")
        times = format_times(block.times, self.digits)
        columns = [_csv_cells(p, as_columns(p, block.values[p.name])) for p in self.parameters]
        for i in range(len(block)):
            row: list[Any] = [times[i].decode()]
            for cells in columns:
                row.extend(cells[i])
            writer.writerow(row)
        return sink.getvalue().encode()

    def _json(self, block: Block) -> bytes:
        times = format_times(block.times, self.digits)
        columns = [as_columns(p, block.values[p.name]) for p in self.parameters]
        rows = []
        for i in range(len(block)):
            row: list[Any] = [times[i].decode()]
            for p, values in zip(self.parameters, columns, strict=True):
                cells = [_json_value(p, v) for v in values[i]]
                row.append(cells if p.size else cells[0])
            rows.append(row)
        text = json.dumps(rows, separators=(",", ":"))[1:-1]
        prefix = "" if self._first else ","
        self._first = False
        return (prefix + text).encode()


def _csv_cells(parameter: HapiParameter, columns: np.ndarray) -> list[list[str]]:
    """A parameter's CSV cells per record, numbers written as the Arrow path writes them.

    A dataset with a string or isotime parameter is written here, one of numbers only
    by Arrow; a number is spelled the same both ways (``11140``, not ``11140.0``), so a
    request for one parameter gives the same text as a request for all of them.
    """
    if parameter.type in ("string", "isotime"):
        return [[bytes(v).rstrip(b"\0").decode("utf-8", "replace") for v in row] for row in columns]
    texts = [
        pc.cast(pa.array(np.ascontiguousarray(columns[:, k])), pa.string()).to_pylist()
        for k in range(columns.shape[1])
    ]
    return [["NaN" if t == "nan" else t for t in cells] for cells in zip(*texts, strict=True)]


def _json_value(parameter: HapiParameter, value: Any) -> Any:
    if parameter.type == "double":
        number = float(value)
        return None if math.isnan(number) or math.isinf(number) else number
    if parameter.type == "integer":
        return int(value)
    return bytes(value).rstrip(b"\0").decode("utf-8", "replace")
