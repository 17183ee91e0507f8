"""The built-in detectors on synthetic series whose events are known by construction.

Every series is made here (seeded noise where there is any), so each case states the
exact events it expects: threshold hysteresis, minimum duration and gaps; a shock's time
and its criteria; changepoint levels; and parameters refused at validation.
"""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from socstack._exceptions import NotFoundError
from socstack.mining.detectors import (
    DETECTORS,
    ChangepointParameters,
    DetectorError,
    Series,
    ShockParameters,
    ThresholdParameters,
    get_detector,
)
from socstack.mining.events import EventList

T0 = np.datetime64("2024-03-01T00:00:00", "ns")
SECOND = np.timedelta64(1_000_000_000, "ns")


def _times(n: int, cadence_s: int = 1) -> np.ndarray:
    return T0 + np.arange(n) * cadence_s * SECOND


def _seconds(times: np.ndarray) -> list[float]:
    """Times as seconds after T0."""
    return ((times - T0) / SECOND).tolist()


def _threshold(values: np.ndarray, **parameters: object) -> EventList:
    series = Series(_times(len(values)), values)
    return get_detector("threshold").detect({"value": series}, parameters)


# -- threshold ------------------------------------------------------------------------------


def _plateau() -> np.ndarray:
    """0 baseline; 10 over [100, 200) with a dip to 3 (inside the 2..5 band) over [150, 160)."""
    x = np.zeros(600)
    x[100:200] = 10.0
    x[150:160] = 3.0
    return x


def test_threshold_hysteresis_keeps_a_dip_into_the_band_in_one_event() -> None:
    events = _threshold(_plateau(), above=5, below=2)
    assert _seconds(events.start) == [100.0]
    assert _seconds(events.stop) == [199.0]
    assert events.attributes["peak"].tolist() == [10.0]
    assert events.attributes["mean"].tolist() == pytest.approx([(90 * 10 + 10 * 3) / 100])
    assert events.attributes["duration"].tolist() == [99.0]
    assert events.name == "threshold"
    assert events.units == {"duration": "s"}


def test_threshold_without_hysteresis_splits_at_the_dip() -> None:
    events = _threshold(_plateau(), above=5)
    assert _seconds(events.start) == [100.0, 160.0]
    assert _seconds(events.stop) == [149.0, 199.0]


def test_threshold_starts_only_above_the_upper_level() -> None:
    x = np.zeros(300)
    x[50:100] = 4.0  # in the band: never starts an event
    x[120:130] = 6.0
    x[130:140] = 3.0  # still in the band: the event goes on
    x[140] = 1.0  # below the lower level: it ends at the sample before
    events = _threshold(x, above=5, below=2)
    assert _seconds(events.start) == [120.0]
    assert _seconds(events.stop) == [139.0]
    assert events.attributes["peak"].tolist() == [6.0]


def test_threshold_drops_events_shorter_than_min_duration() -> None:
    x = _plateau()
    x[300:303] = 10.0  # 2 s long
    x[400:411] = 10.0  # exactly 10 s long: kept
    events = _threshold(x, above=5, below=2, min_duration="PT10S")
    assert _seconds(events.start) == [100.0, 400.0]
    assert _seconds(events.stop) == [199.0, 410.0]
    everything = _threshold(x, above=5, below=2)
    assert _seconds(everything.start) == [100.0, 300.0, 400.0]


def test_threshold_direction_below_finds_low_values() -> None:
    x = np.full(300, 10.0)
    x[100:150] = 1.0
    x[120:130] = 4.0  # in the band 2..5: the low stretch goes on
    events = _threshold(x, below=2, above=5, direction="below")
    assert _seconds(events.start) == [100.0]
    assert _seconds(events.stop) == [149.0]
    assert events.attributes["peak"].tolist() == [1.0]


def test_threshold_nan_gaps_make_no_events() -> None:
    x = np.zeros(600)
    x[200:400] = np.nan
    assert len(_threshold(x, above=5)) == 0


def test_threshold_a_long_gap_ends_an_event_and_a_short_one_does_not() -> None:
    x = _plateau()
    x[150:160] = 10.0
    x[130:161] = np.nan  # 31 s between the valid samples 129 and 161
    long_gap = _threshold(x, above=5, below=2, max_gap="PT10S")
    assert _seconds(long_gap.start) == [100.0, 161.0]
    assert _seconds(long_gap.stop) == [129.0, 199.0]
    short_gap = _threshold(x, above=5, below=2, max_gap="PT1M")
    assert _seconds(short_gap.start) == [100.0]
    assert _seconds(short_gap.stop) == [199.0]


