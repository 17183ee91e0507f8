"""The mission configuration: what a mission says in YAML, validated.

Everything mission-specific lives here as data (products and their file-name patterns,
HAPI datasets, processing rules, release policy); the core never names an instrument.
Models forbid unknown keys so that a typo fails at load instead of being ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from socstack.mission.patterns import FileName, NamePattern
from socstack.mission.versions import Version
from socstack.times import duration_ns

__all__ = [
    "Bins",
    "Dataset",
    "Instrument",
    "Mission",
    "Parameter",
    "Product",
    "Release",
    "Rule",
    "RuleInput",
    "RuleOutput",
    "Window",
]

Token = Annotated[str, Field(pattern=r"^[a-z][a-z0-9]*$", max_length=32)]
Descriptor = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=64)]
EntryPoint = Annotated[str, Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*$")]


def _duration(value: str | None) -> str | None:
    if value is not None and duration_ns(value) is None:
        raise ValueError(f"not an ISO 8601 duration: {value!r} (for example PT1S, P1D)")
    return value


class StrictModel(BaseModel):
    """Base of the configuration models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)


class Instrument(StrictModel):
    """An instrument of the mission."""

    title: str = ""
    description: str = ""


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
    options: dict[str, Any] = Field(default_factory=dict)

    _name_pattern: NamePattern = PrivateAttr()
    _format_options: BaseModel | None = PrivateAttr(default=None)
    _mission_dir: Path = PrivateAttr(default=Path())

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
        reader = registry.get(self.format)
        context = dict(info.context or {})
        self._mission_dir = Path(context.get("mission_dir", "."))
        self._format_options = reader.validate_options(self.options, self._mission_dir)
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
    def format_options(self) -> Any:
        """The format's validated options (a model of the format's own type)."""
        return self._format_options

    @property
    def mission_dir(self) -> Path:
        """The mission folder, for resolving paths given in options."""
        return self._mission_dir

    def parse_name(self, name: str) -> FileName | None:
        """A :class:`FileName` if ``name`` is one of this product's names, else None."""
        parsed = self._name_pattern.parse(name)
        if parsed is None:
            return None
        date, version = parsed
        return FileName(
            name=name,
            mission=self.mission,
            product=self.id,
            instrument=self.instrument,
            level=self.level,
            descriptor=self.descriptor,
            date=date,
            version=version,
        )

    def file_name(self, date: dt.date, version: Version) -> FileName:
        """Format the name of this product's file for ``date`` and ``version``."""
        name = self._name_pattern.format(date, version)
        parsed = self.parse_name(name)
        if parsed is None:  # pragma: no cover - compile() guarantees the round trip
            raise ValueError(f"pattern {self.pattern!r} does not round-trip for {name!r}")
        return parsed


class Bins(StrictModel):
    """Bins of one dimension of a HAPI array parameter (HAPI 3.3 section 3.6.13).

    Values come from the YAML (``centers``, ``ranges``), from a support variable of the
    product's files (``centers_variable``; ``ranges_variables`` for the lower and upper
    edges), or, for time-varying bins, name another parameter of the dataset (HAPI's own
    form: ``centers: ParameterName``).
    """

    name: str
    units: str | None = None
    label: str | None = None
    description: str = ""
    centers: list[float] | str | None = None
    ranges: list[list[float]] | str | None = None
    centers_variable: str | None = None
    ranges_variables: list[str] | None = Field(None, min_length=2, max_length=2)

    @model_validator(mode="after")
    def _has_values(self) -> Bins:
        given = [self.centers, self.ranges, self.centers_variable, self.ranges_variables]
        if all(v is None for v in given):
            raise ValueError(
                f"bins {self.name!r}: give centers or ranges (values, a variable or a parameter)"
            )
        if self.centers is not None and self.centers_variable is not None:
            raise ValueError(f"bins {self.name!r}: give centers or centers_variable, not both")
        if self.ranges is not None and self.ranges_variables is not None:
            raise ValueError(f"bins {self.name!r}: give ranges or ranges_variables, not both")
        if isinstance(self.ranges, list) and any(len(r) != 2 for r in self.ranges):
            raise ValueError(f"bins {self.name!r}: every range has two values [min, max]")
        return self


