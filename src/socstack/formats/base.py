"""What every format reader offers: option checking, inspection at ingest, and reading.

``inspect`` is the ingest gate: it must be cheap (it runs on every file at arrival) and
must reject anything the product's full reader could not open: empty or truncated files,
another instrument's content, garbage. ``read`` decodes the whole file for processing
and serving. ``declared_variables`` says, from the options alone, which variables the
files will hold, so that a mission's HAPI parameters can be checked against its products
when the mission loads rather than when a peer first asks for data.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin

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
    #: What a download of such a file says it is (Content-Type; HAPI's stringType mediaType).
    media_type: ClassVar[str] = "application/octet-stream"
    options_model: ClassVar[type[ReaderOptions]] = ReaderOptions

    def validate_options(self, options: dict[str, Any], mission_dir: Path) -> ReaderOptions:
        """Validate a product's ``options`` (raises ``ValueError`` with the reason)."""
        try:
            return self.options_model.model_validate(options, context={"mission_dir": mission_dir})
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = error["loc"]
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":  # say which keys there are instead
                known = _keys_at(self.options_model, loc[:-1])
                message = "unknown option (a typo?)" + (
                    f"; known: {', '.join(known)}" if known else ""
                )
            where = ".".join(str(p) for p in loc)
            raise ValueError(f"options{'.' + where if where else ''}: {message}") from exc

    def declared_variables(
        self, options: ReaderOptions
    ) -> dict[str, tuple[int, ...] | None] | None:
        """The variables every file of a product holds, known from its options alone.

        Parameters
        ----------
        options
            The product's validated options (``Product.format_options``).

        Returns
        -------
        dict or None
            Variable name to its shape per record: ``()`` for one scalar a record,
            ``(3,)`` for a 3-vector, ``None`` when the options do not fix the shape. A
            file may hold more variables than these. None (the default) when the options
            do not say which variables the files hold. The mission loader checks each
            HAPI parameter against these (its variable, its bins' variables, its size),
            so a mismatch fails at load instead of at the first request.
        """
        return None

    @abstractmethod
    def inspect(self, path: Path, product: Product) -> Inspection:
        """Check that ``path`` opens as ``product``; raise ``FormatError`` with the reason."""

    @abstractmethod
    def read(self, path: Path, product: Product) -> xr.Dataset:
        """Decode the whole file into a Dataset whose time coordinate is ``epoch``."""


def _keys_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The option names of the (nested) options model at ``loc``, for error messages.

    A list index or mapping key in ``loc`` follows a field holding a list or mapping of
    models, and leads to the model of its items.
    """
    current: type[BaseModel] | None = model
    key_next = False
    for part in loc:
        if key_next:
            key_next = False
            continue
        if current is None or part not in current.model_fields:
            return []
        annotation = current.model_fields[str(part)].annotation
        current = _model_in(annotation)
        key_next = _holds_items(annotation)
    return list(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The options model inside a field's type (``X``, ``X | None``, ``list[X]``, ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _holds_items(annotation: Any) -> bool:
    """True for a list or mapping type, also inside ``... | None``."""
    if get_origin(annotation) in (list, tuple, set, frozenset, dict):
        return True
    if get_origin(annotation) in (Union, UnionType):
        return any(_holds_items(argument) for argument in get_args(annotation))
    return False
