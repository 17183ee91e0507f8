"""Processing rules: which inputs, over which days, make which outputs, with what code.

A rule computes with a function (``module:function``) or a notebook
(``notebooks/x.ipynb`` in the mission folder, see :mod:`socstack.analysis.rules`).
Each input of a rule has a name (by default its product's id), and the rule's function
gets its files under that name: one product may be an input several times (the day
before, the day itself and the day after), each under its own name. What ``required``
means over a window of several days is the author's to say: every day of it (``all``,
the default), at least one (``any``), or the partition's own day (``same_day``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from socstack.mission._base import EntryPoint, SemVer, StrictModel, check_duration
from socstack.times import duration_ns

__all__ = [
    "PARTITION_PARAMETER",
    "DetectorSpec",
    "Requirement",
    "Rule",
    "RuleInput",
    "RuleOutput",
    "Window",
]

#: How many days of an input's window must have a file before the rule runs.
Requirement = Literal["all", "any", "same_day", "optional"]
InputName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
NotebookPath = Annotated[str, Field(pattern=r"^notebooks/[A-Za-z0-9_][A-Za-z0-9_.-]*\.ipynb$")]
#: The parameter a notebook rule's partition (its day, YYYY-MM-DD) is passed as.
PARTITION_PARAMETER = "partition"


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
    """One input of a processing rule, handed to the rule's function under its ``name``."""

    product: str
    name: InputName = Field(
        "", description="What the rule's function calls this input (default: the product)."
    )
    required: bool | Literal["all", "any", "same_day"] = Field(
        True,
        description=(
            "For a day window: all (or true) every day of it, any at least one, same_day the "
            "partition's own day; false: optional. A calibration input is true or false."
        ),
    )
    triggers: bool = True
    window: Window = Field(default_factory=Window)

    @model_validator(mode="after")
    def _named_and_consistent(self) -> RuleInput:
        if not self.name:
            self.name = self.product
        if isinstance(self.required, str):
            if self.window.kind != "days":
                raise ValueError(
                    f"required: {self.required!r} is for day windows; a latest_valid input"
                    " is required (true) or not (false)"
                )
            if self.required == "same_day" and not self.window.start <= 0 <= self.window.stop:
                raise ValueError(
                    f"required: same_day, but the window ({self.window.start} to"
                    f" {self.window.stop} days) does not hold the partition's own day"
                )
        return self

    @property
    def requirement(self) -> Requirement:
        """What must be there: ``all``, ``any`` or ``same_day`` of the window, or nothing."""
        if self.required is True:
            return "all"
        if self.required is False:
            return "optional"
        return self.required


class RuleOutput(StrictModel):
    """One output of a processing rule, with the interface version it declares (X)."""

    product: str
    interface: int = Field(1, ge=1)


VariableRef = Annotated[
    str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$", max_length=129)
]


class DetectorSpec(StrictModel):
    """A built-in event detector run by a rule (see :mod:`socstack.mining.detectors`).

    ``variables`` map each series the detector needs (its roles: ``value``, or
    ``density``, ``speed`` and ``field`` for shocks) to ``input.variable``, an input of
    the rule by name and a variable of its files. ``parameters`` are the detector's own,
    checked against its schema when the mission loads.
    """

    name: str
    variables: dict[str, VariableRef] = Field(min_length=1)
    parameters: dict[str, object] = Field(default_factory=dict)


class Rule(StrictModel):
    """A processing rule: when all inputs of a partition are there, run the function."""

    id: str
    inputs: list[RuleInput] = Field(min_length=1)
    outputs: list[RuleOutput] = Field(min_length=1)
    function: EntryPoint | None = Field(
        None, description="module:function computing the outputs (or give a notebook)."
    )
    notebook: NotebookPath | None = Field(
        None,
        description=(
            "A notebook of the mission folder (notebooks/x.ipynb) computing the outputs:"
            " executed with papermill, its inputs' paths and the partition as parameters,"
            " its published datasets the rule's outputs."
        ),
    )
    detector: DetectorSpec | None = Field(
        None,
        description=(
            "A built-in event detector computing the rule's one output, an event list"
            " (instead of a function or a notebook); its version is part of the code's."
        ),
    )
    margin: str = Field(
        "PT0S",
        description=(
            "A detector's data beyond its day on each side (at most P1D; the inputs' windows"
            " must hold the days around): an event across midnight is found whole, and kept"
            " only by the day it starts in."
        ),
    )
    code_version: SemVer
    quality: int = Field(1, ge=0, description="Raise it when the code's quality changes (Y).")
    timeout: float = Field(600, gt=0, description="Seconds before the job is timed out.")
    retries: int = Field(3, ge=0, description="Retries of transient errors.")
    queue: str = "processing"

    _check_margin = field_validator("margin")(check_duration)

    @model_validator(mode="after")
    def _has_trigger(self) -> Rule:
        given = [x for x in (self.function, self.notebook, self.detector) if x is not None]
        if len(given) != 1:
            raise ValueError(f"rule {self.id!r}: give one of a function, a notebook or a detector")
        margin = duration_ns(self.margin) or 0
        if margin and self.detector is None:
            raise ValueError(f"rule {self.id!r}: a margin is for detector rules")
        if margin > 86_400 * 10**9:
            raise ValueError(f"rule {self.id!r}: a margin of at most P1D (it is {self.margin})")
        if self.detector is not None and len(self.outputs) != 1:
            raise ValueError(f"rule {self.id!r}: a detector makes one output, an event list")
        if not any(i.triggers for i in self.inputs):
            raise ValueError(f"rule {self.id!r}: at least one input must trigger it")
        first: dict[str, int] = {}
        for n, item in enumerate(self.inputs):
            if item.name in first:
                raise ValueError(
                    f"inputs[{n}] and inputs[{first[item.name]}] are both named {item.name!r}:"
                    " give each a name of its own (name: previous_day, say), which is what"
                    " the rule's function calls it"
                )
            first[item.name] = n
        return self

    def input(self, name: str) -> RuleInput:
        """The input called ``name``."""
        for item in self.inputs:
            if item.name == name:
                return item
        raise KeyError(f"rule {self.id} has no input {name!r}")