class Parameter(StrictModel):
    """A HAPI parameter and the file variable that holds it."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    variable: str = ""
    type: Literal["double", "integer", "string", "isotime"] = "double"
    units: str | list[str | None] | None = None
    fill: str | None = None
    length: int | None = Field(None, gt=0)
    size: list[Annotated[int, Field(gt=0)]] | None = None
    label: str | list[str] | None = None
    description: str = ""
    bins: list[Bins] | None = None
    vector_components: list[str] | str | None = None
    coordinate_system: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict, description="x_ keys of our own")

    @field_validator("fill", mode="before")
    @classmethod
    def _fill_as_text(cls, value: object) -> object:
        # HAPI carries fill as a string; YAML gives numbers.
        if isinstance(value, bool):
            raise ValueError("fill must be a number, a string or null")
        if isinstance(value, int | float):
            return repr(value) if isinstance(value, float) else str(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        if not self.variable:
            self.variable = self.name
        if self.type in ("string", "isotime") and self.length is None:
            raise ValueError(f"parameter {self.name!r}: a {self.type} needs a length")
        if self.bins is not None:
            if not self.size or len(self.bins) != len(self.size):
                raise ValueError(f"parameter {self.name!r}: one bins entry per size dimension")
            for dim, (bins, n) in enumerate(zip(self.bins, self.size, strict=True)):
                for what, values in (("centers", bins.centers), ("ranges", bins.ranges)):
                    if isinstance(values, list) and len(values) != n:
                        raise ValueError(
                            f"parameter {self.name!r}: bins[{dim}].{what} has {len(values)}"
                            f" values but size[{dim}] is {n}"
                        )
        if isinstance(self.vector_components, list) and (
            not self.size or len(self.size) != 1 or self.size[0] != len(self.vector_components)
        ):
            raise ValueError(f"parameter {self.name!r}: vector_components must match size [n]")
        for key in self.extra:
            if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", key):
                raise ValueError(f"parameter {self.name!r}: bad extra key {key!r}")
        return self


class Dataset(StrictModel):
    """A HAPI dataset served from one product's files."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{1,63}$")]
    product: str
    title: str = Field("", max_length=120)
    description: str = ""
    time_variable: str = "epoch"
    time_digits: int = Field(3, ge=0, le=9, description="Fractional digits of output times.")
    cadence: str | None = None
    max_request_duration: str | None = None
    resource_url: str | None = None
    provenance: str | None = None
    contact: str | None = None
    additional_metadata: list[dict[str, Any]] | None = None
    summary: str | None = Field(
        None,
        description=(
            "A dataset of this one at a coarser cadence, holding <name>_min and <name>_max "
            "for its parameters: plots of long windows draw their envelope from it instead "
            "of downloading every sample (HAPI info: x_socstack.summary)."
        ),
    )
    parameters: list[Parameter] = Field(min_length=1)

    def summarized_by(self, summary: Dataset) -> dict[str, dict[str, str]]:
        """Parameter -> {min, max} names in ``summary``, for those it summarizes."""
        theirs = {p.name for p in summary.parameters}
        return {
            p.name: {"min": f"{p.name}_min", "max": f"{p.name}_max"}
            for p in self.parameters
            if {f"{p.name}_min", f"{p.name}_max"} <= theirs
        }

    _check_cadence = field_validator("cadence", "max_request_duration")(_duration)

    @model_validator(mode="after")
    def _unique_parameters(self) -> Dataset:
        names = [p.name for p in self.parameters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate parameter names: {', '.join(dupes)}")
        if "Time" in names:
            raise ValueError("'Time' is added by the server; do not declare it")
        return self


class Window(StrictModel):
    """Which files of an input product a partition needs.

    ``days``: the input's daily files from ``start`` to ``stop`` days relative to the
    partition (``same_day`` is 0..0, ``previous_day`` -1..-1). ``latest_valid``: the
    newest calibration whose valid-from date is on or before the partition.
    """

    kind: Literal["days", "latest_valid"] = "days"
    start: int = Field(0, ge=-31, le=31)
    stop: int = Field(0, ge=-31, le=31)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        shorthands = {
            "same_day": {"kind": "days", "start": 0, "stop": 0},
            "previous_day": {"kind": "days", "start": -1, "stop": -1},
            "next_day": {"kind": "days", "start": 1, "stop": 1},
            "surrounding_days": {"kind": "days", "start": -1, "stop": 1},
            "latest_valid": {"kind": "latest_valid"},
        }
        if isinstance(value, str):
            if value not in shorthands:
                raise ValueError(f"unknown window {value!r}; use one of {', '.join(shorthands)}")
            return shorthands[value]
        if isinstance(value, dict) and "days" in value:
            days = value["days"]
            if not (isinstance(days, list) and len(days) == 2):
                raise ValueError("days: give [first, last] offsets, e.g. [-1, 1]")
            return {"kind": "days", "start": days[0], "stop": days[1]}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start > self.stop:
            raise ValueError(f"window starts ({self.start}) after it stops ({self.stop})")
        return self


class RuleInput(StrictModel):
    """One input of a processing rule."""

    product: str
    required: bool = True
    triggers: bool = True
    window: Window = Field(default_factory=Window)


class RuleOutput(StrictModel):
    """One output of a processing rule, with the interface version it declares (X)."""

    product: str
    interface: int = Field(1, ge=1)


class Rule(StrictModel):
    """A processing rule: when all inputs of a partition are there, run the function."""

    id: str
    inputs: list[RuleInput] = Field(min_length=1)
    outputs: list[RuleOutput] = Field(min_length=1)
    function: EntryPoint
    code_version: str
    quality: int = Field(1, ge=0, description="Raise it when the code's quality changes (Y).")
    timeout: float = Field(600, gt=0, description="Seconds before the job is timed out.")
    retries: int = Field(3, ge=0, description="Retries of transient errors.")
    queue: str = "processing"

    @field_validator("code_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        Version.parse(value)
        return value

    @model_validator(mode="after")
    def _has_trigger(self) -> Rule:
        if not any(i.triggers for i in self.inputs):
            raise ValueError(f"rule {self.id!r}: at least one input must trigger it")
        return self


class Release(StrictModel):
    """Which files are public, and when."""

    public_levels: list[Token] = Field(default_factory=list)
    embargo_days: int = Field(0, ge=0)

    def is_public(self, level: str, covered_until: dt.datetime | None, now: dt.datetime) -> bool:
        """True if a file of ``level`` covering data up to ``covered_until`` is public now."""
        if level not in self.public_levels:
            return False
        if covered_until is None or self.embargo_days == 0:
            return True
        return covered_until + dt.timedelta(days=self.embargo_days) <= now


class Mission(StrictModel):
    """One mission's configuration (``mission.yaml`` in the mission folder)."""

    name: Token
    title: str = ""
    description: str = ""
    code: str = Field(".", description="Folder, relative to the mission, on the import path.")
    simulator: EntryPoint | None = None
    instruments: dict[Token, Instrument] = Field(min_length=1)
    products: dict[str, Product] = Field(min_length=1)
    datasets: dict[str, Dataset] = Field(default_factory=dict)
    rules: dict[str, Rule] = Field(default_factory=dict)
    release: Release = Field(default_factory=Release)

    _folder: Path = PrivateAttr(default=Path())

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

    @model_validator(mode="after")
    def _cross_references(self) -> Mission:
        errors: list[str] = []
        for pid, product in self.products.items():
            if product.instrument not in self.instruments:
                errors.append(
                    f"products.{pid}.instrument: unknown instrument {product.instrument!r}"
                )
        for did, dataset in self.datasets.items():
            if dataset.product not in self.products:
                errors.append(f"datasets.{did}.product: unknown product {dataset.product!r}")
            elif self.products[dataset.product].partition != "daily":
                errors.append(f"datasets.{did}.product: HAPI datasets need a daily product")
            if dataset.summary is not None:
                summary = self.datasets.get(dataset.summary)
                if dataset.summary == did:
                    errors.append(f"datasets.{did}.summary: a dataset cannot summarize itself")
                elif summary is None:
                    errors.append(f"datasets.{did}.summary: unknown dataset {dataset.summary!r}")
                elif not dataset.summarized_by(summary):
                    errors.append(
                        f"datasets.{did}.summary: {dataset.summary} has no <name>_min and "
                        f"<name>_max for any parameter of {did}"
                    )
        errors.extend(self._check_rules())
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def _check_rules(self) -> list[str]:
        errors: list[str] = []
        producer: dict[str, str] = {}
        for rid, rule in self.rules.items():
            for n, item in enumerate(rule.inputs):
                where = f"rules.{rid}.inputs[{n}]"
                product = self.products.get(item.product)
                if product is None:
                    errors.append(f"{where}.product: unknown product {item.product!r}")
                elif item.window.kind == "latest_valid" and product.partition != "valid_from":
                    errors.append(f"{where}.window: latest_valid needs a valid_from product")
                elif item.window.kind == "days" and product.partition != "daily":
                    errors.append(f"{where}.window: a day window needs a daily product")
            inputs = {i.product for i in rule.inputs}
            for n, out in enumerate(rule.outputs):
                where = f"rules.{rid}.outputs[{n}].product"
                if out.product not in self.products:
                    errors.append(f"{where}: unknown product {out.product!r}")
                elif out.product in inputs:
                    errors.append(f"{where}: {out.product!r} is also an input")
                elif out.product in producer:
                    errors.append(
                        f"{where}: {out.product!r} is made by rule {producer[out.product]!r} too"
                    )
                elif self.products[out.product].partition != "daily":
                    errors.append(f"{where}: rule outputs must be daily products")
                else:
                    producer[out.product] = rid
        cycle = self._find_cycle(producer)
        if cycle:
            errors.append(f"rules: the rules form a cycle: {' -> '.join(cycle)}")
        return errors

    def _find_cycle(self, producer: dict[str, str]) -> list[str]:
        """A rule cycle (product -> rule -> product ...), or [] if the graph is acyclic."""
        state: dict[str, int] = {}

        def visit(product: str, path: list[str]) -> list[str]:
            if state.get(product) == 1:
                return [*path[path.index(product) :], product]
            if state.get(product) == 2 or product not in producer:
                return []
            state[product] = 1
            rule = self.rules[producer[product]]
            for item in rule.inputs:
                found = visit(item.product, [*path, product])
                if found:
                    return found
            state[product] = 2
            return []

        for product in producer:
            found = visit(product, [])
            if found:
                return found
        return []

    @property
    def folder(self) -> Path:
        """The mission folder (holding ``mission.yaml``)."""
        return self._folder

    @property
    def code_dir(self) -> Path:
        """The folder put on the import path for the mission's code."""
        return (self._folder / self.code).resolve()

    def rules_triggered_by(self, product: str) -> list[Rule]:
        """Rules with ``product`` as a triggering input."""
        return [
            r
            for r in self.rules.values()
            if any(i.product == product and i.triggers for i in r.inputs)
        ]
