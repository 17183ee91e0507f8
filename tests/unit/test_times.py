"""A column of HAPI times: the fixed-layout fast path agrees with the one-at-a-time parser.

A data response's times are decoded straight from their bytes (``_parse_fixed``); every
value it gives must be the parser's, and every time the parser refuses must leave the
fast path (to be refused with the parser's reason), or a peer's bad time would be
archived as a wrong one.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socstack.times import _parse_fixed, format_times, parse_time, parse_times

DAY = 86_400 * 10**9
FIRST = parse_time("1678-01-01")
LAST = parse_time("2261-12-31T23:59:59.999999999Z")


def _one_by_one(texts: list[str]) -> list[int]:
    return [parse_time(t) for t in texts]


def _column(texts: list[str]) -> np.ndarray:
    return np.array([t.encode() for t in texts])


def _doy(ns: int, digits: int) -> str:
    """``YYYY-DDDThh:mm:ss[.f]Z`` of a time, written independently of format_times."""
    seconds, nanos = divmod(ns, 10**9)
    when = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    fraction = f".{nanos:09d}"[: digits + 1] if digits else ""
    return f"{when:%Y-%jT%H:%M:%S}{fraction}Z"


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.integers(FIRST, LAST), min_size=1, max_size=300),
    st.integers(0, 9),
    st.booleans(),
)
def test_fast_path_gives_the_parsers_values(values: list[int], digits: int, ordered: bool) -> None:
    ns = np.array(sorted(values) if ordered else values, dtype=np.int64)
    column = format_times(ns, digits)
    fast = _parse_fixed(column)
    assert fast is not None  # the layout HAPI servers send takes the fast path
    assert fast.tolist() == _one_by_one([t.decode() for t in column])
    assert fast.tolist() == (ns - ns % 10 ** (9 - digits)).tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(FIRST, LAST), min_size=1, max_size=100), st.integers(0, 9))
def test_day_of_year_columns_take_the_fast_path(values: list[int], digits: int) -> None:
    texts = [_doy(v, digits) for v in sorted(values)]
    fast = _parse_fixed(_column(texts))
    assert fast is not None
    assert fast.tolist() == _one_by_one(texts)


def test_a_long_column_is_decoded_block_by_block_exactly() -> None:
    # Three days of 1 Hz at the millisecond: several blocks, runs of equal dates.
    ns = parse_time("2024-02-28T00:00:00.123Z") + np.arange(3 * 86_400, dtype=np.int64) * 10**9
    column = format_times(ns, 3)
    kept = column.copy()
    assert (parse_times(column) == ns).all()
    assert (column == kept).all()  # the caller's bytes are left as they were


@pytest.mark.parametrize(
    "texts",
    [
        ["2024-02-29T12:00:00.000Z", "2024-12-31T23:59:59.999Z"],  # leap year
        ["2000-02-29T00:00:00Z", "2100-02-28T00:00:00Z"],  # 400-year rule, 100-year rule
        ["2016-12-31T23:59:60.500Z"],  # a leap second reads as the next second
        ["2025-01-01T24:00:00.000Z"],  # the next midnight
        ["1678-01-01T00:00:00.000Z", "2261-12-31T23:59:59.999Z"],  # the int64 span's ends
        ["2024-366T23:59:59.5Z", "2025-001T00:00:00.0Z"],
        ["2025-01-01T00:00:00.123456789123Z"],  # digits beyond the ns are dropped
        ["2025-01-01T00:00:00.5", "2025-01-01T00:00:01.5"],  # no Z is still UTC
        ["2025-01-01T00:00:00"],
    ],
)
def test_edge_times_agree_with_the_parser(texts: list[str]) -> None:
    assert _parse_fixed(_column(texts)) is not None
    assert parse_times(_column(texts)).tolist() == _one_by_one(texts)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("2025-02-29T00:00:00.000Z", "day 29 outside 1..28"),
        ("2100-02-29T00:00:00.000Z", "day 29 outside 1..28"),
        ("2025-04-31T00:00:00.000Z", "day 31 outside 1..30"),
        ("2025-13-01T00:00:00.000Z", "month 13"),
        ("2025-00-10T00:00:00.000Z", "month 0"),
        ("2025-01-00T00:00:00.000Z", "day 0"),
        ("2025-365T00:00:00.000Z", None),  # fine in 2025; its neighbour below is not
        ("2025-366T00:00:00.000Z", "day of year 366"),
        ("2025-000T00:00:00.000Z", "day of year 0"),
        ("2025-01-01T00:60:00.000Z", "out of range"),
        ("2025-01-01T00:00:61.000Z", "out of range"),
        ("2025-01-01T25:00:00.000Z", "out of range"),
        ("2025-01-01T24:00:01.000Z", "hour 24"),
        ("2025-01-01T24:00:00.001Z", "hour 24"),
        ("1677-12-31T23:59:59.999Z", "year outside"),
        ("2262-01-01T00:00:00.000Z", "year outside"),
        ("2261-12-31T24:00:00.000Z", "year outside"),
        ("2025-01-0xT00:00:00.000Z", "not a HAPI time"),
        ("2025-01-01 00:00:00.000Z", "not a HAPI time"),
    ],
)
def test_a_bad_time_anywhere_leaves_the_fast_path(bad: str, reason: str | None) -> None:
    good = "2025-01-01T00:00:00.000Z" if "-" in bad[5:8] else "2025-001T00:00:00.000Z"
    column = _column([good, bad, good])
    if reason is None:
        assert parse_times(column).tolist() == _one_by_one([good, bad, good])
        return
    assert _parse_fixed(column) is None
    with pytest.raises(ValueError, match=reason):
        parse_times(column)
    with pytest.raises(ValueError, match=reason):
        parse_time(bad)


@pytest.mark.parametrize(
    "texts",
    [
        ["2025-01-01T00Z", "2025-01-02", "2025-002T12:00:00Z"],  # truncated and mixed
        ["2025-01-01T00:00:00Z", "2025-01-01T00:00:01.500Z"],  # ragged (NUL-padded)
        ["2025-01-01T00:00:01.500Z", "2025-01-01T00:00:00Z"],
        ["2025-01-01T00:00:00.000Z", "2025-002T00:00:00.000Z"],  # two layouts, one width
    ],
)
def test_other_columns_go_through_the_parser(texts: list[str]) -> None:
    column = _column(texts)
    assert _parse_fixed(column) is None
    assert parse_times(column).tolist() == _one_by_one(texts)
    assert parse_times(np.array(texts)).tolist() == _one_by_one(texts)  # str, not bytes


def test_a_strided_column_of_records_is_read_as_its_own_bytes() -> None:
    # A binary response's records: the times are every 56th to 80th byte of the buffer.
    records = np.zeros(5, dtype=[("time", "S24"), ("B", "<f8", (3,)), ("m", "<f8")])
    ns = parse_time("2025-06-30T23:59:58.000Z") + np.arange(5, dtype=np.int64) * 10**9
    records["time"] = format_times(ns, 3)
    records["B"] = 7.0
    assert parse_times(records["time"]).tolist() == ns.tolist()
    assert (records["B"] == 7.0).all()
