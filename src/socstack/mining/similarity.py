"""Query by example and matrix profiles: the shapes in a series that look alike, or not.

A scientist marks an interval of some parameters and asks where else the data look like
that; or asks, of one day, which stretches repeat (motifs) and which resemble nothing
else (discords). Both are z-normalised Euclidean distances between windows, computed by
stumpy: MASS (an FFT per parameter component, so a year of one-second data is a few
seconds' work) for a query, and STOMP (``stumpy.stump``/``mstump``, quadratic in the
length, so a day at a time) for a matrix profile. Z-normalising each window makes a
match independent of offset and scale: a pressure pulse is found at 2 nPa or at 20.

Parameters of one dataset seldom share a time base (a scalar each minute, a vector at
1 s) and have gaps, so :func:`regrid` first puts them on one grid by bin averaging: no
aliasing of the faster ones, and a missing bin is NaN. Only gaps of at most
:data:`MAX_FILLED` bins (jitter of the sample times across bin edges) are interpolated;
a window over a longer gap has no distance (stumpy gives it ``inf``) and is never
returned, since a match that is mostly invented data would mislead.

A window of several components is compared component by component, and the distances
combined as the root mean square, ``sqrt(mean_j d_j**2)``: 0 for the same shape, about
``sqrt(2 m)`` for unrelated noise over ``m`` points, whatever the number of components,
so a search over one parameter and over four read alike.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from socstack._exceptions import SocError
from socstack.mining.events import EventList

__all__ = [
    "MAX_FILLED",
    "MAX_QUERY_GAP",
    "MIN_QUERY_POINTS",
    "SimilarityError",
    "cadence",
    "day_profile",
    "find_similar",
    "motifs_and_discords",
    "regrid",
    "search",
]

logger = logging.getLogger(__name__)

#: A query shorter than this many grid points matches almost anything.
MIN_QUERY_POINTS = 8
#: The longest run of empty bins :func:`regrid` interpolates over (jitter, not a gap).
MAX_FILLED = 2
#: The largest fraction of a query's points that may be missing (filled within it).
MAX_QUERY_GAP = 0.2
#: The shortest window stumpy's matrix profile accepts.
MIN_WINDOW = 3

Series = tuple[np.ndarray, np.ndarray]

_NS = "datetime64[ns]"
_ATTRIBUTES = {"distance": np.float64, "rank": np.int64}
_UNITS = {"distance": "dimensionless", "rank": "dimensionless"}


class SimilarityError(SocError):
    """A search or a matrix profile that cannot be made as asked (said in one line)."""


def _descriptions(what: str) -> dict[str, str]:
    return {
        "distance": (
            f"z-normalised Euclidean distance to {what} (root mean square over the"
            " components; 0 is the same shape)"
        ),
        "rank": "1 for the closest, 2 for the next, ...",
    }


def _values(times: np.ndarray, values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).reshape(len(times), -1)


def cadence(series: Sequence[Series]) -> np.timedelta64:
    """The coarsest of the parameters' median sample spacings: the grid every one fills.

    The coarsest, not the finest, so that no parameter's grid is mostly empty bins;
    the median, so that gaps and a few irregular samples do not move it.
    """
    spacings = [
        np.median(np.diff(np.asarray(t, dtype=_NS).view(np.int64))) for t, _ in series if len(t) > 1
    ]
    spacings = [s for s in spacings if s > 0]
    if not spacings:
        raise SimilarityError("no parameter has two samples: the data have no cadence")
    return np.timedelta64(int(max(spacings)), "ns")


def _fill_short_gaps(column: np.ndarray, longest: int) -> None:
    """Interpolate, in place, the runs of NaN of at most ``longest`` points between data.

    Sample times jitter across bin edges, leaving a bin empty beside one with two
    samples; left as NaN, each such hole would bar every window over it.
    """
    finite = np.isfinite(column)
    if finite.all() or not finite.any():
        return
    index = np.arange(len(column))
    before = np.maximum.accumulate(np.where(finite, index, -1))
    after = np.minimum.accumulate(np.where(finite, index, len(column))[::-1])[::-1]
    short = ~finite & (before >= 0) & (after < len(column)) & (after - before - 1 <= longest)
    if short.any():
        column[short] = np.interp(index[short], index[finite], column[finite])


def regrid(
    series: Sequence[Series],
    start: np.datetime64,
    stop: np.datetime64,
    step: np.timedelta64 | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """All parameters as columns of one matrix on bins ``[start + i step, + step)``.

    Each bin holds the mean of its finite samples (a faster parameter is averaged
    down, not sampled, so it does not alias), NaN if it has none; runs of at most
    :data:`MAX_FILLED` empty bins between data are interpolated, longer gaps stay NaN.
    The default ``step`` is :func:`cadence`. Returns the bin start times and the
    matrix, shape (bins, total components), in column order (each column contiguous,
    as stumpy wants it).
    """
    start, stop = np.datetime64(start, "ns"), np.datetime64(stop, "ns")
    step = cadence(series) if step is None else np.timedelta64(step, "ns")
    step_ns = int(step.astype(np.int64))
    if step_ns <= 0:
        raise SimilarityError(f"the grid step must be positive, not {step}")
    bins = max(0, int((stop - start).astype(np.int64)) // step_ns)
    grid = start + np.arange(bins) * step
    width = sum(_values(t, v).shape[1] for t, v in series)
    matrix = np.full((bins, width), np.nan, order="F")
    column = 0
    for times, raw in series:
        values = _values(times, raw)
        rows = (np.asarray(times, dtype=_NS).view(np.int64) - start.astype(np.int64)) // step_ns
        inside = (rows >= 0) & (rows < bins)
        rows, values = rows[inside], values[inside]
        for j in range(values.shape[1]):
            finite = np.isfinite(values[:, j])
            total = np.bincount(rows[finite], weights=values[finite, j], minlength=bins)
            count = np.bincount(rows[finite], minlength=bins)
            with np.errstate(invalid="ignore", divide="ignore"):
                matrix[:, column] = total / count
            _fill_short_gaps(matrix[:, column], MAX_FILLED)
            column += 1
    return grid, matrix


def _query(matrix: np.ndarray, rows: slice) -> np.ndarray:
    """The query's values, its few missing points filled from its own neighbours."""
    query = np.array(matrix[rows], dtype=np.float64)
    index = np.arange(len(query))
    for j in range(query.shape[1]):
        finite = np.isfinite(query[:, j])
        missing = 1 - finite.mean() if len(finite) else 1.0
        if missing > MAX_QUERY_GAP:
            raise SimilarityError(
                f"the query is {missing:.0%} missing data (component {j + 1}):"
                f" pick an interval with at most {MAX_QUERY_GAP:.0%} missing"
            )
        if not finite.all():
            query[~finite, j] = np.interp(index[~finite], index[finite], query[finite, j])
    return query


