"""Rules that record their inputs, so tests see what each input name resolved to."""

from __future__ import annotations

from pathlib import Path

from socstack.pipeline.context import NoOutput, RuleContext


def record(context: RuleContext) -> Path:
    """A CSV of (input name, file name), one row per file the rule was given."""
    rows = ["input,file"]
    for item in context.rule.inputs:
        rows += [f"{item.name},{f.name}" for f in context.files(item.name)]
    path = context.scratch / "seen.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def quiet_days_make_nothing(context: RuleContext) -> Path:
    """No output for a day whose values are all zero (the station was off)."""
    values = context.read("station")["value"].values
    if not values.any():
        raise NoOutput("the station recorded nothing but zeros")
    return record(context)
