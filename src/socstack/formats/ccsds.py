"""CCSDS space packets decoded from XTCE definitions with LASP's space_packet_parser.

At ingest every packet's primary header is checked (version, APID, length, no truncated
tail) with numpy, and a spread sample of packets is fully decoded through the XTCE
definition; a 200 MB file is checked in a fraction of a second while anything the full
decoder would choke on is still caught. ``read`` decodes every packet: packets of a fixed
layout all at once with numpy (checked against the library on a sample of each file),
any others one at a time with the library.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import space_packet_parser as spp
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from space_packet_parser.exceptions import UnrecognizedPacketTypeError

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions
from socstack.formats.packet_layout import Layout, decode_fixed, layouts

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["CcsdsOptions", "CcsdsReader", "PacketIndex", "scan_packets"]

logger = logging.getLogger(__name__)

HEADER_BYTES = 6


class PacketTime(ReaderOptions):
    """How a packet's time is kept: whole seconds plus an optional fine counter."""

    coarse: str
    fine: str | None = None
    fine_per_second: float = Field(65536.0, gt=0)
    epoch: dt.datetime

    @field_validator("epoch")
    @classmethod
    def _utc(cls, value: dt.datetime) -> dt.datetime:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class CcsdsOptions(ReaderOptions):
    """Options of a ``ccsds`` product."""

    xtce: str
    apids: list[int] = Field(min_length=1)
    time: PacketTime
    root_container: str = "CCSDSPacket"
    sample_packets: int = Field(
        200, ge=1, description="Packets fully decoded at ingest (all headers are checked)."
    )

    _definition: spp.XtcePacketDefinition = PrivateAttr()
    _xtce_path: Path = PrivateAttr()

    @field_validator("apids")
    @classmethod
    def _apid_range(cls, value: list[int]) -> list[int]:
        bad = [a for a in value if not 0 <= a <= 2047]
        if bad:
            raise ValueError(f"APIDs are 11-bit numbers (0..2047), not {bad}")
        return value

    @model_validator(mode="after")
    def _load_definition(self, info: ValidationInfo) -> CcsdsOptions:
        mission_dir = Path((info.context or {}).get("mission_dir", "."))
        path = (mission_dir / self.xtce).resolve()
        if not path.is_file():
            raise ValueError(f"xtce: no such file {path}")
        try:
            definition = _load_xtce(path, path.stat().st_mtime_ns)
        except Exception as exc:  # space_packet_parser raises many kinds on bad XML
            raise ValueError(f"xtce: {path.name} is not a valid XTCE definition: {exc}") from exc
        for field_name in (self.time.coarse, self.time.fine):
            if field_name and field_name not in definition.parameters:
                raise ValueError(f"time: {path.name} defines no parameter {field_name!r}")
        self._definition = definition
        self._xtce_path = path
        return self

    @property
    def definition(self) -> spp.XtcePacketDefinition:
        """The loaded XTCE packet definition."""
        return self._definition

    @property
    def xtce_path(self) -> Path:
        """Absolute path of the XTCE file."""
        return self._xtce_path


@lru_cache(maxsize=64)
def _load_xtce(path: Path, mtime_ns: int) -> spp.XtcePacketDefinition:
    return spp.load_xtce(path)


class PacketIndex:
    """Offsets, lengths and APIDs of every packet in a buffer."""

    def __init__(self, offsets: np.ndarray, lengths: np.ndarray, apids: np.ndarray):
        self.offsets = offsets
        self.lengths = lengths
        self.apids = apids

    def __len__(self) -> int:
        return len(self.offsets)


def scan_packets(data: np.ndarray) -> PacketIndex:
    """Index the packets in ``data`` (uint8), or raise ``FormatError`` if it is not packets.

    Fixed-length packet streams (the common case) are checked in one vectorised pass;
    others are walked header to header.
    """
    size = len(data)
    if size == 0:
        raise FormatError("empty file")
    if size < HEADER_BYTES + 1:
        raise FormatError(f"truncated: {size} bytes is less than one packet")
    first = HEADER_BYTES + 1 + (int(data[4]) << 8 | int(data[5]))
    offsets: np.ndarray | None = None
    if size % first == 0:
        candidate = np.arange(0, size, first, dtype=np.int64)
        lengths = (
            HEADER_BYTES + 1 + (data[candidate + 4].astype(np.int64) << 8 | data[candidate + 5])
        )
        if np.all(lengths == first):
            offsets = candidate
    if offsets is None:
        offsets, lengths = _walk(data)
    else:
        lengths = np.full(len(offsets), first, dtype=np.int64)
    versions = data[offsets] >> 5
    bad = np.flatnonzero(versions != 0)
    if len(bad):
        k = int(bad[0])
        raise FormatError(
            f"not CCSDS space packets: packet {k} at byte {int(offsets[k])} has version "
            f"{int(versions[k])} (expected 0)"
        )
    apids = (data[offsets].astype(np.int64) & 0x07) << 8 | data[offsets + 1]
    return PacketIndex(offsets, lengths, apids)


