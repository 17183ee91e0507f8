"""PNG images (quicklooks): signature, chunk CRCs, IHDR first and IEND last."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["PngReader"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PngReader(Reader):
    """Checks that a PNG is whole; its coverage is its partition's (set by ingest)."""

    name = "png"
    media_type = "image/png"

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Walk every chunk and verify its CRC."""
        data = path.read_bytes()
        if not data:
            raise FormatError("empty file")
        if not data.startswith(SIGNATURE):
            raise FormatError("not a PNG image (bad signature)")
        pos = len(SIGNATURE)
        chunks: list[bytes] = []
        width = height = 0
        while pos < len(data):
            if pos + 12 > len(data):
                raise FormatError(f"truncated: chunk header at byte {pos} is cut short")
            length, kind = struct.unpack(">I4s", data[pos : pos + 8])
            end = pos + 12 + length
            if end > len(data):
                raise FormatError(f"truncated: chunk {kind!r} at byte {pos} is cut short")
            (crc,) = struct.unpack(">I", data[end - 4 : end])
            if zlib.crc32(data[pos + 4 : end - 4]) != crc:
                raise FormatError(f"chunk {kind!r} at byte {pos} fails its CRC")
            if kind == b"IHDR":
                width, height = struct.unpack(">II", data[pos + 8 : pos + 16])
            chunks.append(kind)
            pos = end
        if not chunks or chunks[0] != b"IHDR":
            raise FormatError("the first chunk is not IHDR")
        if chunks[-1] != b"IEND":
            raise FormatError("truncated: no IEND chunk")
        return Inspection(records=1, details={"width": width, "height": height})

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """PNG images hold no data variables; they are served as files."""
        raise FormatError("PNG quicklooks are images, not data")
