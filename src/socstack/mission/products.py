"""Products: the kinds of file an archive holds, recognised by their file-name patterns.

A product names its format; the format's reader checks the product's ``options`` when
the mission loads and inspects every file at ingest. Readers come from the core
(``ccsds``, ``cdf``, ``csv``, ``text``, ``png``) or from the mission itself (its
``formats:`` section), so a mission with a format of its own needs no core change.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from socstack.mission._base import Descriptor, SemVer, StrictModel, Token
from socstack.mission.harvest import HarvestSource
from socstack.mission.patterns import FileName, NamePattern
from socstack.mission.versions import Version

if TYPE_CHECKING:
    from pydantic import BaseModel

    from socstack.formats.base import Reader

__all__ = ["Product"]

_WHOLE_DAYS = re.compile(r"^P(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?$")


class Product(StrictModel):
    """A kind of file the archive holds, recognised by its file-name pattern."""

    id: str
    mission: str
    instrument: Token
    level: Token
    descriptor: Descriptor
    title: str = ""
    description: str = ""
    pattern: str
    format: str
    partition: Literal["daily", "valid_from"] = "daily"
    validity: str | None = Field(
        None,
        description=(
            "How long a calibration (valid_from product) stays valid after its valid-from "
            "day, in whole days or weeks (P30D, P4W), when neither its name ({until:...}) "
            "nor its content says. Without any of the three it is valid until replaced."
        ),
    )
    initial_version: SemVer = Field(
        "1.0.0",
        description="The version of a delivery whose name has none (a versionless pattern).",
    )
    options: dict[str, Any] = Field(default_factory=dict)
    harvest: HarvestSource | None = Field(
        None, description="The peer HAPI dataset this product is harvested from (daily CDF)."
    )

    _name_pattern: NamePattern = PrivateAttr()
    _format_options: BaseModel | None = PrivateAttr(default=None)
    _mission_dir: Path = PrivateAttr(default=Path())
    _reader: Reader = PrivateAttr()

    @field_validator("validity")
    @classmethod
    def _whole_days(cls, value: str | None) -> str | None:
        if value is not None:
            match = _WHOLE_DAYS.match(value)
            if not match or not any(match.groupdict().values()):
                raise ValueError(
                    f"validity {value!r}: give whole days or weeks as ISO 8601 (P30D, P4W)"
                )
        return value

    @model_validator(mode="after")
    def _compile(self, info: ValidationInfo) -> Product:
        from socstack.formats import registry  # formats import the mission model for typing

        try:
            self._name_pattern = NamePattern.compile(
                self.pattern,
                mission=self.mission,
                instrument=self.instrument,
                level=self.level,
                descriptor=self.descriptor,
            )
        except ValueError as exc:
            raise ValueError(f"pattern: {exc}") from exc
        if self._name_pattern.until_format and self.partition != "valid_from":
            raise ValueError("pattern: {until} is for calibrations (partition: valid_from)")
        if self.validity is not None and self.partition != "valid_from":
            raise ValueError("validity is for calibrations (partition: valid_from)")
        if self.harvest is not None and (self.format != "cdf" or self.partition != "daily"):
            raise ValueError("harvest: a harvested product is daily CDF (format: cdf)")
        if self.harvest is not None and not self._name_pattern.versioned:
            raise ValueError("harvest: the pattern needs {version} (a changed day is a revision)")
        context = dict(info.context or {})
        own: dict[str, Reader] = context.get("formats") or {}
        self._reader = own[self.format] if self.format in own else registry.get(self.format, own)
        self._mission_dir = Path(context.get("mission_dir", "."))
        self._format_options = self._reader.validate_options(self.options, self._mission_dir)
        return self

    @property
    def key(self) -> str:
        """``mission/product``: unique across all loaded missions."""
        return f"{self.mission}/{self.id}"

    @property
    def name_pattern(self) -> NamePattern:
        """The compiled file-name pattern."""
        return self._name_pattern

    @property
    def reader(self) -> Reader:
        """The reader of this product's format (the core's or the mission's own)."""
        return self._reader

    @property
    def format_options(self) -> Any:
        """The format's validated options (a model of the format's own type)."""
        return self._format_options

    @property
    def mission_dir(self) -> Path:
        """The mission folder, for resolving paths given in options."""
        return self._mission_dir

    @property
    def validity_days(self) -> int | None:
        """Days a calibration stays valid by the YAML's ``validity`` (None: not said)."""
        if self.validity is None:
            return None
        match = _WHOLE_DAYS.match(self.validity)
        assert match is not None  # noqa: S101 - checked by the validator
        return int(match["W"] or 0) * 7 + int(match["D"] or 0)

    def declared_variables(self) -> dict[str, tuple[int, ...] | None] | None:
        """Variables this product's files hold with their per-record shapes (None: unknown)."""
        return self._reader.declared_variables(self._format_options)

    def parse_name(self, name: str) -> FileName | None:
        """A :class:`FileName` if ``name`` is one of this product's names, else None."""
        parsed = self._name_pattern.parse(name)
        if parsed is None:
            return None
        return FileName(
            name=name,
            mission=self.mission,
            product=self.id,
            instrument=self.instrument,
            level=self.level,
            descriptor=self.descriptor,
            date=parsed.date,
            version=parsed.version or Version.parse(self.initial_version),
            until=parsed.until,
            versioned=parsed.version is not None,
        )

    def file_name(self, date: dt.date, version: Version, until: dt.date | None = None) -> FileName:
        """Format the archive's name of this product's file for ``date`` and ``version``."""
        name = self._name_pattern.format(date, version, until)
        parsed = self.parse_name(name)
        if parsed is None:  # pragma: no cover - compile() guarantees the round trip
            raise ValueError(f"pattern {self.pattern!r} does not round-trip for {name!r}")
        return parsed
