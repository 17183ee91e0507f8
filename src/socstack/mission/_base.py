"""What every mission configuration model shares: strictness and the small value types."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from socstack.mission.versions import Version
from socstack.times import duration_ns

__all__ = [
    "Descriptor",
    "Duration",
    "EntryPoint",
    "SemVer",
    "StrictModel",
    "Token",
    "check_duration",
]

Token = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$", max_length=32)]
Descriptor = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
EntryPoint = Annotated[str, Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")]


def _version(value: str) -> str:
    Version.parse(value)  # raises ValueError saying the form X.Y.Z
    return value


#: A version written ``X.Y.Z`` (code versions, initial versions).
SemVer = Annotated[str, AfterValidator(_version)]


def check_duration(value: str | None) -> str | None:
    """Refuse what is not an ISO 8601 duration (the one parser: :mod:`socstack.times`)."""
    if value is not None and duration_ns(value) is None:
        raise ValueError(f"not an ISO 8601 duration: {value!r} (for example PT1S, P1D)")
    return value


#: An ISO 8601 duration (``PT1S``, ``P1D``), checked when the YAML loads.
Duration = Annotated[str, AfterValidator(check_duration)]


class StrictModel(BaseModel):
    """Base of the configuration models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)
