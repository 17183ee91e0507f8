"""TT2000 <-> datetime64: against cdflib's own conversion, leap seconds and fill included."""

import numpy as np
import pytest
from cdflib.epochs import CDFepoch

from socstack.formats.tt2000 import from_tt2000, to_tt2000

TIMES = np.array(
    [
        "1972-07-01T00:00:00",
        "1999-12-31T23:59:59.999999999",
        "2000-01-01T12:00:00",
        "2016-12-31T23:59:59",
        "2017-01-01T00:00:00",
        "2017-01-01T00:00:00.000000001",
        "2025-03-02T12:34:56.789",
        "2039-12-31T23:59:59",
    ],
    dtype="datetime64[ns]",
)


def _cdflib(values: np.ndarray) -> np.ndarray:
    """cdflib's conversion, one value at a time (its leap-second table)."""
    return np.array([CDFepoch.to_datetime(int(v)) for v in values], dtype="datetime64[ns]").ravel()


def test_round_trip_agrees_with_cdflib_across_leap_seconds() -> None:
    tt = to_tt2000(TIMES)
    expected = np.array([CDFepoch.compute_tt2000(_parts(t)) for t in TIMES], dtype=np.int64)
    np.testing.assert_array_equal(tt, expected)
    np.testing.assert_array_equal(from_tt2000(tt), TIMES)
    np.testing.assert_array_equal(from_tt2000(tt), _cdflib(tt))


def _parts(stamp: np.datetime64) -> list[int]:
    text = str(stamp)
    date, clock = text.split("T")
    seconds, _, fraction = clock.partition(".")
    ns = int((fraction or "0").ljust(9, "0"))
    return [
        *map(int, date.split("-")),
        *map(int, seconds.split(":")),
        ns // 1_000_000,
        ns // 1000 % 1000,
        ns % 1000,
    ]


def test_after_the_last_leap_second_the_one_shift_is_the_table() -> None:
    """The fast path (every value after 2017) gives what the table lookup gives."""
    late = TIMES[TIMES >= np.datetime64("2017-01-01")]
    tt = to_tt2000(late)
    np.testing.assert_array_equal(tt, to_tt2000(np.concatenate([TIMES[:1], late]))[1:])
    with_early = from_tt2000(np.concatenate([to_tt2000(TIMES[:1]), tt]))[1:]  # the lookup
    np.testing.assert_array_equal(from_tt2000(tt), with_early)
    np.testing.assert_array_equal(from_tt2000(tt), late)


def test_the_leap_second_itself_maps_to_the_next_second() -> None:
    leap = CDFepoch.compute_tt2000([2016, 12, 31, 23, 59, 60, 0, 0, 0])
    assert from_tt2000(np.array([leap]))[0] == np.datetime64("2017-01-01T00:00:00", "ns")


def test_fill_is_nat_both_ways() -> None:
    fill = np.iinfo(np.int64).min
    values = np.array([fill, int(to_tt2000(TIMES[-1:])[0])])
    out = from_tt2000(values)
    assert np.isnat(out[0]) and out[1] == TIMES[-1]
    assert from_tt2000(np.array([fill])).dtype == np.dtype("datetime64[ns]")
    assert to_tt2000(np.array(["NaT"], dtype="datetime64[ns]"))[0] == fill
    assert len(from_tt2000(np.empty(0, np.int64))) == 0


def test_before_1972_is_refused() -> None:
    with pytest.raises(ValueError, match="1972"):
        to_tt2000(np.array(["1965-01-01"], dtype="datetime64[ns]"))
