"""What every format reader offers: option checking, inspection at ingest, and reading.

``inspect`` is the ingest gate: it must be cheap (it runs on every file at arrival) and
must reject anything the product's full reader could not open: empty or truncated files,
another instrument's content, garbage. ``read`` decodes the whole file for processing
and serving.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["Inspection", "Reader", "ReaderOptions"]


class ReaderOptions(BaseModel):
    """Base of a format's options (``options:`` of a product in the mission YAML)."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Inspection:
    """What ingest learns from a file's content.

    For a calibration (a ``valid_from`` product), ``stop`` is the end of its validity
    when the file says so (exclusive), and ``start`` is ignored.
    """

    records: int
    start: dt.datetime | None = None
    stop: dt.datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


class Reader(ABC):
    """A file format: checks a product's options, inspects and reads its files."""

    name: ClassVar[str]
    options_model: ClassVar[type[ReaderOptions]] = ReaderOptions

    def validate_options(self, options: dict[str, Any], mission_dir: Path) -> ReaderOptions:
        """Validate a product's ``options`` (raises ``ValueError`` with the reason)."""
        try:
            return self.options_model.model_validate(options, context={"mission_dir": mission_dir})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise ValueError(f"options{'.' + where if where else ''}: {message}") from exc

    def declared_variables(self, options: Any) -> dict[str, tuple[int, ...] | None] | None:
        """The variables a product's files will hold, with their per-record shapes.

        The mission loader checks each HAPI parameter against this (its variable, its
        bins' variables and its size) so that a mismatch fails at load instead of at
        the first request. None means the format cannot say before a file exists; a
        shape of None means the variable is known but its shape is not.
        """
        return None

    @abstractmethod
    def inspect(self, path: Path, product: Product) -> Inspection:
        """Check that ``path`` opens as ``product``; raise ``FormatError`` with the reason."""

    @abstractmethod
    def read(self, path: Path, product: Product) -> xr.Dataset:
        """Decode the whole file into a Dataset whose time coordinate is ``epoch``."""
