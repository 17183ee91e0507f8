"""CDF_TIME_TT2000 <-> numpy datetime64[ns] (UTC), vectorised.

TT2000 counts SI nanoseconds since 2000-01-01T12:00:00 TT, leap seconds included;
datetime64 counts POSIX nanoseconds, which skip them. The two differ by the leap
seconds accumulated since 2000 (32 s then), read from cdflib's leap-second table:

    tt2000 = posix_ns(utc) - posix_ns(2000-01-01T11:58:55.816) + (leap(utc) - 32) s

cdflib converts element by element in Python (0.7 s for a day at 1 Hz); this takes a
few milliseconds, which the HAPI server and the CDF writer both need. Times before
1972 (when UTC had rubber seconds) are not supported.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["from_tt2000", "to_tt2000"]

_NS = 1_000_000_000
# POSIX nanoseconds of J2000 (2000-01-01T12:00:00 TT) in UTC: 11:58:55.816.
_J2000_POSIX_NS = int(np.datetime64("2000-01-01T11:58:55.816", "ns").astype(np.int64))
_LEAP_AT_J2000 = 32
_FILL_TT2000 = np.int64(-9223372036854775808)
_FILL_DATETIME = np.datetime64("NaT")


@lru_cache(maxsize=1)
def _leap_table() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """POSIX ns at which each leap-second count starts, the same in TT2000, and the counts."""
    from cdflib.epochs import CDFepoch

    starts, counts = [], []
    for year, month, day, leap, *_ in CDFepoch.LTS:
        if year < 1972:
            continue
        starts.append(np.datetime64(f"{int(year):04d}-{int(month):02d}-{int(day):02d}", "ns"))
        counts.append(int(leap))
    posix = np.asarray(starts, dtype="datetime64[ns]").astype(np.int64)
    leap = np.asarray(counts, np.int64)
    # The first instant carrying each new count, in TT2000.
    tt = posix - _J2000_POSIX_NS + (leap - _LEAP_AT_J2000) * _NS
    return posix, tt, leap


def to_tt2000(times: np.ndarray) -> np.ndarray:
    """datetime64 (UTC) to int64 TT2000; NaT becomes the CDF fill value."""
    starts, _, counts = _leap_table()
    stamps = np.asarray(times, dtype="datetime64[ns]")
    posix = stamps.view(np.int64)
    if len(posix) and posix.min() >= starts[-1]:  # all after the last leap second (no NaT)
        return posix + (int(counts[-1]) - _LEAP_AT_J2000) * _NS - _J2000_POSIX_NS
    missing = np.isnat(stamps)
    index = np.searchsorted(starts, posix, side="right") - 1
    if np.any((index < 0) & ~missing):
        raise ValueError("TT2000 conversion supports times from 1972 on")
    out = posix - _J2000_POSIX_NS + (counts[np.maximum(index, 0)] - _LEAP_AT_J2000) * _NS
    return np.where(missing, _FILL_TT2000, out)


def from_tt2000(values: np.ndarray) -> np.ndarray:
    """int64 TT2000 to datetime64[ns] (UTC); the fill value becomes NaT.

    A time inside a leap second (23:59:60) maps onto the following second.
    """
    _, tt_starts, counts = _leap_table()
    tt = np.asarray(values, dtype=np.int64)
    if len(tt) and tt.min() >= tt_starts[-1]:  # all after the last leap second: one shift
        shift = _J2000_POSIX_NS - (int(counts[-1]) - _LEAP_AT_J2000) * _NS
        return (tt + shift).view("datetime64[ns]")
    index = np.searchsorted(tt_starts, tt, side="right") - 1
    if np.any((index < 0) & (tt != _FILL_TT2000)):
        raise ValueError("TT2000 conversion supports times from 1972 on")
    posix = tt + _J2000_POSIX_NS - (counts[np.maximum(index, 0)] - _LEAP_AT_J2000) * _NS
    out = posix.astype("datetime64[ns]")
    return np.where(tt == _FILL_TT2000, _FILL_DATETIME, out)
