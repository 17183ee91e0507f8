"""Format name (as written in the mission YAML) to its reader."""

from __future__ import annotations

from collections.abc import Mapping

from socstack.formats.base import Reader

__all__ = ["get", "media_type", "names"]

_readers: dict[str, Reader] = {}


def _load() -> dict[str, Reader]:
    if not _readers:
        from socstack.formats.ccsds import CcsdsReader
        from socstack.formats.cdf import CdfReader
        from socstack.formats.csv import CsvReader
        from socstack.formats.png import PngReader
        from socstack.formats.text import TextReader

        for reader in (CcsdsReader(), CdfReader(), CsvReader(), PngReader(), TextReader()):
            _readers[reader.name] = reader
    return _readers


def get(name: str, own: Mapping[str, Reader] | None = None) -> Reader:
    """The reader of format ``name``; ``ValueError`` names the known formats otherwise.

    ``own`` holds a mission's own formats (its ``formats:`` section), which the error
    lists beside the core's.
    """
    readers = {**_load(), **(own or {})}
    try:
        return readers[name]
    except KeyError:
        known = ", ".join(sorted(readers))
        raise ValueError(f"format: unknown format {name!r}; known: {known}") from None


def names() -> list[str]:
    """The known format names."""
    return sorted(_load())


def media_type(name: str) -> str:
    """The media type of a format's files (a mission's own format: octet-stream)."""
    reader = _load().get(name)
    return reader.media_type if reader is not None else "application/octet-stream"