def test_threshold_after_a_long_gap_the_value_must_cross_again() -> None:
    x = _plateau()
    x[130:161] = np.nan
    x[161:200] = 3.0  # back in the band after the gap: no event resumes
    events = _threshold(x, above=5, below=2, max_gap="PT10S")
    assert _seconds(events.start) == [100.0]
    assert _seconds(events.stop) == [129.0]


def test_threshold_uses_a_vector_by_its_magnitude() -> None:
    v = np.zeros((200, 3))
    v[50:80] = [3.0, 4.0, 0.0]  # magnitude 5
    events = get_detector("threshold").detect(
        {"value": Series(_times(200), v)}, {"above": 4.5, "below": 1}
    )
    assert _seconds(events.start) == [50.0]
    assert _seconds(events.stop) == [79.0]
    assert events.attributes["peak"].tolist() == [5.0]


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("fill", ["empty", "nan"])
def test_empty_or_all_nan_input_gives_an_empty_typed_list(name: str, fill: str) -> None:
    detector = get_detector(name)
    n = 0 if fill == "empty" else 500
    series = Series(_times(n), np.full(n, np.nan))
    parameters = {"above": 1.0} if name == "threshold" else {}
    events = detector.detect(dict.fromkeys(detector.roles, series), parameters)
    assert len(events) == 0
    assert events.start.dtype == np.dtype("datetime64[ns]")
    assert events.stop.dtype == np.dtype("datetime64[ns]")
    assert list(events.attributes) == list(detector.attributes)
    assert {k: v.dtype for k, v in events.attributes.items()} == {
        k: np.dtype(t) for k, t in detector.attributes.items()
    }


# -- shock ----------------------------------------------------------------------------------

SHOCK_AT = T0 + 3617 * SECOND  # 01:00:17, off the 4 s plasma grid


def _shock_series(density_after: float = 10.0) -> dict[str, Series]:
    """Two hours, plasma at 4 s and field at 1 s, one step at SHOCK_AT in every series."""
    rng = np.random.default_rng(20240301)
    plasma, field = _times(1800, 4), _times(7200, 1)

    def step(t: np.ndarray, before: float, after: float, noise: float) -> np.ndarray:
        return np.where(t >= SHOCK_AT, after, before) + rng.normal(0.0, noise, len(t))

    return {
        "density": Series(plasma, step(plasma, 5.0, density_after, 0.1)),
        "speed": Series(plasma, step(plasma, -400.0, -450.0, 3.0)),  # GSE Vx: negative
        "field": Series(field, step(field, 5.0, 10.0, 0.2)),
        "temperature": Series(plasma, step(plasma, 1e5, 2e5, 2e3)),
    }


def test_shock_finds_the_step_within_a_minute() -> None:
    events = get_detector("shock").detect(_shock_series())
    assert len(events) == 1
    assert abs((events.start[0] - SHOCK_AT) / SECOND) <= 60
    assert events.stop[0] == events.start[0]  # a moment: zero length
    attributes = next(iter(events)).attributes
    assert attributes["b_ratio"] == pytest.approx(2.0, abs=0.05)
    assert attributes["n_ratio"] == pytest.approx(2.0, abs=0.05)
    assert attributes["dv"] == pytest.approx(50.0, abs=2.0)
    assert attributes["t_ratio"] == pytest.approx(2.0, abs=0.05)
    assert events.units == {"dv": "km/s"}


def test_shock_without_temperature_has_nan_t_ratio() -> None:
    series = _shock_series()
    del series["temperature"]
    events = get_detector("shock").detect(series)
    assert len(events) == 1
    assert abs((events.start[0] - SHOCK_AT) / SECOND) <= 60
    assert np.isnan(events.attributes["t_ratio"][0])


def test_shock_a_density_step_below_the_ratio_is_no_shock() -> None:
    weak = _shock_series(density_after=5.5)  # N ratio 1.1 < 1.2
    assert len(get_detector("shock").detect(weak)) == 0
    # the same series passes once the criterion is loosened: the density was the reason
    loose = get_detector("shock").detect(weak, {"min_n_ratio": 1.05})
    assert len(loose) == 1


def test_shock_needs_its_series() -> None:
    series = _shock_series()
    del series["field"]
    with pytest.raises(DetectorError, match="'field'"):
        get_detector("shock").detect(series)
    with pytest.raises(DetectorError, match="no series 'pressure'"):
        get_detector("shock").detect({**_shock_series(), "pressure": series["density"]})


# -- changepoint ----------------------------------------------------------------------------

LEVELS = (5.0, 10.0, 3.0)


