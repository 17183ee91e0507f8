"""The viz's data path without a browser: time columns, reduction, figures, the cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socstack.client.hapi import Table
from socstack.times import format_times, parse_time, parse_times
from socstack.viz.cache import TableCache
from socstack.viz.figures import (
    PANEL_PX,
    NoDataError,
    PanelData,
    build_figure,
    figure_height,
    parameter_specs,
)
from socstack.viz.links import Panel
from socstack.viz.reduce import envelope, rebin
from socstack.viz.viewer import summary_covers

S = 1_000_000_000
T0 = parse_time("2025-01-01")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(-(10**18), 4 * 10**18), min_size=1, max_size=50),
    st.integers(0, 9),
)
def test_a_column_of_times_reads_back_exactly(values: list[int], digits: int) -> None:
    ns = np.array(sorted(values), dtype=np.int64)
    text = format_times(ns, digits)
    kept = ns - ns % 10 ** (9 - digits)
    assert (parse_times(text) == kept).all()
    # The same through the one-at-a-time parser, and as str instead of bytes.
    assert [parse_time(t.decode()) for t in text] == kept.tolist()
    assert (parse_times(text.astype(str)) == kept).all()


def test_day_of_year_mixed_and_truncated_columns() -> None:
    doy = np.array(["2025-032T23:59:59.5Z", "2024-366T00:00:00.5Z"])
    assert parse_times(doy).tolist() == [parse_time(t) for t in doy]
    mixed = np.array(["2025-01-01T00Z", "2025-01-02", "2025-002T12:00:00Z"])
    assert parse_times(mixed).tolist() == [parse_time(t) for t in mixed]
    assert parse_times(np.array(["2025-01-01T24:00:00Z"]))[0] == parse_time("2025-01-02")
    with pytest.raises(ValueError, match="month 13"):
        parse_times(np.array(["2025-13-01T00:00:00Z", "2025-01-01T00:00:00Z"]))


def _series(seconds: int, gap: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    t = T0 + np.arange(seconds, dtype=np.int64) * S
    v = np.stack([np.sin(np.arange(seconds) / 500), np.arange(seconds) % 97], axis=1)
    if gap:
        keep = (np.arange(seconds) < gap[0]) | (np.arange(seconds) >= gap[1])
        t, v = t[keep], v[keep]
    return t, np.asfortranarray(v)


def test_the_envelope_keeps_every_peak_and_never_exceeds_the_columns() -> None:
    t, v = _series(86_400)
    v[40_000, 0] = 50.0  # one spike in a day of samples
    line = envelope(t, v, T0, T0 + 86_400 * S, columns=800)
    assert line.reduced
    assert len(line.x) <= 2 * 800
    assert np.nanmax(line.y[:, 0]) == 50.0
    assert np.nanmin(line.y[:, 1]) == 0 and np.nanmax(line.y[:, 1]) == 96
    assert (np.diff(line.x) >= 0).all()


def test_an_envelope_from_minute_extremes_is_the_envelope_of_the_seconds() -> None:
    t, v = _series(86_400)
    v[40_000, 0] = 50.0
    minutes = v.reshape(1440, 60, 2)
    tm = t[::60]
    low, high = np.asfortranarray(minutes.min(axis=1)), np.asfortranarray(minutes.max(axis=1))
    for columns in (48, 96, 720):  # columns of 30, 15 and 2 minutes
        exact = envelope(t, v, T0, T0 + 86_400 * S, columns=columns)
        drawn = envelope(tm, low, T0, T0 + 86_400 * S, columns=columns, upper=high)
        assert drawn.reduced and drawn.y.shape == exact.y.shape == (2 * columns, 2)
        np.testing.assert_array_equal(drawn.y, exact.y)
        np.testing.assert_array_equal(drawn.x[0::2], exact.x[0::2])  # each column's start
    # Plain minute means would lose the spike: the summary's extremes keep it.
    means = envelope(tm, minutes.mean(axis=1), T0, T0 + 86_400 * S, columns=48)
    assert np.nanmax(means.y[:, 0]) < 2


def test_a_summary_is_used_only_where_it_covers_the_data() -> None:
    data = {"startDate": "2025-01-01T00:00:00Z", "stopDate": "2025-12-31T00:00:00Z"}
    lagging = {"startDate": "2025-01-01T00:00:00Z", "stopDate": "2025-12-30T00:00:00Z"}
    year = (parse_time("2025-01-01"), parse_time("2026-01-01"))
    assert summary_covers(data, data, *year)
    assert not summary_covers(lagging, data, *year), "the last day is not summarized yet"
    assert summary_covers(lagging, data, parse_time("2025-02-01"), parse_time("2025-03-01"))
    assert not summary_covers({}, data, *year), "no coverage given"


def test_a_gap_breaks_the_line_reduced_or_not() -> None:
    t, v = _series(86_400, gap=(30_000, 40_000))
    reduced = envelope(t, v, T0, T0 + 86_400 * S, columns=500)
    assert np.isnan(reduced.y[:, 0]).sum() == 1
    raw = envelope(t, v, T0 + 29_500 * S, T0 + 40_200 * S, columns=800)
    assert not raw.reduced and len(raw.x) == 700 + 1
    assert np.isnan(raw.y[:, 0]).sum() == 1
    # A step of two cadences is no gap.
    t2 = np.delete(t, [100])
    assert not np.isnan(envelope(t2, v[:-1], T0, T0 + 1000 * S, columns=800).y).any()


def test_rebinned_spectra_average_each_column_and_leave_empty_ones_empty() -> None:
    t = T0 + np.arange(0, 3600, 4, dtype=np.int64) * S  # 900 spectra
    z = np.tile(np.arange(1.0, 9.0), (len(t), 1)) * (1 + np.arange(len(t)))[:, None]
    z[5, 2] = np.nan  # a fill value
    spectrum = rebin(t, z, T0, T0 + 7200 * S, columns=100)
    assert spectrum.z.shape == (100, 8)
    assert np.isnan(spectrum.z[50:]).all()  # the second hour has no data
    first = z[:18]  # 72 s per column: 18 spectra
    assert spectrum.z[0, 0] == pytest.approx(first[:, 0].mean())
    assert spectrum.z[0, 2] == pytest.approx(np.nanmean(first[:, 2]))


INFO = {
    "HAPI": "3.3",
    "parameters": [
        {"name": "Time", "type": "isotime", "length": 24, "units": "UTC", "fill": None},
        {"name": "B", "type": "double", "size": [2], "units": "nT", "fill": "-1e31",
         "label": ["Bx", "By"]},
        {"name": "flux", "type": "double", "size": [3], "units": "1/eV", "fill": None,
         "bins": [{"name": "energy", "units": "eV", "ranges": [[10, 20], [20, 40], [40, 80]]}]},
        {"name": "counts", "type": "double", "size": [3], "fill": None,
         "bins": [{"name": "energy", "units": "eV", "centers": "energy_now"}]},
        {"name": "energy_now", "type": "double", "size": [3], "units": "eV", "fill": None},
    ],
}  # fmt: skip


def _table(n: int = 600) -> Table:
    t = T0 + np.arange(n, dtype=np.int64) * S
    b = np.ones((n, 2))
    b[10, 0] = -1e31
    energies = np.where(np.arange(n)[:, None] < n // 2, [1.0, 2.0, 4.0], [2.0, 4.0, 8.0])
    return Table(
        t,
        {
            "B": b,
            "flux": np.ones((n, 3)),
            "counts": np.full((n, 3), 5.0),
            "energy_now": energies,
        },
    )


def _panels(names: list[str], table: Table, **options: object) -> list[PanelData]:
    specs = parameter_specs(INFO)
    return [PanelData(Panel("d", name, **options), specs[name], table) for name in names]  # type: ignore[arg-type]


def test_a_figure_stacks_lines_and_spectrograms_from_the_info() -> None:
    figure, stats = build_figure(
        _panels(["B", "flux", "counts"], _table()), (T0, T0 + 600 * S), columns=1000
    )
    kinds = [(t.type, t.name) for t in figure.data]
    assert kinds[:2] == [("scatter", "Bx"), ("scatter", "By")]
    # The fill value is a gap, not a point at -1e31.
    assert np.isnan(figure.data[0].y[10]) and np.nanmin(figure.data[0].y) == 1
    heatmaps = [t for t in figure.data if t.type == "heatmap"]
    # flux: one trace with edges from the ranges; counts: one per stretch of constant bins.
    assert len(heatmaps) == 3
    assert list(heatmaps[0].y) == [10, 20, 40, 80]
    assert figure.layout.yaxis2.type == "log" and figure.layout.yaxis3.type == "log"
    assert figure.layout.yaxis.title.text == "B (nT)"
    assert stats.records == {"d": 600} and not stats.reduced


def test_the_figure_grows_with_its_panels_and_nothing_overlaps() -> None:
    for count in (1, 2, 4, 6):
        names = (["B", "flux", "counts"] * 2)[:count]
        figure, _ = build_figure(_panels(names, _table()), (T0, T0 + 600 * S))
        assert figure.layout.height == figure_height(count)
        plot = figure.layout.height - figure.layout.margin.t - figure.layout.margin.b
        axes = [figure.layout["yaxis" if k == 0 else f"yaxis{k + 1}"] for k in range(count)]
        spans = sorted((a.domain[0] * plot, a.domain[1] * plot) for a in axes)
        # Every panel as tall as PANEL_PX pixels, whatever their number; gaps between.
        assert all(abs((top - bottom) - PANEL_PX) < 1 for bottom, top in spans)
        assert all(spans[k][1] < spans[k + 1][0] for k in range(count - 1))
        # A colour bar per spectrogram, as tall as its panel and beside it.
        bars = [t.colorbar for t in figure.data if t.type == "heatmap" and t.showscale]
        assert len(bars) == names.count("flux") + names.count("counts")
        for bar in bars:
            assert any(
                abs((bar.y - bar.len / 2) * plot - bottom) < 1
                and abs((bar.y + bar.len / 2) * plot - top) < 1
                for bottom, top in spans
            )


def test_a_panel_keeps_its_scale_and_range() -> None:
    window = (T0, T0 + 600 * S)
    logged, _ = build_figure(_panels(["B"], _table(), scale="log", low=0.1, high=100), window)
    assert logged.layout.yaxis.type == "log"
    assert list(logged.layout.yaxis.range) == pytest.approx([-1, 2])  # log10 of the ends
    linear, _ = build_figure(_panels(["flux"], _table(), scale="linear", low=15), window)
    assert linear.layout.yaxis.type == "linear"
    assert linear.layout.yaxis.autorange == "max" and linear.layout.yaxis.range[0] == 15
    assert linear.layout.yaxis.fixedrange, "a drag zooms time, not a panel's y-axis"


def test_an_empty_window_says_so() -> None:
    with pytest.raises(NoDataError, match="no data between 2025-01-01T00:00:00Z"):
        build_figure(_panels(["B"], _table().window(0, 1)), (T0, T0 + S))
    # One panel without data in a stack that has some: that panel says so.
    specs = parameter_specs(INFO)
    figure, _ = build_figure(
        [
            PanelData(Panel("d", "B"), specs["B"], _table()),
            PanelData(Panel("e", "B"), specs["B"], _table().window(0, 1)),
        ],
        (T0, T0 + 600 * S),
    )
    assert "no data in this window" in [a.text for a in figure.layout.annotations]


def test_the_cache_answers_windows_inside_a_download() -> None:
    cache = TableCache(budget_bytes=10**9)
    table = _table()
    calls: list[tuple[int, int]] = []

    def fetch(a: int, b: int) -> Table:
        calls.append((a, b))
        return table.window(a, b)

    key = ("http://x/hapi", "d", ("B",), "2025-01-02T00:00:00Z")
    assert len(cache.get(key, T0, T0 + 600 * S, fetch).time) == 600
    inner = cache.get(key, T0 + 100 * S, T0 + 200 * S, fetch)
    assert len(inner.time) == 100 and len(calls) == 1
    cache.get(key, T0 - S, T0 + 600 * S, fetch)  # wider: fetched again, then replaces
    assert len(calls) == 2 and cache.fetches == 2
    small = TableCache(budget_bytes=table.nbytes + 1)
    for shift in range(3):
        small.get((*key[:2], (str(shift),), key[3]), T0, T0 + 600 * S, fetch)
    assert small.nbytes <= table.nbytes + 1
