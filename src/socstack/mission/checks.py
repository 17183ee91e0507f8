"""What ties a mission's sections together, checked once they each validated.

Every check returns problems (field path and message) rather than raising at the first,
so a mission author sees every mistake of a file at once. The loader adds the file and
the line of each.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from socstack._exceptions import Problem
from socstack.mission.model import Dataset, Mission, Product

__all__ = ["check_mission", "check_notebook_rules", "check_queues"]


def check_mission(mission: Mission) -> list[Problem]:
    """Every cross-reference mistake of ``mission``."""
    problems = [
        Problem(f"unknown instrument {product.instrument!r}", f"products.{pid}.instrument")
        for pid, product in mission.products.items()
        if product.instrument not in mission.instruments
    ]
    for did, dataset in mission.datasets.items():
        problems += _check_dataset(mission, did, dataset)
    problems += _check_rules(mission)
    problems += _check_release(mission)
    return problems


def _check_release(mission: Mission) -> list[Problem]:
    """Policies name products, datasets and levels the mission has."""
    levels = {p.level for p in mission.products.values()}
    problems = []
    for n, policy in enumerate(mission.release.policies):
        where = f"release.policies[{n}]"
        problems += [
            Problem(f"unknown product {p!r}", f"{where}.products")
            for p in policy.products
            if p not in mission.products
        ]
        problems += [
            Problem(f"unknown dataset {d!r}", f"{where}.datasets")
            for d in policy.datasets
            if d not in mission.datasets
        ]
        problems += [
            Problem(f"no product of level {lv!r}", f"{where}.levels")
            for lv in policy.levels
            if lv not in levels
        ]
    return problems


def check_notebook_rules(mission: Mission, folder: Path) -> list[Problem]:
    """Notebook rules name a notebook that exists and takes their inputs and partition.

    A notebook rule's code version becomes ``<declared>+nb.<hash>``: editing the
    notebook changes the rule's code, so its outputs get a new version (Z) and the
    dependency hash of its jobs changes, as for a new code version.
    """
    from socstack.mission.rules import PARTITION_PARAMETER

    problems = []
    for rid, rule in mission.rules.items():
        if rule.notebook is None:
            continue
        where = f"rules.{rid}.notebook"
        path = folder / rule.notebook
        if not path.is_file():
            problems.append(Problem(f"no notebook {rule.notebook} in the mission folder", where))
            continue
        try:
            import papermill

            taken = set(papermill.inspect_notebook(str(path)))
        except ImportError:
            problems.append(Problem("notebook rules need the analysis extra (papermill)", where))
            continue
        except Exception as exc:  # nbformat's errors: not a notebook papermill reads
            problems.append(Problem(f"{rule.notebook} is not a readable notebook: {exc}", where))
            continue
        needed = [i.name for i in rule.inputs] + [PARTITION_PARAMETER]
        lacking = [n for n in needed if n not in taken]
        if lacking:
            problems.append(
                Problem(
                    f"{rule.notebook} has no parameter {', '.join(lacking)} in its cell tagged"
                    " 'parameters' (a notebook rule gets each input's paths and the partition)",
                    where,
                )
            )
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        rule.code_version = f"{rule.code_version.split('+')[0]}+nb.{digest[:10]}"
    return problems


def check_queues(mission: Mission, queues: Iterable[str]) -> list[Problem]:
    """Rules whose queue no worker of this deployment takes (their jobs would wait for ever)."""
    known = list(queues)
    return [
        Problem(
            f"no worker takes queue {rule.queue!r} (workers take {', '.join(known)}; a"
            " deployment with other workers lists their queues in SOC_QUEUES)",
            f"rules.{rid}.queue",
        )
        for rid, rule in mission.rules.items()
        if rule.queue not in known
    ]


def _check_dataset(mission: Mission, did: str, dataset: Dataset) -> list[Problem]:
    where = f"datasets.{did}"
    product = mission.products.get(dataset.product)
    problems: list[Problem] = []
    if product is None:
        return [Problem(f"unknown product {dataset.product!r}", f"{where}.product")]
    if product.partition != "daily":
        problems.append(Problem("HAPI datasets need a daily product", f"{where}.product"))
    if dataset.summary is not None:
        summary = mission.datasets.get(dataset.summary)
        if dataset.summary == did:
            problems.append(Problem("a dataset cannot summarize itself", f"{where}.summary"))
        elif summary is None:
            problems.append(Problem(f"unknown dataset {dataset.summary!r}", f"{where}.summary"))
        elif not dataset.summarized_by(summary):
            problems.append(
                Problem(
                    f"{dataset.summary} has no <name>_min and <name>_max for any parameter"
                    f" of {did}",
                    f"{where}.summary",
                )
            )
    if dataset.files:  # a listing reads the catalog, not the files' variables
        return problems
    return problems + _check_variables(product, where, dataset)


def _check_variables(product: Product, where: str, dataset: Dataset) -> list[Problem]:
    """Each parameter's variable, bins variables and size against what the product holds."""
    declared = product.declared_variables()
    if declared is None:  # the format cannot say before a file exists
        return []
    known = ", ".join(sorted(declared)) or "none"

    def lacks(variable: str, field: str) -> Problem:
        return Problem(
            f"product {product.id}'s files hold no variable {variable!r} (it declares {known};"
            " a CDF product declares its variables in options.variables or its attributes)",
            field,
        )

    problems = []
    timed_by = getattr(product.format_options, "time_variable", None)
    if timed_by is not None and dataset.time_variable != timed_by:
        problems.append(
            Problem(
                f"reads times from {dataset.time_variable!r}, but {product.id}'s files are"
                f" timed by {timed_by!r}",
                f"{where}.time_variable",
            )
        )
    for n, parameter in enumerate(dataset.parameters):
        at = f"{where}.parameters[{n}]"
        if parameter.variable not in declared:
            problems.append(lacks(parameter.variable, f"{at}.variable"))
        else:
            shape = declared[parameter.variable]
            size = tuple(parameter.size or ())
            if shape is not None and shape != size:
                problems.append(
                    Problem(
                        f"size {list(size)} but {product.id}'s variable {parameter.variable}"
                        f" holds {list(shape)} per record",
                        f"{at}.size",
                    )
                )
        for dim, bins in enumerate(parameter.bins or []):
            support = [bins.centers_variable, *(bins.ranges_variables or [])]
            for variable in (v for v in support if v):
                if variable not in declared:
                    problems.append(lacks(variable, f"{at}.bins[{dim}]"))
                    continue
                shape = declared[variable]
                n_bins = (parameter.size or [1])[dim]
                if shape is not None and shape != (n_bins,):
                    problems.append(
                        Problem(
                            f"bins variable {variable} holds {list(shape)}, not {n_bins} values",
                            f"{at}.bins[{dim}]",
                        )
                    )
    return problems