def _levels(shifts_s: tuple[int, int]) -> Series:
    """Six hours at 10 s: LEVELS with shifts at ``shifts_s``, Gaussian noise of 0.5."""
    rng = np.random.default_rng(7)
    t = _times(2160, 10)
    seconds = np.arange(2160) * 10.0
    x = np.select([seconds < shifts_s[0], seconds < shifts_s[1]], LEVELS[:2], LEVELS[2])
    return Series(t, x + rng.normal(0.0, 0.5, len(t)))


def _check_two_shifts(events: EventList, shifts_s: tuple[int, int]) -> None:
    assert len(events) == 2
    for start, stop, shift in zip(
        _seconds(events.start), _seconds(events.stop), shifts_s, strict=True
    ):
        assert abs(start - shift) <= 60
        assert abs(stop - shift) <= 60
        assert start <= stop
    before, after, jump = (events.attributes[k] for k in ("before", "after", "jump"))
    assert before.tolist() == pytest.approx(LEVELS[:2], abs=0.1)
    assert after.tolist() == pytest.approx(LEVELS[1:], abs=0.1)
    assert jump.tolist() == pytest.approx((after - before).tolist())
    assert jump.tolist() == pytest.approx([5.0, -7.0], abs=0.15)


def test_changepoint_finds_two_shifts_on_bin_edges_exactly() -> None:
    shifts = (7200, 14400)  # 02:00 and 04:00, on the 1-minute bins
    events = get_detector("changepoint").detect({"value": _levels(shifts)})
    _check_two_shifts(events, shifts)
    # adjacent bins: the change is a moment, at the shift itself
    assert _seconds(events.start) == [7200.0, 14400.0]
    assert _seconds(events.stop) == [7200.0, 14400.0]


@pytest.mark.xfail(
    reason="a shift inside a resample bin leaves one mixed bin, which the default l2"
    " penalty (2 sigma^2 ln n) pays to cut off as an extra min_size segment: a spurious"
    " third change ~10 min from the real one, and more often the stronger the step",
    strict=True,
)
def test_changepoint_finds_two_shifts_between_bin_edges() -> None:
    shifts = (7225, 14410)  # 02:00:25 and 04:00:10, inside 1-minute bins
    events = get_detector("changepoint").detect({"value": _levels(shifts)})
    _check_two_shifts(events, shifts)


def test_changepoint_on_a_flat_series_finds_nothing() -> None:
    rng = np.random.default_rng(11)
    flat = Series(_times(2160, 10), 5.0 + rng.normal(0.0, 0.5, 2160))
    assert len(get_detector("changepoint").detect({"value": flat})) == 0


# -- parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parameters", "field"),
    [
        ("threshold", {"above": 1.0, "colour": "red"}, "colour"),
        ("threshold", {"above": 1.0, "min_duration": "5 minutes"}, "min_duration"),
        ("threshold", {"above": 1.0, "max_gap": "PT"}, "max_gap"),
        ("threshold", {"above": 1.0, "below": 2.0}, "below"),
        ("threshold", {}, "above"),
        ("threshold", {"direction": "below", "above": 1.0}, "below"),
        ("shock", {"window": "8 min"}, "window"),
        ("shock", {"min_b_ratio": -1.0}, "min_b_ratio"),
        ("shock", {"min_coverage": 1.5}, "min_coverage"),
        ("shock", {"threshold": 3}, "threshold"),
        ("changepoint", {"penalty": -3.0}, "penalty"),
        ("changepoint", {"penalty": 0}, "penalty"),
        ("changepoint", {"model": "l3"}, "model"),
        ("changepoint", {"resample": "1m"}, "resample"),
        ("changepoint", {"min_size": "PT10M", "jump": 5}, "jump"),
    ],
)
def test_bad_parameters_are_refused_at_validation(
    name: str, parameters: dict[str, object], field: str
) -> None:
    with pytest.raises(ValidationError, match=field):
        get_detector(name).validate(parameters)


def test_good_parameters_validate_to_the_detector_models() -> None:
    threshold = get_detector("threshold").validate({"above": 5, "min_duration": "PT5M"})
    assert isinstance(threshold, ThresholdParameters)
    assert threshold.band() == (5.0, 5.0)
    assert isinstance(get_detector("shock").validate(None), ShockParameters)
    changepoint = get_detector("changepoint").validate({"penalty": 2.5, "model": "l1"})
    assert isinstance(changepoint, ChangepointParameters)
    assert (changepoint.penalty, changepoint.model) == (2.5, "l1")


def test_unknown_detector_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="changepoint, matrix_profile, shock, threshold"):
        get_detector("spike")
