"""The demo's daily quicklooks: lines break at data gaps instead of joining across them."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import xarray as xr

from socstack.mission import MissionRegistry, load_callable

DAY = dt.date(2025, 1, 1)
GAP = (20_000, 23_600)  # an hour without records, in seconds of the day


@pytest.fixture(scope="module")
def quicklooks(demo_missions: MissionRegistry) -> dict[str, object]:
    """The two rules' drawing functions, imported the way the core imports them."""
    mission = demo_missions.mission("demo")
    return {
        rule: load_callable(
            mission, mission.rules[rule].function.replace(":process", ":draw"), field="test"
        )
        for rule in ("mag_ql", "pls_ql")
    }


def _epoch(cadence_s: int) -> np.ndarray:
    seconds = np.arange(0, 86_400, cadence_s)
    kept = seconds[(seconds < GAP[0]) | (seconds >= GAP[1])]
    return np.datetime64(DAY.isoformat(), "ns") + kept * np.timedelta64(1, "s")


def _mag_l2() -> xr.Dataset:
    epoch = _epoch(1)
    n = len(epoch)
    field = np.stack([np.sin(np.arange(n) / 900.0) * 5 + k for k in range(3)], axis=1)
    return xr.Dataset(
        {"b_gse": (("epoch", "axis"), field), "b_mag": (("epoch",), np.linalg.norm(field, axis=1))},
        coords={"epoch": epoch},
    )


def _pls_l2() -> xr.Dataset:
    epoch = _epoch(4)
    n = len(epoch)
    ramp = 1 + np.arange(n) / n
    low = np.geomspace(10, 10_000, 32)
    return xr.Dataset(
        {
            "density": (("epoch",), 5 * ramp),
            "speed": (("epoch",), 400 * ramp),
            "temperature": (("epoch",), 1e5 * ramp),
            "eflux": (("epoch", "energy"), np.outer(ramp, np.ones(32)) * 1e6),
            "energy_min": (("energy",), low),
            "energy_max": (("energy",), low * 1.2),
        },
        coords={"epoch": epoch},
    )


def _joins_across_the_gap(line: object) -> bool:
    """Whether two finite neighbouring points of a drawn line lie on both sides of GAP."""
    x = np.asarray(line.get_xdata())  # type: ignore[attr-defined]
    y = np.asarray(line.get_ydata(), dtype=np.float64)  # type: ignore[attr-defined]
    seconds = (x - np.datetime64(DAY.isoformat(), "ns")) / np.timedelta64(1, "s")
    finite = np.isfinite(y)
    joined = finite[:-1] & finite[1:]
    before, after = seconds[:-1] < GAP[0], seconds[1:] >= GAP[1]
    return bool((joined & before & after).any())


@pytest.mark.parametrize(
    ("rule", "data", "lines"), [("mag_ql", _mag_l2, 4), ("pls_ql", _pls_l2, 3)]
)
def test_quicklook_lines_break_at_data_gaps(
    quicklooks: dict[str, object], rule: str, data: object, lines: int
) -> None:
    import matplotlib.pyplot as plt

    fig, axes = quicklooks[rule](data(), DAY)  # type: ignore[operator]
    try:
        drawn = [line for ax in axes for line in ax.get_lines()]
        assert len(drawn) == lines
        for line in drawn:
            assert not _joins_across_the_gap(line), f"{rule}: {line.get_label()} joins the gap"
            assert np.isfinite(np.asarray(line.get_ydata(), dtype=float)).sum() > 1000
    finally:
        plt.close(fig)
