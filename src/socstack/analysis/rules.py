"""Notebook rules: a mission rule whose code is a notebook of the mission folder.

The pipeline does for it what it does for a function rule (planning, versions, the
dependency hash, writing and archiving the outputs with provenance); only the
computing differs. papermill executes the notebook in a watched kernel with each
input's local paths (a list of strings, under the input's name) and ``partition``
(the day, YYYY-MM-DD) as parameters; the datasets it publishes with
:func:`socstack.analysis.runenv.publish` are the rule's outputs, read back with their
product's reader (so they must hold the product's variables).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from socstack._exceptions import SocError
from socstack.analysis import runenv
from socstack.analysis.execute import Ending, execute_notebook
from socstack.config import Settings
from socstack.mission.model import Mission, Rule
from socstack.mission.rules import PARTITION_PARAMETER

if TYPE_CHECKING:
    from socstack.pipeline.context import RuleContext

__all__ = ["notebook_function"]

#: Seconds of a rule's timeout kept for archiving after the kernel's deadline.
MARGIN = 10.0


def notebook_function(
    settings: Settings, mission: Mission, rule: Rule
) -> Callable[[RuleContext], Mapping[str, Any]]:
    """The rule's notebook as a rule function (``context -> {product: Dataset}``)."""
    assert rule.notebook is not None  # noqa: S101 - only for notebook rules
    path = mission.folder / rule.notebook

    def run(context: RuleContext) -> Mapping[str, Any]:
        parameters: dict[str, Any] = {
            item.name: [str(f.path) for f in context.files(item.name)] for item in rule.inputs
        }
        parameters[PARTITION_PARAMETER] = context.partition.isoformat()
        folder = context.scratch / "run"
        execution = execute_notebook(
            path,
            folder / "work",
            parameters,
            env={"SOC_RUN_DIR": str(folder), "SOC_TOKEN": ""},
            timeout=max(1.0, rule.timeout - min(MARGIN, rule.timeout / 10)),
            memory_mb=settings.run_memory_mb,
        )
        if execution.ending == Ending.TIMED_OUT:
            # Said the way Celery says a rule's time limit, so the job ends timed_out.
            from billiard.exceptions import SoftTimeLimitExceeded

            raise SoftTimeLimitExceeded(f"notebook {rule.notebook}: {execution.error}")
        if execution.ending != Ending.SUCCEEDED:
            raise SocError(f"rule {rule.id}: notebook {rule.notebook}: {execution.error}")
        produced: dict[str, Any] = {}
        for entry in runenv.read_lines(folder, runenv.PUBLISHED):
            product = mission.products.get(str(entry.get("product")))
            if product is None or product.id not in {o.product for o in rule.outputs}:
                raise SocError(
                    f"rule {rule.id}: {rule.notebook} published {entry.get('product')!r},"
                    f" not one of the rule's outputs"
                    f" ({', '.join(o.product for o in rule.outputs)})"
                )
            produced[product.id] = product.reader.read(
                folder / runenv.PUBLISH_DIR / str(entry["file"]), product
            )
        return produced

    return run
