"""Where a file lives in the archive: ``mission/instrument/level/YYYY/MM/name``."""

from __future__ import annotations

from socstack.mission.patterns import FileName


def archive_key(name: FileName) -> str:
    """The archive key of a parsed file name."""
    return (
        f"{name.mission}/{name.instrument}/{name.level}/"
        f"{name.date.year:04d}/{name.date.month:02d}/{name.name}"
    )
