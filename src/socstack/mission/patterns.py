"""File-name patterns: parse a name into its fields and format a name from them.

A product's pattern is written in its mission YAML, for example::

    {mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.pkts

``{mission}``, ``{instrument}``, ``{level}`` and ``{descriptor}`` stand for the product's
own values, so a pattern matches exactly one product. ``{date:FORMAT}`` is the partition
date (the day of a daily file, the first valid day of a calibration file) in ``strftime``
directives; ``{version}`` is ``X.Y.Z``. Both are required: without them two deliveries of
the same product could not be told apart or ordered.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from socstack.mission.versions import Version

__all__ = ["FileName", "NamePattern"]

_FIELD = re.compile(r"\{(\w+)(?::([^{}]*))?\}")
_DIRECTIVES = {
    "Y": r"\d{4}",
    "m": r"\d{2}",
    "d": r"\d{2}",
    "j": r"\d{3}",
    "H": r"\d{2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
}
FIXED_FIELDS = ("mission", "instrument", "level", "descriptor")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _date_regex(fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%":
            if i + 1 >= len(fmt) or fmt[i + 1] not in _DIRECTIVES:
                known = " ".join("%" + d for d in _DIRECTIVES)
                raise ValueError(f"date format {fmt!r}: only {known} are supported")
            out.append(_DIRECTIVES[fmt[i + 1]])
            i += 2
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class NamePattern:
    """A compiled product file-name pattern."""

    pattern: str
    regex: re.Pattern[str]
    date_format: str
    fixed: tuple[tuple[str, str], ...]

    @classmethod
    def compile(cls, pattern: str, **fixed: str) -> NamePattern:
        """Compile ``pattern``, substituting the product's fixed fields.

        Raises ``ValueError`` naming the problem; the mission loader adds the file and
        field.
        """
        if "/" in pattern or "\\" in pattern:
            raise ValueError("a file-name pattern cannot contain a path separator")
        parts: list[str] = []
        seen: set[str] = set()
        date_format = ""
        pos = 0
        literals: list[str] = []
        for match in _FIELD.finditer(pattern):
            literals.append(pattern[pos : match.start()])
            parts.append(re.escape(literals[-1]))
            name, spec = match.group(1), match.group(2)
            if name in seen:
                raise ValueError(f"field {{{name}}} appears twice")
            seen.add(name)
            if name in FIXED_FIELDS:
                value = fixed.get(name)
                if not value:
                    raise ValueError(f"field {{{name}}} has no value for this product")
                parts.append(re.escape(value))
            elif name == "date":
                if not spec:
                    raise ValueError("{date} needs a format, e.g. {date:%Y%m%d}")
                date_format = spec
                parts.append(f"(?P<date>{_date_regex(spec)})")
            elif name == "version":
                parts.append(r"(?P<version>\d{1,6}\.\d{1,6}\.\d{1,6})")
            else:
                allowed = ", ".join("{" + f + "}" for f in (*FIXED_FIELDS, "date", "version"))
                raise ValueError(f"unknown field {{{name}}}; allowed: {allowed}")
            pos = match.end()
        literals.append(pattern[pos:])
        if any("{" in text or "}" in text for text in literals):
            raise ValueError("unbalanced or malformed braces")
        parts.append(re.escape(literals[-1]))
        for required in ("date", "version"):
            if required not in seen:
                raise ValueError(f"the pattern must contain {{{required}}}")
        return cls(
            pattern=pattern,
            regex=re.compile("^" + "".join(parts) + "$"),
            date_format=date_format,
            fixed=tuple(sorted(fixed.items())),
        )

    def parse(self, name: str) -> tuple[dt.date, Version] | None:
        """The date and version in ``name``, or None if it does not match."""
        match = self.regex.match(name)
        if not match:
            return None
        try:
            date = dt.datetime.strptime(match.group("date"), self.date_format).date()
        except ValueError:
            return None  # 20251301 looks like a date but is not one
        return date, Version.parse(match.group("version"))

    def format(self, date: dt.date, version: Version) -> str:
        """The file name for ``date`` and ``version``."""
        values = dict(self.fixed)
        values["date"] = date.strftime(self.date_format)
        values["version"] = str(version)

        def fill(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return _FIELD.sub(fill, self.pattern)


@dataclass(frozen=True, slots=True)
class FileName:
    """A file name parsed against its product: valid by construction.

    Build it with ``MissionRegistry.parse_name`` (which finds the product) or
    ``Product.file_name`` (which formats one).
    """

    name: str
    mission: str
    product: str
    instrument: str
    level: str
    descriptor: str
    date: dt.date
    version: Version

    @property
    def partition(self) -> str:
        """The partition key of the file: its ISO date."""
        return self.date.isoformat()


def is_safe_name(name: str) -> bool:
    """True if ``name`` is a plain file name (no path, no leading dot, no odd characters)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name and len(name) <= 255
