"""The mission configuration: what a mission says in YAML, validated.

Everything mission-specific lives here as data (instruments and their spans, products and
their file-name patterns and formats, HAPI datasets, processing rules, release policy);
the core never names an instrument. Models forbid unknown keys so that a typo fails at
load instead of being ignored. The parts live in modules of their own
(:mod:`~socstack.mission.products`, :mod:`~socstack.mission.datasets`,
:mod:`~socstack.mission.rules`); what ties them together is checked by
:mod:`socstack.mission.checks` when the mission loads.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator

from socstack.mission._base import EntryPoint, StrictModel, Token
from socstack.mission.datasets import Bins, Dataset, Parameter
from socstack.mission.products import Product
from socstack.mission.release import Policy, ProductPolicy, Release
from socstack.mission.rules import Rule, RuleInput, RuleOutput, Window

__all__ = [
    "Bins",
    "Dataset",
    "Instrument",
    "Mission",
    "Parameter",
    "Policy",
    "Product",
    "ProductPolicy",
    "Release",
    "Rule",
    "RuleInput",
    "RuleOutput",
    "Span",
    "Window",
]


class Span(StrictModel):
    """The days a mission or an instrument delivers data: nothing waits for days outside."""

    start: dt.date | None = Field(None, description="First day with data (launch, first light).")
    end: dt.date | None = Field(None, description="Last day with data (end of mission).")

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if self.start and self.end and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def holds(self, day: dt.date) -> bool:
        """True if ``day`` lies within the span (open ends hold everything)."""
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


class Instrument(Span):
    """An instrument of the mission; its span defaults to the mission's."""

    title: str = ""
    description: str = ""


class Mission(Span):
    """One mission's configuration (``mission.yaml`` in the mission folder)."""

    name: Token
    title: str = ""
    description: str = ""
    code: str = Field(".", description="Folder, relative to the mission, on the import path.")
    simulator: EntryPoint | None = None
    formats: dict[Token, EntryPoint] = Field(
        default_factory=dict,
        description="The mission's own file formats: name -> module:ReaderClass.",
    )
    instruments: dict[Token, Instrument] = Field(min_length=1)
    products: dict[str, Product] = Field(min_length=1)
    datasets: dict[str, Dataset] = Field(default_factory=dict)
    rules: dict[str, Rule] = Field(default_factory=dict)
    release: Release = Field(default_factory=Release)

    _folder: Path = PrivateAttr(default=Path())
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _keys_into_entries(cls, data: object) -> object:
        """Copy each mapping key into its entry's ``id`` (and the mission's name)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for section in ("products", "datasets", "rules"):
            entries = data.get(section)
            if isinstance(entries, dict):
                data[section] = {
                    key: ({**value, "id": key} if isinstance(value, dict) else value)
                    for key, value in entries.items()
                }
        products = data.get("products")
        if isinstance(products, dict):
            data["products"] = {
                key: ({**value, "mission": data.get("name")} if isinstance(value, dict) else value)
                for key, value in products.items()
            }
        return data

    @property
    def folder(self) -> Path:
        """The mission folder (holding ``mission.yaml``)."""
        return self._folder

    @property
    def lines(self) -> dict[tuple[str | int, ...], int]:
        """The YAML line of each entry (by field path), for errors found after loading."""
        return self._lines

    @property
    def code_dir(self) -> Path:
        """The folder put on the import path for the mission's code."""
        return (self._folder / self.code).resolve()

    def span(self, instrument: str) -> Span:
        """The days ``instrument`` delivers: its own span, else the mission's."""
        own = self.instruments.get(instrument)
        return Span(
            start=(own.start if own and own.start else None) or self.start,
            end=(own.end if own and own.end else None) or self.end,
        )

    def expects(self, product: str, day: dt.date) -> bool:
        """True if files of ``product`` can exist for ``day`` (within its instrument's span)."""
        found = self.products.get(product)
        return found is None or self.span(found.instrument).holds(day)

    def policy(self, product: str) -> ProductPolicy:
        """The release policy in force for ``product``."""
        spec = self.products[product]
        datasets = [d.id for d in self.datasets.values() if d.product == product]
        return self.release.policy(product, spec.level, datasets)

    def rules_triggered_by(self, product: str) -> list[Rule]:
        """Rules with ``product`` as a triggering input."""
        return [
            r
            for r in self.rules.values()
            if any(i.product == product and i.triggers for i in r.inputs)
        ]
