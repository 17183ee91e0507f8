"""Checksums of files, streamed so that memory stays flat for any size."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a local file."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def sha256_stream(stream: BinaryIO) -> str:
    """Hex sha256 of a readable binary stream, read to its end."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