def _walk(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = data.tobytes() if not isinstance(data, np.memmap) else memoryview(data)
    size = len(data)
    offsets: list[int] = []
    lengths: list[int] = []
    pos = 0
    while pos < size:
        if size - pos < HEADER_BYTES:
            raise FormatError(
                f"truncated: {size - pos} bytes at the end are less than a packet header"
            )
        length = HEADER_BYTES + 1 + (raw[pos + 4] << 8 | raw[pos + 5])
        if pos + length > size:
            raise FormatError(
                f"truncated: packet {len(offsets)} at byte {pos} needs {length} bytes"
                f" but only {size - pos} remain"
            )
        offsets.append(pos)
        lengths.append(length)
        pos += length
    return np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int64)


def _column(values: list[Any]) -> np.ndarray:
    """One decoded field of many packets as an array.

    Binary fields of one length become a (packet, byte) uint8 array: numpy's bytes type
    would silently strip trailing NUL bytes from them.
    """
    if values and isinstance(values[0], bytes):
        lengths = {len(v) for v in values}
        if len(lengths) == 1:
            flat = np.frombuffer(b"".join(values), dtype=np.uint8)
            return flat.reshape(len(values), lengths.pop())
        return np.asarray(values, dtype=object)
    return np.asarray(values)


def _variable(key: str, values: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
    if values.ndim == 2:
        return ("epoch", f"{key}_byte"), values
    return ("epoch",), values


@lru_cache(maxsize=64)
def _fixed_layouts(path: Path, mtime_ns: int, root: str) -> list[Layout] | None:
    return layouts(_load_xtce(path, mtime_ns), root)


def _sample(n: int, k: int) -> np.ndarray:
    if n <= k:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


class CcsdsReader(Reader):
    """Reader of CCSDS packet files (one product may hold several APIDs)."""

    name = "ccsds"
    options_model = CcsdsOptions

    def _decode(self, options: CcsdsOptions, raw: bytes, number: int) -> Any:
        try:
            packet = options.definition.parse_bytes(raw, root_container_name=options.root_container)
        except UnrecognizedPacketTypeError as exc:
            raise FormatError(f"packet {number} matches no container of {options.xtce}") from exc
        except Exception as exc:  # a definition/data mismatch surfaces as many error types
            raise FormatError(
                f"packet {number} does not decode with {options.xtce}: {exc}"
            ) from exc
        if packet._parsing_pos != len(raw) * 8:
            raise FormatError(
                f"packet {number} has {len(raw)} bytes but {options.xtce} describes "
                f"{packet._parsing_pos // 8}"
            )
        return packet

    def _time(self, options: CcsdsOptions, packet: Any) -> dt.datetime:
        seconds = float(packet[options.time.coarse])
        if options.time.fine:
            seconds += float(packet[options.time.fine]) / options.time.fine_per_second
        return options.time.epoch + dt.timedelta(seconds=seconds)

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Check every header and decode a sample; the coverage comes from packet times."""
        options: CcsdsOptions = product.format_options
        size = path.stat().st_size
        if size == 0:
            raise FormatError("empty file")
        # Map large files (only the pages the scan touches are read); read small ones.
        if size >= 1 << 20:
            data = np.memmap(path, dtype=np.uint8, mode="r")
        else:
            data = np.fromfile(path, dtype=np.uint8)
        try:
            index = scan_packets(data)
            foreign = np.setdiff1d(np.unique(index.apids), options.apids)
            if len(foreign):
                counts = {int(a): int(np.sum(index.apids == a)) for a in foreign[:5]}
                raise FormatError(
                    f"holds packets of APID {', '.join(map(str, counts))} "
                    f"({sum(counts.values())} packets) but product {product.id} holds APID "
                    f"{', '.join(map(str, options.apids))}: another instrument's telemetry?"
                )
            times = []
            with warnings.catch_warnings():
                # The library warns on a length mismatch that _decode reports as the reason.
                warnings.simplefilter("ignore", UserWarning)
                for k in _sample(len(index), options.sample_packets):
                    start = int(index.offsets[k])
                    raw = bytes(data[start : start + int(index.lengths[k])])
                    times.append(self._time(options, self._decode(options, raw, int(k))))
        finally:
            del data
        per_apid = {int(a): int(np.sum(index.apids == a)) for a in np.unique(index.apids)}
        return Inspection(
            records=len(index),
            start=min(times),
            stop=max(times),
            details={"packets_per_apid": per_apid},
        )

    def decode(self, path: Path, product: Product) -> dict[int, xr.Dataset]:
        """Decode every packet into one Dataset per APID, with an ``epoch`` coordinate.

        Packets of a fixed layout are decoded all at once with numpy (see
        :mod:`socstack.formats.packet_layout`), checked on a sample against the library;
        any other packets one at a time by space_packet_parser.
        """
        import xarray as xr

        options: CcsdsOptions = product.format_options
        data = np.fromfile(path, dtype=np.uint8)
        index = scan_packets(data)
        candidates = _fixed_layouts(
            options.xtce_path, options.xtce_path.stat().st_mtime_ns, options.root_container
        )
        out: dict[int, xr.Dataset] = {}
        for apid in dict.fromkeys(index.apids.tolist()):
            positions = np.flatnonzero(index.apids == apid)
            columns = None
            if candidates is not None:
                columns = self._decode_fixed(options, data, index, positions, candidates)
            if columns is None:
                columns = self._decode_each(options, data, index, positions)
            seconds = np.asarray(columns[options.time.coarse], dtype=np.float64)
            if options.time.fine:
                fine = np.asarray(columns[options.time.fine], dtype=np.float64)
                seconds = seconds + fine / options.time.fine_per_second
            epoch0 = np.datetime64(options.time.epoch.replace(tzinfo=None), "ns")
            epoch = epoch0 + np.round(seconds * 1e9).astype(np.int64).astype("timedelta64[ns]")
            variables = {key: _variable(key, values) for key, values in columns.items()}
            out[int(apid)] = xr.Dataset(variables, coords={"epoch": epoch})
        return out

    def _decode_each(
        self, options: CcsdsOptions, data: np.ndarray, index: PacketIndex, positions: np.ndarray
    ) -> dict[str, Any]:
        """The library's decoding, packet by packet: the reference, and the general case."""
        columns: dict[str, list[Any]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for k in positions.tolist():
                start = int(index.offsets[k])
                raw = bytes(data[start : start + int(index.lengths[k])])
                for key, value in self._decode(options, raw, k).items():
                    columns.setdefault(key, []).append(
                        bytes(value) if isinstance(value, bytes | bytearray) else value
                    )
        return {key: _column(values) for key, values in columns.items()}

    def _decode_fixed(
        self,
        options: CcsdsOptions,
        data: np.ndarray,
        index: PacketIndex,
        positions: np.ndarray,
        candidates: list[Layout],
    ) -> dict[str, Any] | None:
        """All packets at once if they share a fixed layout and a sample agrees with the library."""
        lengths = index.lengths[positions]
        if len(positions) == 0 or not (lengths == lengths[0]).all():
            return None
        starts = index.offsets[positions]
        packets = data[starts[:, None] + np.arange(int(lengths[0]))[None, :]]
        fixed = decode_fixed(packets, candidates)
        if fixed is None:
            return None
        _, columns = fixed
        sample = _sample(len(positions), options.sample_packets)
        reference = self._decode_each(options, data, index, positions[sample])
        for key, values in reference.items():
            mine = columns.get(key)
            if mine is None or not np.array_equal(np.asarray(mine)[sample], values):
                logger.warning(
                    "%s: %s decoded with numpy differs from space_packet_parser;"
                    " decoding packet by packet",
                    options.xtce,
                    key,
                )
                return None
        if set(columns) != set(reference):
            return None
        return columns

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """The packets of the product's first APID as a Dataset."""
        import xarray as xr

        options: CcsdsOptions = product.format_options
        decoded = self.decode(path, product)
        if options.apids[0] not in decoded:
            return xr.Dataset(coords={"epoch": np.asarray([], dtype="datetime64[ns]")})
        return decoded[options.apids[0]]