def _top_k(distance: np.ndarray, k: int, zone: int) -> np.ndarray:
    """The indices of the ``k`` smallest finite distances, none within ``zone`` of another.

    Greedy, as stumpy's own motif search: the best, then the best of what its
    exclusion zone left, so the results are distinct events, not one event and its
    neighbours shifted by a sample.
    """
    left = np.where(np.isnan(distance), np.inf, distance)
    picks: list[int] = []
    while len(picks) < k:
        best = int(np.argmin(left)) if len(left) else 0
        if not len(left) or not np.isfinite(left[best]):
            break
        picks.append(best)
        left[max(0, best - zone + 1) : best + zone] = np.inf
    return np.array(picks, dtype=np.int64)


#: Window starts per block of :func:`_window_stats`: short enough that running sums of a
#: block, centred on its mean, lose nothing of a quiet window's variance.
_BLOCK = 1 << 16


def _window_stats(series: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each window's mean (``inf`` if it holds NaN), standard deviation and constancy.

    What ``stumpy.mass`` computes for itself when not given them, but in O(n) instead
    of its O(n m) (a ``nanstd`` and a min/max per window): for a year at 1 Hz and an
    hour's query that is minutes against a second. Running sums are taken per block
    of :data:`_BLOCK` windows about the block's mean, so that cancellation does not
    eat the variance of a quiet window beside a large excursion. A window is constant,
    as stumpy has it, when all its values are finite and equal.
    """
    n = len(series)
    windows = n - m + 1
    finite = np.isfinite(series)
    missing = np.concatenate(([0], np.cumsum(~finite)))
    whole = missing[m:] == missing[:windows]
    changes = np.concatenate(([0], np.cumsum(series[1:] != series[:-1])))
    constant = whole & (changes[m - 1 :] == changes[:windows])
    values = np.where(finite, series, 0.0)
    mean = np.empty(windows)
    std = np.empty(windows)
    for lo in range(0, windows, _BLOCK):
        hi = min(windows, lo + _BLOCK)
        part = values[lo : hi + m - 1]
        kept = finite[lo : hi + m - 1]
        centre = float(part[kept].mean()) if kept.any() else 0.0
        part = part - centre
        sums = np.concatenate(([0.0], np.cumsum(part)))
        squares = np.concatenate(([0.0], np.cumsum(part * part)))
        mu = (sums[m:] - sums[: hi - lo]) / m
        variance = (squares[m:] - squares[: hi - lo]) / m - mu * mu
        mean[lo:hi] = centre + mu
        std[lo:hi] = np.sqrt(np.maximum(variance, 0.0))
    mean[~whole] = np.inf
    return mean, std, constant


def _distance_profile(query: np.ndarray, series: np.ndarray) -> np.ndarray:
    """``stumpy.mass`` of one component, given its window statistics (see above).

    Both are first moved by a constant, which z-normalised distances ignore, so that a
    parameter far from zero (a field of 30,000 nT varying by 0.1) keeps the precision
    of the FFT's dot products.
    """
    import stumpy

    centre = float(np.nanmean(series)) if np.isfinite(series).any() else 0.0
    shifted = series - centre
    query = query - float(np.mean(query))
    mean, std, constant = _window_stats(shifted, len(query))
    return stumpy.mass(query, shifted, M_T=mean, Σ_T=std, T_subseq_isconstant=constant)


def find_similar(
    grid: np.ndarray,
    matrix: np.ndarray,
    query_rows: slice,
    k: int,
    exclusion: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` windows of ``matrix`` most like its rows ``query_rows``, best first.

    Every component is z-normalised and compared by ``stumpy.mass``; the distances are
    combined as their root mean square. No window overlapping the query is returned,
    and hits are at least ``exclusion`` rows apart (default: the query's length, so
    they do not overlap each other either). A window with missing data has no distance
    and is not returned; fewer than ``k`` hits come back if fewer exist.

    Returns the hits' start times (from ``grid``) and their distances.

    Raises
    ------
    SimilarityError
        The query is more than :data:`MAX_QUERY_GAP` missing, or longer than the data.
    """
    rows = range(len(matrix))[query_rows]
    m = len(rows)
    if rows.step != 1 or m < MIN_WINDOW:
        raise SimilarityError(f"the query must be {MIN_WINDOW} or more consecutive rows")
    if len(matrix) < m + 1:
        raise SimilarityError("the data are no longer than the query: nothing to compare")
    query = _query(matrix, query_rows)
    windows = len(matrix) - m + 1
    squares = np.zeros(windows)
    for j in range(matrix.shape[1]):
        profile = _distance_profile(query[:, j], matrix[:, j])
        squares += profile * profile  # inf (a window with NaN) stays inf
    distance = np.sqrt(squares / matrix.shape[1], out=squares)
    distance[max(0, rows.start - m + 1) : rows.start + m] = np.inf  # overlaps the query
    picks = _top_k(distance, k, m if exclusion is None else exclusion)
    return grid[picks], distance[picks]


def _between(t: np.ndarray, v: np.ndarray, lo: np.datetime64, hi: np.datetime64) -> Series:
    times = np.asarray(t, dtype=_NS)
    first, last = np.searchsorted(times, [lo, hi])
    return times[first:last], _values(times, v)[first:last]


def search(
    series: Sequence[Series],
    query_start: np.datetime64,
    query_stop: np.datetime64,
    range_start: np.datetime64,
    range_stop: np.datetime64,
    *,
    k: int = 10,
) -> EventList:
    """The ``k`` intervals of the range most like the query, as an event list.

    ``series`` holds each parameter's ascending times and values (n, components),
    missing data as NaN. They are put on one grid (:func:`regrid`) anchored on the
    query's start, so the query is whole bins, and searched by :func:`find_similar`.
    Each event is as long as the query, with its ``distance`` and ``rank`` (1 the
    closest); the list is in start order like every event list, so sort by ``rank``
    for best first.

    Raises
    ------
    SimilarityError
        The query is not inside the range, shorter than :data:`MIN_QUERY_POINTS` grid
        points or mostly missing; a parameter has no data in the range.
    """
    q0, q1 = np.datetime64(query_start, "ns"), np.datetime64(query_stop, "ns")
    r0, r1 = np.datetime64(range_start, "ns"), np.datetime64(range_stop, "ns")
    if k < 1:
        raise SimilarityError(f"ask for at least one interval, not k={k}")
    if q1 <= q0:
        raise SimilarityError(f"the query must end after it starts ({q0} to {q1})")
    if r1 - r0 < q1 - q0:
        raise SimilarityError(f"the range ({r0} to {r1}) is shorter than the query")
    if q0 < r0 or q1 > r1:
        raise SimilarityError(f"the query ({q0} to {q1}) is not inside the range ({r0} to {r1})")
    if not series:
        raise SimilarityError("no parameter to search")
    inside = [_between(t, v, r0, r1) for t, v in series]
    for n, (_, values) in enumerate(inside, start=1):
        if not np.isfinite(values).any():
            raise SimilarityError(
                f"parameter {n} of {len(inside)} has no data between {r0} and {r1}"
            )
    step = cadence(inside)
    m = int((q1 - q0) // step)
    if m < MIN_QUERY_POINTS:
        raise SimilarityError(
            f"the query spans {m} samples of {step / np.timedelta64(1, 's'):g} s: make it"
            f" at least {MIN_QUERY_POINTS} samples long"
        )
    before = int((q0 - r0) // step)
    origin = q0 - before * step
    grid, matrix = regrid(inside, origin, r1, step)
    starts, distance = find_similar(grid, matrix, slice(before, before + m), k)
    return EventList(
        starts,
        np.minimum(starts + (q1 - q0), r1),
        {"distance": distance, "rank": np.arange(1, len(starts) + 1)},
        units=dict(_UNITS),
        descriptions=_descriptions("the query"),
    )


def day_profile(
    times: np.ndarray, values: np.ndarray, window: np.timedelta64
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The matrix profile of a series: each window's distance to its nearest other window.

    The series is put on its own cadence's grid first (:func:`regrid`), since stumpy
    assumes evenly spaced samples. One component goes to ``stumpy.stump``, several to
    ``stumpy.mstump`` (whose all-components profile averages the per-component
    distances). A window over missing data gets ``inf`` and index -1: stumpy leaves it
    out rather than compare made-up values. The cost is quadratic in the length,
    which is why this is per day.

    Returns the window start times, the profile and the start index (into the
    returned times) of each window's nearest neighbour.
    """
    import stumpy

    times = np.asarray(times, dtype=_NS)
    values = _values(times, values)
    if len(times) < 2:
        raise SimilarityError("a matrix profile needs a series of two samples or more")
    step = cadence([(times, values)])
    grid, matrix = regrid([(times, values)], times[0], times[-1] + step, step)
    m = int(np.timedelta64(window, "ns") // step)
    if m < MIN_WINDOW:
        raise SimilarityError(
            f"the window ({window}) spans {m} samples: give at least {MIN_WINDOW}"
        )
    if len(grid) < 2 * m:
        raise SimilarityError(
            f"the series ({len(grid)} samples) must be at least twice the window ({m})"
        )
    if matrix.shape[1] == 1:
        found = stumpy.stump(np.ascontiguousarray(matrix[:, 0]), m)
        profile = found[:, 0].astype(np.float64)
        index = found[:, 1].astype(np.int64)
    else:
        every, indices = stumpy.mstump(np.ascontiguousarray(matrix.T), m)
        profile = np.asarray(every[-1], dtype=np.float64)
        index = np.asarray(indices[-1], dtype=np.int64)
    missing = int(np.count_nonzero(~np.isfinite(profile)))
    if missing:
        logger.info("matrix profile: %d of %d windows over missing data", missing, len(profile))
    return grid[: len(profile)], profile, index


def motifs_and_discords(
    profile_times: np.ndarray, profile: np.ndarray, window: np.timedelta64, k: int
) -> tuple[EventList, EventList]:
    """The ``k`` lowest (motifs) and ``k`` highest (discords) windows of a profile.

    A motif is a window with a close twin elsewhere, so a motif's twin is usually the
    next motif found; a discord is the window least like any other. Neither list has
    overlapping windows; windows over missing data (``inf``) are in neither.
    """
    times = np.asarray(profile_times, dtype=_NS)
    window = np.timedelta64(window, "ns")
    profile = np.asarray(profile, dtype=np.float64)
    if len(times) != len(profile):
        raise SimilarityError(f"{len(times)} times for a profile of {len(profile)} values")
    if len(times) < 2:
        return EventList.empty(_ATTRIBUTES), EventList.empty(_ATTRIBUTES)
    step = np.median(np.diff(times.view(np.int64)))
    zone = max(1, math.ceil(int(window.astype(np.int64)) / step))
    finite = np.isfinite(profile)

    def events(picks: np.ndarray) -> EventList:
        return EventList(
            times[picks],
            times[picks] + window,
            {"distance": profile[picks], "rank": np.arange(1, len(picks) + 1)},
            units=dict(_UNITS),
            descriptions=_descriptions("its nearest other window"),
        )

    motifs = events(_top_k(np.where(finite, profile, np.inf), k, zone))
    discords = events(_top_k(np.where(finite, -profile, np.inf), k, zone))
    return motifs, discords
