"""Datasets in day-long Dask chunks, for ranges too long to hold or to wait for at once.

Direct: the times are read first, in one pass (the epoch variables only: an index must
be known), and each day's values are one ``dask.delayed`` read of that day's files, so a
computation touches only the days it needs, in as many workers as it has. The delayed
function names its transport by a key, not by the object: a worker process of a
``distributed`` cluster opens its own catalog connection instead of receiving one.

HAPI: the days are downloaded one request each (a server cannot send times without
values), then handed out as day-long chunks, so the same computation runs on either.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from socstack.client.hapi import Table
from socstack.client.remote import concatenate

__all__ = ["DAY", "days", "direct_by_day", "hapi_by_day", "register"]

DAY = 86_400 * 1_000_000_000
_transports: dict[Any, Any] = {}
_lock = threading.Lock()
#: Opens the transport a key stands for, in a process that has none (a dask worker).
Opener = Callable[[Any], Any]


def register(key: Any, transport: Any) -> None:
    """Make ``transport`` the one ``key`` stands for in this process."""
    with _lock:
        _transports[key] = transport


def _transport(key: Any, opener: Opener) -> Any:
    with _lock:
        found = _transports.get(key)
    if found is None:
        found = opener(key)
        register(key, found)
    return found


def days(start: int, stop: int) -> list[tuple[int, int]]:
    """[start, stop) cut at each UTC midnight."""
    out = []
    lo = start
    while lo < stop:
        hi = min((lo // DAY + 1) * DAY, stop)
        out.append((lo, hi))
        lo = hi
    return out


def _day(job: tuple[Any, Opener, str, list[str]], lo: int, hi: int) -> Table:
    key, opener, dataset, names = job
    return _transport(key, opener).table(dataset, names, lo, hi)


def direct_by_day(
    key: Any,
    opener: Opener,
    dataset: str,
    *,
    names: list[str],
    shapes: dict[str, tuple[tuple[int, ...], np.dtype[Any]]],
    start: int,
    stop: int,
) -> Table:
    """A Table whose columns are Dask arrays, one chunk per day (times read now)."""
    transport = _transport(key, opener)
    # The index first, in one pass over the files (their time variables only).
    index = transport.table(dataset, [], start, stop).time
    windows = days(start, stop)
    cuts = np.searchsorted(index, [lo for lo, _ in windows] + [stop], side="left")
    times, columns = [], {n: [] for n in names}  # type: dict[str, list[Any]]
    for (lo, hi), first, last in zip(windows, cuts[:-1], cuts[1:], strict=True):
        if last <= first:
            continue
        times.append(index[first:last])
        day = dask.delayed(_day, pure=True)((key, opener, dataset, names), lo, hi)
        for name in names:
            size, dtype = shapes[name]
            column = dask.delayed(_column, pure=True)(day, name)
            columns[name].append(da.from_delayed(column, (last - first, *size), dtype=dtype))
    if not times:
        return transport.table(dataset, names, start, start)
    return Table(np.concatenate(times), {n: da.concatenate(parts) for n, parts in columns.items()})


def _column(table: Table, name: str) -> np.ndarray:
    return table.values[name]


def hapi_by_day(
    transport: Any, dataset: str, names: list[str], start: int, stop: int
) -> tuple[Table, tuple[int, ...]]:
    """The days' records downloaded side by side, and each day's record count."""
    windows = days(start, stop)
    with ThreadPoolExecutor(max_workers=4) as pool:
        tables = list(pool.map(lambda w: transport.table(dataset, names, *w), windows))
    chunks = tuple(len(t.time) for t in tables if len(t.time))
    return concatenate(tables), chunks


def rechunk(ds: xr.Dataset, chunks: tuple[int, ...]) -> xr.Dataset:
    """``ds`` as Dask arrays cut at the given record counts along time."""
    return ds.chunk({"time": chunks or (0,)})