def _check_rules(mission: Mission) -> list[Problem]:
    problems: list[Problem] = []
    producer: dict[str, str] = {}
    for rid, rule in mission.rules.items():
        for n, item in enumerate(rule.inputs):
            where = f"rules.{rid}.inputs[{n}]"
            product = mission.products.get(item.product)
            if product is None:
                problems.append(Problem(f"unknown product {item.product!r}", f"{where}.product"))
            elif item.window.kind == "latest_valid" and product.partition != "valid_from":
                problems.append(
                    Problem("latest_valid needs a valid_from product", f"{where}.window")
                )
            elif item.window.kind == "days" and product.partition != "daily":
                problems.append(Problem("a day window needs a daily product", f"{where}.window"))
        inputs = {i.product for i in rule.inputs}
        for n, out in enumerate(rule.outputs):
            where = f"rules.{rid}.outputs[{n}].product"
            if out.product not in mission.products:
                problems.append(Problem(f"unknown product {out.product!r}", where))
            elif out.product in inputs:
                problems.append(Problem(f"{out.product!r} is also an input", where))
            elif out.product in producer:
                problems.append(
                    Problem(f"{out.product!r} is made by rule {producer[out.product]!r} too", where)
                )
            elif mission.products[out.product].partition != "daily":
                problems.append(Problem("rule outputs must be daily products", where))
            else:
                producer[out.product] = rid
    cycle = _find_cycle(mission, producer)
    if cycle:
        problems.append(Problem(f"the rules form a cycle: {' -> '.join(cycle)}", "rules"))
    return problems


def _find_cycle(mission: Mission, producer: dict[str, str]) -> list[str]:
    """A rule cycle (product -> rule -> product ...), or [] if the graph is acyclic."""
    state: dict[str, int] = {}

    def visit(product: str, path: list[str]) -> list[str]:
        if state.get(product) == 1:
            return [*path[path.index(product) :], product]
        if state.get(product) == 2 or product not in producer:
            return []
        state[product] = 1
        rule = mission.rules[producer[product]]
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
