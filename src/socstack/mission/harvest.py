"""A harvest source: a peer's HAPI dataset that a product of the mission is made from.

The third ingest door (beside the drop box and upload): a product with ``harvest:``
is a peer data center's dataset, pulled day by day into daily CDF files of the archive,
where rules use it like any product. The YAML names the peer; where it is and the token
it wants are the deployment's (``SOC_PEERS``, ``SOC_PEER_TOKENS``), so the same mission
runs against a test peer on loopback and the real one, with only URLs differing.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from socstack.mission._base import StrictModel, check_duration

__all__ = ["HarvestSource"]


class HarvestSource(StrictModel):
    """Which peer dataset a product is, and how politely to pull it."""

    peer: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$",
        description="The peer's name: its URL and token come from the settings",
    )
    url: str | None = Field(
        None, description="The peer's HAPI URL (ending /hapi) when SOC_PEERS does not give one"
    )
    dataset: str = Field(min_length=1, max_length=128, description="The peer's dataset id")
    parameters: list[str] | None = Field(
        None, min_length=1, description="The parameters to harvest (default: all)"
    )
    start: dt.date | None = Field(None, description="The first day (default: the peer's start)")
    recheck: str = Field(
        "P3D",
        description=(
            "Days before the peer's last one that are fetched again on every pass when the"
            " peer gives no modificationDate, or it changed: late data lands there"
        ),
    )
    rate: float = Field(2.0, gt=0, le=100, description="Requests per second to the peer, at most")
    concurrency: int = Field(1, ge=1, le=8, description="Requests to the peer at once, at most")
    timeout: float = Field(60.0, gt=0, le=600, description="Seconds a response may stall")
    retries: int = Field(4, ge=0, le=10, description="Tries again after a 5xx, 429 or time-out")

    _check_recheck = field_validator("recheck")(check_duration)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"url {value!r}: give the peer's http:// or https:// HAPI URL")
        return value.rstrip("/") if value else value
