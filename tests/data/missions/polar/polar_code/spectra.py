"""The analyzer team's own telemetry format, ``.spc``: a reader the mission brings.

A file is the magic ``SPC1``, the number of records (uint32, little-endian), then one
record per sweep: the sweep's start (int64 ns since 1970, UTC), the instrument mode
(uint8: 0 science, 1 safe) and the counts of each energy channel (uint16). socstack has
no reader for it; the mission registers this one in its YAML (``formats: {spc: ...}``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

MAGIC = b"SPC1"
SAFE_MODE = 1


class SpectraOptions(ReaderOptions):
    """Options of an ``spc`` product."""

    channels: int = Field(gt=0, le=256, description="Energy channels per sweep.")


def record_type(channels: int) -> np.dtype:
    """One sweep as stored."""
    return np.dtype([("time", "<i8"), ("mode", "u1"), ("counts", "<u2", (channels,))])


def write_spectra(path: Path, times: np.ndarray, modes: np.ndarray, counts: np.ndarray) -> None:
    """Write sweeps (times as datetime64[ns]) in the analyzer's format."""
    records = np.zeros(len(times), dtype=record_type(counts.shape[1]))
    records["time"] = times.astype("datetime64[ns]").astype(np.int64)
    records["mode"] = modes
    records["counts"] = counts
    path.write_bytes(MAGIC + np.uint32(len(records)).tobytes() + records.tobytes())


def _utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)


class SpectraReader(Reader):
    """Reader of the analyzer's ``.spc`` sweeps."""

    name = "spc"
    options_model = SpectraOptions

    def declared_variables(self, options: Any) -> dict[str, tuple[int, ...] | None]:
        """Counts per channel and the mode, per sweep."""
        return {"epoch": (), "mode": (), "counts": (options.channels,)}

    def _records(self, path: Path, options: SpectraOptions) -> np.ndarray:
        data = path.read_bytes()
        if data[:4] != MAGIC:
            raise FormatError(f"not an SPC1 file (starts with {data[:4]!r})")
        if len(data) < 8:
            raise FormatError("truncated header")
        count = int(np.frombuffer(data, "<u4", 1, 4)[0])
        kind = record_type(options.channels)
        body = len(data) - 8
        if body != count * kind.itemsize:
            raise FormatError(
                f"header says {count} sweeps of {options.channels} channels"
                f" ({count * kind.itemsize} bytes), the file holds {body}"
            )
        records = np.frombuffer(data, kind, count, 8)
        if count > 1 and np.any(np.diff(records["time"]) <= 0):
            raise FormatError("sweep times do not increase")
        if np.any(records["mode"] > SAFE_MODE):
            raise FormatError("unknown instrument mode")
        return records

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Header, size, increasing times; the coverage is the first and last sweep."""
        records = self._records(path, product.format_options)
        if len(records) == 0:
            return Inspection(records=0)
        return Inspection(
            records=len(records),
            start=_utc(int(records["time"][0])),
            stop=_utc(int(records["time"][-1])),
        )

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """Counts (epoch, channel) and mode (epoch)."""
        import xarray as xr

        records = self._records(path, product.format_options)
        return xr.Dataset(
            {
                "counts": (("epoch", "channel"), records["counts"].astype(np.float64)),
                "mode": (("epoch",), records["mode"].astype(np.int32)),
            },
            coords={"epoch": records["time"].astype("datetime64[ns]")},
        )
