"""Similarity search and matrix profiles on series with planted answers.

Each series is a seeded random walk (no two stretches alike by chance) with a copy of
the query planted elsewhere, shifted, scaled and lightly noised: z-normalised search
must find it first and near distance 0. Gaps, NaN in the query, several parameters of
different cadences and bad requests are each checked against that known answer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import stumpy

from socstack._exceptions import SocError
from socstack.mining.events import EventList
from socstack.mining.similarity import (
    SimilarityError,
    cadence,
    day_profile,
    motifs_and_discords,
    regrid,
    search,
)

T0 = np.datetime64("2025-03-01T00:00:00", "ns")
MINUTE = np.timedelta64(60, "s")
HOUR = np.timedelta64(3600, "s")


def _walk(n: int, seed: int, components: int = 1) -> np.ndarray:
    return np.cumsum(np.random.default_rng(seed).normal(size=(n, components)), axis=0)


def _plant(values: np.ndarray, source: int, target: int, length: int, seed: int) -> None:
    """Copy ``values[source:source+length]`` to ``target``, offset, scaled and noised."""
    noise = np.random.default_rng(seed).normal(scale=0.01, size=(length, values.shape[1]))
    values[target : target + length] = 40 + 3 * values[source : source + length] + noise


def _overlaps(found: EventList, start: np.datetime64, stop: np.datetime64) -> bool:
    return bool(np.any((found.start < stop) & (found.stop > start)))


def _best(found: EventList) -> tuple[np.datetime64, float]:
    first = int(np.flatnonzero(found.attributes["rank"] == 1)[0])
    return found.start[first], float(found.attributes["distance"][first])


@pytest.fixture
def minutes() -> tuple[np.ndarray, np.ndarray]:
    """Four days at 60 s, the query 06:00-07:00 of day 1 planted on day 3 at 13:00."""
    n = 4 * 1440
    values = _walk(n, seed=7)
    _plant(values, 360, 2 * 1440 + 780, 60, seed=8)
    return T0 + np.arange(n) * MINUTE, values


def test_a_planted_copy_is_found_first_and_not_the_query(minutes) -> None:
    times, values = minutes
    q0, q1 = times[360], times[420]
    found = search([(times, values)], q0, q1, times[0], times[-1] + MINUTE, k=5)
    start, distance = _best(found)
    assert start == T0 + np.timedelta64(2, "D") + 13 * HOUR
    assert distance < 0.1  # the noise alone
    others = found.attributes["distance"][found.attributes["rank"] > 1]
    assert others.min() > 1.5, "a random walk elsewhere is not that close"
    assert not _overlaps(found, q0, q1), "the query is not a result"
    assert np.all(found.stop - found.start == q1 - q0)
    assert found.units["distance"] and found.descriptions["distance"]


def test_several_parameters_of_different_cadences_are_compared_together() -> None:
    """A scalar at 60 s and a 3-vector at 20 s: the copy in all of them beats the copy in
    the scalar alone, which is the better match of the scalar by itself."""
    n = 3 * 1440
    scalar_times = T0 + np.arange(n) * MINUTE
    scalar = _walk(n, seed=1)
    vector_times = T0 + np.timedelta64(5, "s") + np.arange(3 * n) * np.timedelta64(20, "s")
    vector = _walk(3 * n, seed=2, components=3)
    source, everywhere, scalar_only = 300, 1000, 2500  # minutes from T0
    _plant(scalar, source, everywhere, 60, seed=3)
    _plant(vector, 3 * source, 3 * everywhere, 180, seed=4)
    scalar[scalar_only : scalar_only + 60] = 0.5 * scalar[source : source + 60] - 7  # exact
    series = [(scalar_times, scalar), (vector_times, vector)]
    q0, q1 = scalar_times[source], scalar_times[source + 60]
    stop = scalar_times[-1] + MINUTE

    alone = search(series[:1], q0, q1, T0, stop, k=3)
    assert _best(alone)[0] == scalar_times[scalar_only]
    together = search(series, q0, q1, T0, stop, k=3)
    start, distance = _best(together)
    assert start == scalar_times[everywhere]
    assert distance < 0.2
    assert not _overlaps(together, q0, q1)


def test_gaps_and_missing_query_points_neither_leak_nor_block(minutes) -> None:
    times, values = minutes
    values = values.copy()
    gap = (1440 + 200, 1440 + 260)  # an hour of fill (NaN)
    values[gap[0] : gap[1]] = np.nan
    # an exact copy of the query but for 3 missing points: in the top 10, were they filled
    holed = (1440 + 600, 1440 + 660)
    values[holed[0] : holed[1]] = values[360:420]
    values[holed[0] + 30 : holed[0] + 33] = np.nan
    hole = (3 * 1440 + 100, 3 * 1440 + 400)  # five hours without records at all
    keep = np.ones(len(times), bool)
    keep[hole[0] : hole[1]] = False
    values[[365, 371, 372, 399]] = np.nan  # a few points missing in the query
    values[500:600] = 3.0  # a stuck sensor: constant windows
    q0, q1 = times[360], times[420]
    found = search([(times[keep], values[keep])], q0, q1, T0, times[-1] + MINUTE, k=10)
    distances = found.attributes["distance"]
    assert len(found) == 10
    assert np.all(np.isfinite(distances))
    start, best = _best(found)
    assert start == T0 + np.timedelta64(2, "D") + 13 * HOUR
    assert best < 1 < 2 * best < np.sort(distances)[1]  # the 4 filled points cost a little
    assert not _overlaps(found, times[gap[0]], times[gap[1]])
    assert not _overlaps(found, times[holed[0] + 30], times[holed[0] + 33])
    assert not _overlaps(found, times[hole[0]], times[hole[1]])


def test_the_top_k_are_distinct_ranked_and_ascending(minutes) -> None:
    times, values = minutes
    q0, q1 = times[2000], times[2090]
    found = search([(times, values)], q0, q1, times[0], times[-1] + MINUTE, k=10)
    assert len(found) == 10
    order = np.argsort(found.attributes["rank"])
    assert list(found.attributes["rank"][order]) == list(range(1, 11))
    assert np.all(np.diff(found.attributes["distance"][order]) >= 0)
    starts = np.sort(found.start)
    assert np.all(np.diff(starts) >= q1 - q0), "results overlap each other"
    assert not _overlaps(found, q0, q1)


def test_fewer_candidates_than_k_give_what_there_is(minutes) -> None:
    times, values = minutes
    q0, q1 = times[60], times[120]
    found = search([(times, values)], q0, q1, times[0], times[240], k=10)
    assert 1 <= len(found) <= 3  # 4 hours hold at most 3 hours that avoid the query
    assert not _overlaps(found, q0, q1)


def test_regrid_averages_bins_fills_jitter_and_keeps_gaps() -> None:
    seconds = np.arange(0, 3600, 1.0)
    times = T0 + (seconds * 1e9).astype("timedelta64[ns]")
    fast = np.sin(2 * np.pi * seconds / 600)[:, None]
    jitter = np.random.default_rng(0).uniform(-2, 2, 60)
    slow_times = T0 + ((np.arange(60) * 60 + 30 + jitter) * 1e9).astype("timedelta64[ns]")
    slow = np.arange(60.0)[:, None]
    keep = np.ones(60, bool)
    keep[[10, 20, 21]] = False  # one and two missing: filled
    keep[30:35] = False  # five missing: a gap
    series = [(times, fast), (slow_times[keep], slow[keep])]
    assert abs(cadence(series) - MINUTE) < np.timedelta64(1, "s")  # the coarser one
    grid, matrix = regrid(series, T0, T0 + HOUR, MINUTE)
    assert len(grid) == 60 and grid[1] - grid[0] == MINUTE
    assert np.allclose(matrix[:, 0], fast[:, 0].reshape(60, 60).mean(axis=1))
    assert np.allclose(matrix[[10, 20, 21], 1], [10, 20, 21])
    assert np.isnan(matrix[30:35, 1]).all()
    assert np.isfinite(np.delete(matrix[:, 1], range(30, 35))).all()


def test_the_distance_profile_is_stumpy_s_own(minutes) -> None:
    """The window statistics made in O(n) give what stumpy.mass makes of them itself,
    over gaps and constant stretches; and far from zero (where stumpy's own, given the
    raw series, is off by 2e-3) as near it."""
    from socstack.mining.similarity import _distance_profile

    values = 30_000 + minutes[1][:3000, 0]
    values[700:705] = np.nan
    values[1200:1300] = values[1200]
    values[2000:2100] = np.nan
    query = values[100:160].copy()
    ours = _distance_profile(query, values)
    theirs = stumpy.mass(query - 30_000, values - 30_000)
    assert np.array_equal(np.isinf(ours), np.isinf(theirs))
    assert np.isinf(ours[641:705]).all() and np.isfinite(ours[705:1200]).all()
    assert np.allclose(ours[np.isfinite(ours)], theirs[np.isfinite(theirs)], atol=1e-4)
    assert ours[1200] == pytest.approx(math.sqrt(60))  # a constant window: stumpy's answer
    flat = _distance_profile(np.full(60, 3.0), values)
    assert flat[1200] == 0 and flat[1240] == 0 and flat[0] == pytest.approx(math.sqrt(60))


def _bad(times: np.ndarray, values: np.ndarray, **change: object) -> None:
    call = {
        "series": [(times, values)],
        "query_start": times[360],
        "query_stop": times[420],
        "range_start": times[0],
        "range_stop": times[-1] + MINUTE,
        **change,
    }
    search(**call)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"query_start": T0 - HOUR, "query_stop": T0}, "not inside the range"),
        ({"range_start": T0 + 10 * HOUR}, "not inside the range"),
        (
            {"range_start": T0 + 6 * HOUR + 10 * MINUTE, "range_stop": T0 + 6 * HOUR + 40 * MINUTE},
            "shorter than the query",
        ),
        ({"query_stop": T0 + 6 * HOUR + 5 * MINUTE}, "spans 5 samples of 60 s"),
        ({"query_stop": T0 + 5 * HOUR}, "must end after it starts"),
    ],
)
def test_bad_requests_say_what_is_wrong(minutes, change, message) -> None:
    with pytest.raises(SimilarityError, match=message):
        _bad(*minutes, **change)


@pytest.mark.parametrize(("missing", "shown"), [(60, "100%"), (15, "25%")])
def test_a_mostly_missing_query_is_refused(minutes, missing, shown) -> None:
    times, values = minutes
    values = values.copy()
    values[360 : 360 + missing] = np.nan
    with pytest.raises(SocError, match=f"the query is {shown} missing data") as caught:
        _bad(times, values)
    assert isinstance(caught.value, SimilarityError)
    assert "\n" not in str(caught.value)


def test_a_parameter_without_data_is_refused(minutes) -> None:
    times, values = minutes
    with pytest.raises(SimilarityError, match="parameter 2 of 2 has no data"):
        search(
            [(times, values), (times, np.full_like(values, np.nan))],
            times[360],
            times[420],
            times[0],
            times[-1],
        )


def _profile_by_mass(series: np.ndarray, m: int) -> np.ndarray:
    """The matrix profile the slow way: one MASS per window, stumpy's exclusion zone."""
    zone = math.ceil(m / 4)
    out = np.empty(len(series) - m + 1)
    for i in range(len(out)):
        distances = stumpy.mass(series[i : i + m], series)
        distances[max(0, i - zone) : i + zone + 1] = np.inf
        out[i] = distances.min()
    return out


