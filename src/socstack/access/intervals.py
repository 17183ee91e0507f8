"""Time intervals of data (ns since 1970, [start, stop)) as sorted disjoint lists.

What someone may see of a product is such a list: everything, nothing, or the ranges its
releases opened, less those its unreleases closed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

__all__ = [
    "ALL",
    "NONE",
    "Intervals",
    "contains",
    "file_span",
    "intersect",
    "ns",
    "overlaps",
    "subtract",
    "union",
]

Intervals = tuple[tuple[int, int], ...]
_MIN, _MAX = -(2**63), 2**63 - 1
ALL: Intervals = ((_MIN, _MAX),)
NONE: Intervals = ()


def ns(value: dt.datetime) -> int:
    """An aware datetime as ns since 1970."""
    return int(value.timestamp() * 1_000_000) * 1000


def file_span(start: dt.datetime | None, stop: dt.datetime | None) -> tuple[int, int]:
    """The time range a catalog file covers, as the authorization function takes it.

    ``[start, stop)`` of its first and last record; a file with no stop (a calibration
    valid onwards) or an empty range covers the instant ``start``; one with no start is
    all time (only who sees all of its product sees it).
    """
    if start is None:
        return ALL[0]
    lo = ns(start)
    return lo, max(ns(stop) if stop is not None else lo, lo + 1)


def _normal(pairs: Iterable[tuple[int, int]]) -> Intervals:
    out: list[list[int]] = []
    for start, stop in sorted(p for p in pairs if p[0] < p[1]):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], stop)
        else:
            out.append([start, stop])
    return tuple((a, b) for a, b in out)


def union(a: Intervals, b: Iterable[tuple[int, int]]) -> Intervals:
    """Every time in ``a`` or ``b``."""
    return _normal([*a, *b])


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """Every time in both."""
    out = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, stop = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < stop:
            out.append((start, stop))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract(a: Intervals, b: Iterable[tuple[int, int]]) -> Intervals:
    """Every time in ``a`` and not in ``b``."""
    result = list(a)
    for cut_start, cut_stop in _normal(b):
        kept = []
        for start, stop in result:
            if stop <= cut_start or start >= cut_stop:
                kept.append((start, stop))
                continue
            if start < cut_start:
                kept.append((start, cut_start))
            if stop > cut_stop:
                kept.append((cut_stop, stop))
        result = kept
    return tuple(result)


def overlaps(a: Intervals, start: int, stop: int) -> bool:
    """True if any time of [start, stop) is in ``a``."""
    return bool(intersect(a, ((start, stop),)))


def contains(a: Intervals, start: int, stop: int) -> bool:
    """True if all of [start, stop) is in ``a``."""
    return any(s <= start and stop <= e for s, e in a)
