"""A mission's release policy: who sees each product before it is public, and when it is.

Each product has a policy: its **team** (who sees all of it at any time: the mission's
team, or only its instrument's team) and when it is **public** (to anyone, tokens or
not): ``always`` (once older than its ``latency``, if it has one), after a ``release``
(records made with ``socstack release`` or ``POST /api/releases``; one of data younger
than the ``latency`` is early and needs the approvals ``early_approvals`` names), or
``never``. Policies select products by id, by HAPI dataset or by level; the first that
names a product decides, else the mission's ``team`` and ``public`` defaults apply.
``public_levels`` and ``embargo_days`` are the older short form: those levels public
always, once older than the embargo.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from socstack.mission._base import StrictModel, Token

__all__ = ["Policy", "ProductPolicy", "Release", "Team", "Visibility"]

Team = Literal["mission", "instrument"]
Visibility = Literal["always", "release", "never"]
_DAYS = re.compile(r"^P(?:(?P<W>\d+)W)?(?:(?P<D>\d+)D)?$")


def _days(value: str) -> int:
    match = _DAYS.match(value)
    if not match or not any(match.groupdict().values()):
        raise ValueError(f"latency {value!r}: give whole days or weeks (P30D, P4W)")
    return int(match["W"] or 0) * 7 + int(match["D"] or 0)


@dataclass(frozen=True)
class ProductPolicy:
    """The policy in force for one product."""

    team: Team
    public: Visibility
    latency_days: int


class Policy(StrictModel):
    """A rule of the release policy, for the products it selects."""

    products: list[str] = Field(default_factory=list)
    datasets: list[str] = Field(default_factory=list)
    levels: list[Token] = Field(default_factory=list)
    team: Team | None = Field(None, description="Who sees it before it is public.")
    public: Visibility = "release"
    latency: str | None = Field(
        None,
        description=(
            "Whole days or weeks (P30D). always: public once the data are this old;"
            " release: a release of younger data is early and needs approvals."
        ),
    )

    @field_validator("latency")
    @classmethod
    def _whole_days(cls, value: str | None) -> str | None:
        if value is not None:
            _days(value)
        return value

    @model_validator(mode="after")
    def _selects(self) -> Policy:
        if not (self.products or self.datasets or self.levels):
            raise ValueError("a policy selects products, datasets or levels")
        return self

    @property
    def latency_days(self) -> int:
        """The latency in days (0: none)."""
        return _days(self.latency) if self.latency else 0


class Release(StrictModel):
    """Which products are public, when, and who sees them before."""

    team: Team = Field("mission", description="Who sees a product no policy names.")
    public: Visibility = Field("never", description="When a product no policy names is public.")
    policies: list[Policy] = Field(default_factory=list)
    early_approvals: list[Literal["instrument", "project"]] = Field(
        default_factory=lambda: ["instrument", "project"],
        description="The roles that must approve a release of data younger than its latency.",
    )
    public_levels: list[Token] = Field(
        default_factory=list, description="Short form: these levels are public always."
    )
    embargo_days: int = Field(0, ge=0, description="Short form: ... once this many days old.")

    def policy(self, product: str, level: str, datasets: list[str]) -> ProductPolicy:
        """The policy of ``product`` (of ``level``, served as ``datasets``)."""
        for rule in self.policies:
            if product in rule.products or set(datasets) & set(rule.datasets):
                return ProductPolicy(rule.team or self.team, rule.public, rule.latency_days)
        for rule in self.policies:
            if level in rule.levels:
                return ProductPolicy(rule.team or self.team, rule.public, rule.latency_days)
        if level in self.public_levels:
            return ProductPolicy(self.team, "always", self.embargo_days)
        return ProductPolicy(self.team, self.public, 0)