@pytest.fixture(scope="module")
def planted_day() -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """300 minutes of a random walk with one 20-minute motif twice and one burst, and
    its matrix profile (made once: it is the costly part)."""
    values = _walk(300, seed=11)[:, 0]
    values[250:270] = values[50:70] - values[50] + values[249]  # the motif, continuous
    values[150:160] += 8 * np.array([1, -1] * 5)  # an anomaly: a burst
    return T0 + np.arange(300) * MINUTE, values, 20, _profile_by_mass(values, 20)


def test_motifs_and_discords_find_the_planted_ones(planted_day) -> None:
    times, _, m, profile = planted_day
    motifs, discords = motifs_and_discords(times[: len(profile)], profile, m * MINUTE, 3)
    best = np.argsort(motifs.attributes["rank"])[:2]
    assert sorted(motifs.start[best]) == [times[50], times[250]]
    assert motifs.attributes["distance"][best].max() < 1e-6
    assert list(np.sort(motifs.attributes["rank"])) == [1, 2, 3]
    worst = int(np.flatnonzero(discords.attributes["rank"] == 1)[0])
    assert discords.start[worst] < times[160] and discords.stop[worst] > times[150]
    for found in (motifs, discords):
        starts = np.sort(found.start)
        assert np.all(np.diff(starts) >= m * MINUTE)


