"""Small rules over CSV files: fast, deterministic, and a few that misbehave on purpose."""

from __future__ import annotations

import time
from pathlib import Path

from socstack.pipeline.context import RuleContext


def _values(path: Path, column: str) -> list[float]:
    lines = path.read_text().splitlines()
    index = lines[0].split(",").index(column)
    return [float(line.split(",")[index]) for line in lines[1:]]


def _write(context: RuleContext, name: str, column: str, values: list[float]) -> Path:
    path = context.scratch / name
    path.write_text(column + "\n" + "".join(f"{v:.6f}\n" for v in values))
    return path


def calibrate(context: RuleContext) -> Path:
    """value * gain."""
    gain = _values(context.one("cal").path, "gain")[0]
    return _write(
        context, "mid.csv", "value", [v * gain for v in _values(context.one("raw").path, "value")]
    )


def finish(context: RuleContext) -> Path:
    """value + 1."""
    return _write(
        context, "out.csv", "value", [v + 1 for v in _values(context.one("mid").path, "value")]
    )


def combine(context: RuleContext) -> Path:
    """out + aux, element by element."""
    a = _values(context.one("out").path, "value")
    b = _values(context.one("aux").path, "value")
    return _write(context, "combo.csv", "value", [x + y for x, y in zip(a, b, strict=False)])


def sleepy(context: RuleContext) -> Path:
    """Sleep as long as the input says, then copy it."""
    seconds = _values(context.one("slowin").path, "seconds")
    time.sleep(seconds[0])
    return _write(context, "slow.csv", "seconds", seconds)


def hang(context: RuleContext) -> Path:
    """Never return (the rule's timeout must end it)."""
    while True:
        time.sleep(0.1)


def boom(context: RuleContext) -> Path:
    """Fail with an error of the rule's own."""
    raise ValueError("this rule always fails (on purpose)")
