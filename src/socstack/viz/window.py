"""The time window of a view: read from the page, moved by a zoom, written back short.

A zoom arrives as plotly's relayout event, in plotly's zone-less date strings; the
window it asks for is rounded outwards to the finest cadence of the stack (to a
readable step no longer than that cadence), so the link that keeps it holds times like
``2025-01-01T01:00:00Z`` rather than ``2025-01-01T01:00:00.123456789Z``, and still
holds every record the zoom showed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from socstack.times import format_time, parse_time
from socstack.viz.links import View

__all__ = [
    "DAY",
    "ViewError",
    "last_days",
    "rounded",
    "rounding_step",
    "short_time",
    "window_of",
    "zoomed",
]

DAY = 86_400 * 10**9
_AXIS_RANGE = re.compile(r"^xaxis\d*\.range(\[[01]\])?$")
#: Steps a zoom's times are rounded to (ns): the longest one no longer than the finest
#: cadence of the stack is used, so the times stay readable and exact to a record.
_STEPS = (
    1,
    10**3,
    10**6,
    10**7,
    10**8,
    10**9,
    10 * 10**9,
    60 * 10**9,
    600 * 10**9,
    3600 * 10**9,
    DAY,
)


class ViewError(ValueError):
    """A request the page can explain (bad time, nothing picked)."""


def window_of(view: View) -> tuple[int, int]:
    """The view's (start, stop) in ns; :class:`ViewError` says what is missing or wrong."""
    if not view.server:
        raise ViewError("Give the URL of a HAPI server.")
    if not view.panels:
        raise ViewError("Add at least one panel: pick a dataset and parameters, then Add.")
    for number, panel in enumerate(view.panels, start=1):
        problem = panel.problem()
        if problem:
            raise ViewError(f"Panel {number} ({panel.dataset} {panel.parameter}): {problem}.")
    try:
        start = parse_time(view.start)
    except ValueError as exc:
        raise ViewError(f"Start time {view.start!r}: {exc}") from None
    try:
        stop = parse_time(view.stop)
    except ValueError as exc:
        raise ViewError(f"Stop time {view.stop!r}: {exc}") from None
    if stop <= start:
        raise ViewError("The stop time must be after the start time.")
    return start, stop


def zoomed(relayout: dict[str, Any], home: tuple[int, int] | None) -> tuple[int, int] | None:
    """The window a plotly relayout event asks for, or None if it is no zoom.

    Autosize and legend clicks are no zoom; a reset of the axes (a double click) goes
    back to ``home``, the window of the last plot asked for, which the link had before
    any zoom (None when unknown).
    """
    if any(k.endswith("autorange") and v for k, v in relayout.items()):
        return home
    low = high = None
    for key, value in relayout.items():
        if not _AXIS_RANGE.match(key):
            continue
        if key.endswith("range") and isinstance(value, list) and len(value) == 2:
            low, high = value
        elif key.endswith("[0]"):
            low = value
        elif key.endswith("[1]"):
            high = value
    if low is None or high is None:
        return None
    try:
        a, b = parse_time(_plotly_time(low)), parse_time(_plotly_time(high))
    except ValueError:
        return None
    return (a, b) if b > a else None


def rounding_step(cadences: Iterable[int | None]) -> int:
    """The step a zoom's times are rounded to, for the stack's cadences (ns).

    The longest of the readable steps that is no longer than the finest cadence known;
    one second when no dataset of the stack gives its cadence.
    """
    known = [c for c in cadences if c and c > 0]
    finest = min(known) if known else 10**9
    return max(s for s in _STEPS if s <= finest)


def rounded(window: tuple[int, int], step: int) -> tuple[int, int]:
    """``window`` widened to multiples of ``step``: the start down, the stop up."""
    start, stop = window
    low = start - start % step
    high = stop if stop % step == 0 else stop - stop % step + step
    return low, max(high, low + step)


def last_days(coverage: tuple[int, int], days: int | None) -> tuple[int, int]:
    """The last ``days`` of ``coverage`` (ns), or all of it for None."""
    first, last = coverage
    return (first if days is None else max(first, last - days * DAY)), last


def short_time(ns: int) -> str:
    """A time as short as it can be written exactly (no zero fractions)."""
    text = format_time(int(ns), 9)
    text = re.sub(r"\.?0+Z$", "Z", text)
    return text.replace(":00Z", "Z").replace("T00:00Z", "Z").replace("T00Z", "Z")


def _plotly_time(value: Any) -> str:
    """Plotly's axis times ("2025-01-01 12:00:00.123") as HAPI times."""
    text = str(value).strip().replace(" ", "T")
    return text if text.endswith("Z") else text + "Z"
