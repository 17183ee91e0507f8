"""What an ingest attempt came to."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any


class Outcome(enum.StrEnum):
    """The three ends of an ingest."""

    ARCHIVED = "archived"
    UNCHANGED = "unchanged"  # the same name with the same checksum is archived already
    QUARANTINED = "quarantined"


@dataclass(frozen=True)
class Lineage:
    """Where a pipeline output came from: recorded with it, in the same transaction."""

    inputs: tuple[int, ...]
    code_version: str
    quality: int
    job_id: int | None = None


@dataclass(frozen=True)
class IngestResult:
    """One file's outcome; quarantined results carry the reason."""

    name: str
    outcome: Outcome
    size: int
    sha256: str | None = None
    mission: str | None = None
    product: str | None = None
    file_id: int | None = None
    quarantine_id: int | None = None
    reason: str | None = None
    kind: str | None = None  # name, format or conflict for quarantined files

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (API responses, ``--json`` output)."""
        out = asdict(self)
        out["outcome"] = self.outcome.value
        return {k: v for k, v in out.items() if v is not None}
