"""File-name patterns: parse a name into its fields and format a name from them.

A product's pattern is written in its mission YAML, for example::

    {mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.pkts

``{mission}``, ``{instrument}``, ``{level}`` and ``{descriptor}`` stand for the product's
own values, so a pattern matches exactly one product. ``{date:FORMAT}`` is the partition
date (the day of a daily file, the first valid day of a calibration file) in ``strftime``
directives and is required. ``{version}`` is ``X.Y.Z``. ``{until:FORMAT}`` is the last
day a calibration is valid (``valid_from`` products only).

Ground stations and peers name files without a version. Such a pattern omits
``{version}``; the archive then keeps each version under the delivered name with
``_vX.Y.Z`` put before its extension (``kou20250101dmin.min`` is archived as
``kou20250101dmin_v1.0.0.min``), so every version has a name of its own, and both forms
parse.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import NamedTuple

from socstack.mission.versions import Version

__all__ = ["FileName", "NamePattern", "ParsedName"]

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
_DATE_FIELDS = ("date", "until")
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


class ParsedName(NamedTuple):
    """The variable fields of a name: ``version`` is None when the name carries none."""

    date: dt.date
    version: Version | None
    until: dt.date | None = None


def _versioned(pattern: str) -> str:
    """``pattern`` with ``_v{version}`` before the extension of its trailing literal."""
    fields = list(_FIELD.finditer(pattern))
    tail_start = fields[-1].end() if fields else 0
    dot = pattern.find(".", tail_start)
    cut = dot if dot >= 0 else len(pattern)
    return pattern[:cut] + "_v{version}" + pattern[cut:]


@dataclass(frozen=True, slots=True)
class _Compiled:
    regex: re.Pattern[str]
    seen: frozenset[str]
    formats: dict[str, str]


def _compile(pattern: str, fixed: dict[str, str]) -> _Compiled:
    if "/" in pattern or "\\" in pattern:
        raise ValueError("a file-name pattern cannot contain a path separator")
    parts: list[str] = []
    seen: set[str] = set()
    formats: dict[str, str] = {}
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
        elif name in _DATE_FIELDS:
            if not spec:
                raise ValueError(f"{{{name}}} needs a format, e.g. {{{name}:%Y%m%d}}")
            formats[name] = spec
            parts.append(f"(?P<{name}>{_date_regex(spec)})")
        elif name == "version":
            parts.append(r"(?P<version>\d{1,6}\.\d{1,6}\.\d{1,6})")
        else:
            allowed = ", ".join("{" + f + "}" for f in (*FIXED_FIELDS, *_DATE_FIELDS, "version"))
            raise ValueError(f"unknown field {{{name}}}; allowed: {allowed}")
        pos = match.end()
    literals.append(pattern[pos:])
    if any("{" in text or "}" in text for text in literals):
        raise ValueError("unbalanced or malformed braces")
    parts.append(re.escape(literals[-1]))
    return _Compiled(re.compile("^" + "".join(parts) + "$"), frozenset(seen), formats)


@dataclass(frozen=True, slots=True)
class NamePattern:
    """A compiled product file-name pattern.

    ``regex`` matches the archive's names (always with a version); ``delivered`` matches
    names as a versionless pattern's deliveries come (None when the pattern has
    ``{version}``).
    """

    pattern: str
    regex: re.Pattern[str]
    date_format: str
    fixed: tuple[tuple[str, str], ...]
    until_format: str | None = None
    delivered: re.Pattern[str] | None = None

    @property
    def versioned(self) -> bool:
        """True if delivered names carry their version."""
        return self.delivered is None

    @property
    def archive_pattern(self) -> str:
        """The pattern of archived names (the pattern itself when it has ``{version}``)."""
        return self.pattern if self.versioned else _versioned(self.pattern)

    @classmethod
    def compile(cls, pattern: str, **fixed: str) -> NamePattern:
        """Compile ``pattern``, substituting the product's fixed fields.

        Raises ``ValueError`` naming the problem; the mission loader adds the file and
        field.
        """
        given = _compile(pattern, fixed)
        if "date" not in given.seen:
            raise ValueError("the pattern must contain {date}")
        delivered = None
        archived = given
        if "version" not in given.seen:
            delivered = given.regex
            archived = _compile(_versioned(pattern), fixed)
        return cls(
            pattern=pattern,
            regex=archived.regex,
            date_format=given.formats["date"],
            fixed=tuple(sorted(fixed.items())),
            until_format=given.formats.get("until"),
            delivered=delivered,
        )

    def parse(self, name: str) -> ParsedName | None:
        """The date, version and end of validity in ``name``, or None if it does not match.

        A delivered name of a versionless pattern parses with ``version`` None.
        """
        match = self.regex.match(name)
        if match is None and self.delivered is not None:
            match = self.delivered.match(name)
        if not match:
            return None
        try:
            date = dt.datetime.strptime(match.group("date"), self.date_format).date()
            until = None
            if self.until_format:
                until = dt.datetime.strptime(match.group("until"), self.until_format).date()
        except ValueError:
            return None  # 20251301 looks like a date but is not one
        text = match.groupdict().get("version")
        return ParsedName(date, Version.parse(text) if text else None, until)

    def format(self, date: dt.date, version: Version, until: dt.date | None = None) -> str:
        """The archive's name for ``date`` and ``version`` (and ``until``, if a field)."""
        values = dict(self.fixed)
        values["date"] = date.strftime(self.date_format)
        values["version"] = str(version)
        if self.until_format:
            if until is None:
                raise ValueError(f"pattern {self.pattern!r} needs the end of validity")
            values["until"] = until.strftime(self.until_format)

        def fill(match: re.Match[str]) -> str:
            return values[match.group(1)]

        return _FIELD.sub(fill, self.archive_pattern)

    def samples(self, date: dt.date, version: Version) -> list[str]:
        """Names this pattern matches (archived, and delivered if versionless)."""
        archived = self.format(date, version, date + dt.timedelta(days=30))
        if self.versioned:
            return [archived]
        values = dict(self.fixed)
        values["date"] = date.strftime(self.date_format)
        if self.until_format:
            values["until"] = (date + dt.timedelta(days=30)).strftime(self.until_format)
        return [archived, _FIELD.sub(lambda m: values[m.group(1)], self.pattern)]


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
    until: dt.date | None = None
    #: False when the delivered name carried no version: ``version`` is then the
    #: product's initial one, and ingest decides the real one from what is archived.
    versioned: bool = True

    @property
    def partition(self) -> str:
        """The partition key of the file: its ISO date."""
        return self.date.isoformat()


def is_safe_name(name: str) -> bool:
    """True if ``name`` is a plain file name (no path, no leading dot, no odd characters)."""
    return bool(_SAFE_NAME.match(name)) and ".." not in name and len(name) <= 255