def test_motifs_and_discords_skip_windows_over_missing_data(planted_day) -> None:
    times, _, m, profile = planted_day
    profile = profile.copy()
    profile[140:161] = np.inf  # as stumpy marks windows over a gap
    motifs, discords = motifs_and_discords(times[: len(profile)], profile, m * MINUTE, 5)
    for found in (motifs, discords):
        assert np.all(np.isfinite(found.attributes["distance"]))
        assert not np.any((found.start >= times[140]) & (found.start <= times[160]))


@pytest.mark.slow  # stumpy.stump's first call compiles for about 35 s
def test_day_profile_is_stumpy_s_matrix_profile(planted_day) -> None:
    times, values, m, expected = planted_day
    profile_times, profile, index = day_profile(times, values, m * MINUTE)
    assert np.allclose(profile, expected, atol=1e-6)
    assert profile_times[0] == times[0] and len(profile) == len(values) - m + 1
    assert index[50] == 250 and index[250] == 50

    gappy = values.copy()
    gappy[100:105] = np.nan
    _, profile, index = day_profile(times, gappy, m * MINUTE)
    assert np.isinf(profile[81:105]).all() and np.all(index[81:105] == -1)
    assert np.isfinite(np.delete(profile, range(81, 105))).all()

    vector = np.stack([values, 2 * values + 1, -values], axis=1)
    _, profile, index = day_profile(times, vector, m * MINUTE)
    assert profile.shape == (len(values) - m + 1,)
    assert index[50] == 250 and profile[50] < 1e-3
