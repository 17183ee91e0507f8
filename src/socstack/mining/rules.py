"""Detector rules: a built-in detector as a mission rule, planned on arrival like any other.

A rule with ``detector:`` instead of ``function:`` runs :func:`detect` on queue
``mining``: the inputs' variables named in the YAML become the detector's series, cut
to the partition's day plus its ``margin`` on each side, and the events that *start* in
the day make its output, an event-list product. So an event across midnight is found
whole by the day it starts in and by no other.

The detector's version is folded into the rule's code version when the mission loads
(``1.0.0+shock.1.0.0``): a new detector version is new code, which makes a new output
version (Z) and a new dependency hash, and the same inputs and detector make none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import ValidationError

from socstack._exceptions import NotFoundError, Problem
from socstack.mining.detectors import Detector, Series, get_detector
from socstack.mining.events import STOP_VARIABLE, EventList
from socstack.times import duration_ns

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Mission, Rule
    from socstack.pipeline.context import RuleContext

__all__ = ["check_detector_rules", "detect"]

_DAY_NS = 86_400 * 10**9


def _optional_roles(detector: Detector) -> tuple[str, ...]:
    return tuple(getattr(detector, "optional_roles", ()))


def _check_variables(mission: Mission, rule: Rule, detector: Detector) -> list[Problem]:
    """Each role names an input of the rule and a variable its product's files hold."""
    assert rule.detector is not None  # noqa: S101 - only detector rules are checked
    where = f"rules.{rule.id}.detector.variables"
    problems = []
    roles = set(detector.roles)
    given = set(rule.detector.variables)
    allowed = roles | set(_optional_roles(detector))
    if roles - given:
        problems.append(
            Problem(
                f"detector {detector.name!r} needs {', '.join(sorted(roles - given))}"
                f" (its series: {', '.join(detector.roles)})",
                where,
            )
        )
    for role in sorted(given - allowed):
        problems.append(
            Problem(
                f"detector {detector.name!r} takes no series {role!r}"
                f" (it takes {', '.join(sorted(allowed))})",
                f"{where}.{role}",
            )
        )
    names = {i.name: i for i in rule.inputs}
    margin = duration_ns(rule.margin) or 0
    for role, ref in rule.detector.variables.items():
        name, variable = ref.split(".", 1)
        item = names.get(name)
        if item is None:
            problems.append(
                Problem(
                    f"{ref}: the rule has no input {name!r} (its inputs: {', '.join(names)})",
                    f"{where}.{role}",
                )
            )
            continue
        product = mission.products.get(item.product)
        declared = product.declared_variables() if product is not None else None
        if declared is not None and variable not in declared:
            problems.append(
                Problem(
                    f"{ref}: {item.product}'s files hold no variable {variable!r}"
                    f" (they hold {', '.join(sorted(declared))})",
                    f"{where}.{role}",
                )
            )
        if margin and not (item.window.start <= -1 and item.window.stop >= 1):
            problems.append(
                Problem(
                    f"margin {rule.margin} reaches into the days around, but input {name!r}"
                    " reads only its own day: give it window: surrounding_days (and"
                    " required: same_day, so the first and the last day are mined too)",
                    f"rules.{rule.id}.inputs",
                )
            )
    return problems


def _check_output(mission: Mission, rule: Rule) -> list[Problem]:
    product = mission.products.get(rule.outputs[0].product)
    if product is None:
        return []  # reported by the rules' own checks
    where = f"rules.{rule.id}.outputs[0].product"
    if product.format != "cdf":
        return [Problem(f"a detector's event list is a cdf product, not {product.format}", where)]
    declared = product.declared_variables()
    if declared is not None and STOP_VARIABLE not in declared:
        return [
            Problem(
                f"{product.id} is an event list: its files hold each event's {STOP_VARIABLE!r}"
                f" (declare {STOP_VARIABLE}: [] in its options.variables)",
                where,
            )
        ]
    return []


def check_detector_rules(mission: Mission) -> list[Problem]:
    """Every mistake of the mission's detector rules, and each rule's code version.

    Run when the mission loads, so that a misspelt parameter or a variable the files do
    not hold fails then rather than at the first arrival.
    """
    problems: list[Problem] = []
    for rule in mission.rules.values():
        spec = rule.detector
        if spec is None:
            continue
        try:
            detector = get_detector(spec.name)
        except NotFoundError as exc:
            problems.append(Problem(str(exc), f"rules.{rule.id}.detector.name"))
            continue
        try:
            detector.parameters.model_validate(spec.parameters)
        except ValidationError as exc:
            for error in exc.errors():
                place = ".".join(str(p) for p in error["loc"])
                message = str(error["msg"]).removeprefix("Value error, ")
                if error["type"] == "extra_forbidden":
                    message = "unknown parameter of detector " + repr(detector.name)
                problems.append(
                    Problem(message, f"rules.{rule.id}.detector.parameters.{place}".rstrip("."))
                )
        problems += _check_variables(mission, rule, detector)
        problems += _check_output(mission, rule)
        rule.code_version = f"{rule.code_version.split('+')[0]}+{detector.name}.{detector.version}"
    return problems


def _series(data: xr.Dataset, variable: str, lo: np.datetime64, hi: np.datetime64) -> Series:
    """One variable as a detector's series: [lo, hi) only, fill and invalid values NaN."""
    values = np.asarray(data[variable].values, dtype=np.float64)
    attrs = data[variable].attrs
    times = np.asarray(data["epoch"].values, dtype="datetime64[ns]")
    bad = ~np.isfinite(values)
    fill = attrs.get("FILLVAL")
    if fill is not None:
        bad |= values == np.float64(np.asarray(fill).ravel()[0])
    for key, outside in (("VALIDMIN", np.less), ("VALIDMAX", np.greater)):
        bound = attrs.get(key)
        if bound is not None:
            limit = np.broadcast_to(np.asarray(bound, dtype=np.float64), values.shape[1:])
            bad |= outside(values, limit)
    values = np.where(bad, np.nan, values)
    keep = (times >= lo) & (times < hi)
    order = np.argsort(times[keep], kind="stable")
    return Series(times=times[keep][order], values=values[keep][order])


def detect(context: RuleContext) -> xr.Dataset:
    """The rule function of every detector rule: the events starting in its day."""
    spec = context.rule.detector
    assert spec is not None  # noqa: S101 - the runner calls this for detector rules only
    detector = get_detector(spec.name)
    parameters = detector.parameters.model_validate(spec.parameters)
    day_start, day_stop = context.day
    margin = np.timedelta64(duration_ns(context.rule.margin) or 0, "ns")
    lo, hi = day_start - margin, day_stop + margin
    read: dict[str, xr.Dataset] = {}
    series: dict[str, Series] = {}
    for role, ref in spec.variables.items():
        name, variable = ref.split(".", 1)
        if not context.files(name):
            continue  # an optional input absent: the detector sees no such series
        if name not in read:
            read[name] = context.read(name)
        series[role] = _series(read[name], variable, lo, hi)
    events: EventList = detector.detect(series, parameters)
    return events.starting_in(day_start, day_stop).to_dataset()
