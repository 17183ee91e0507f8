"""The matrix-profile detector: a day's motifs and discords, found where they were put.

Days at 4 s, run through the detector as a rule runs it: seeded white noise with one
shape planted twice (the motif: two windows alike), and waves with ten minutes of a
jump up and back (the discord: unlike any other window). stumpy compiles its kernels on first use (about
half a minute, shared with the other stumpy tests of the run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from socstack._exceptions import ConfigError
from socstack.mining.detectors import Series, get_detector
from socstack.mission import load_mission
from tests.unit.test_mission_detectors import _mission_with

DAY = np.datetime64("2025-01-01T00:00:00", "ns")
STEP = np.timedelta64(4, "s")
HOUR = np.timedelta64(3600, "s")
MOTIF_AT = (DAY + 3 * HOUR, DAY + 15 * HOUR)
DISCORD_AT = DAY + 9 * HOUR


def _noise_with_a_motif() -> Series:
    """White noise (no two hours alike) with one shape added at two times."""
    rng = np.random.default_rng(7)
    times = DAY + np.arange(86_400 // 4) * STEP
    values = 400 + rng.normal(0, 5, len(times))
    hour = np.arange(900)  # one hour of 4 s samples
    shape = 40 * np.sin(hour / 900 * 3 * np.pi) * np.exp(-hour / 600)
    for at in MOTIF_AT:
        k = int((at - DAY) // STEP)
        values[k : k + 900] += shape
    return Series(times, values)


def _waves_with_a_discord(gap: tuple[int, int] | None = None) -> Series:
    """Waves of 20 minutes (every hour like the others) and ten minutes unlike them."""
    rng = np.random.default_rng(8)
    times = DAY + np.arange(86_400 // 4) * STEP
    seconds = np.arange(len(times)) * 4.0
    values = 400 + 20 * np.sin(2 * np.pi * seconds / 1200) + rng.normal(0, 1, len(times))
    k = int((DISCORD_AT - DAY) // STEP)
    values[k : k + 150] += 60
    if gap is not None:
        values[gap[0] * 900 : gap[1] * 900] = np.nan
    return Series(times, values)


def _detect(series: Series, **parameters: Any) -> Any:
    return get_detector("matrix_profile").detect({"value": series}, parameters)


@pytest.mark.slow
def test_a_shape_that_recurs_is_the_first_motif() -> None:
    found = _detect(_noise_with_a_motif(), window="PT1H", k=2, find="motifs")
    assert set(found.attributes) == {"distance", "rank", "discord"}
    assert len(found) == 2 and set(found.attributes["discord"]) == {0}
    # the pair is the two copies, alike at the same offset (the shape is an hour's
    # decay, so the closest windows may start a little before it): each window holds
    # at least half of its copy, and the two are as far apart as the copies
    first, second = sorted(found.start)
    assert second - first == MOTIF_AT[1] - MOTIF_AT[0], found.start
    assert abs(first - MOTIF_AT[0]) <= HOUR / 2, found.start
    assert np.all(found.stop - found.start == HOUR)
    # the same day gives the same events (the pipeline's re-run is a no-op)
    again = _detect(_noise_with_a_motif(), window="PT1H", k=2, find="motifs")
    assert np.array_equal(again.start, found.start)
    assert np.array_equal(again.attributes["distance"], found.attributes["distance"])


@pytest.mark.slow
def test_ten_minutes_unlike_the_rest_are_the_first_discord() -> None:
    found = _detect(_waves_with_a_discord(), window="PT1H", k=2)
    discord = found.attributes["discord"] == 1
    assert discord.sum() == 2 and (~discord).sum() == 2
    first = np.flatnonzero(discord & (found.attributes["rank"] == 1))[0]
    spike = (DISCORD_AT, DISCORD_AT + np.timedelta64(10, "m"))
    assert found.start[first] <= spike[0] and spike[1] <= found.stop[first], found.start[first]
    # motifs are the closest windows, discords the farthest
    distance = found.attributes["distance"]
    assert distance[~discord].max() < distance[discord].min()


@pytest.mark.slow
def test_no_window_over_a_long_gap_is_an_event() -> None:
    found = _detect(_waves_with_a_discord(gap=(18, 21)), window="PT1H", k=3, find="discords")
    assert len(found) == 3 and set(found.attributes["discord"]) == {1}
    gap = (DAY + 18 * HOUR, DAY + 21 * HOUR)
    assert not np.any((found.start < gap[1]) & (found.stop > gap[0])), found.start


def test_a_series_shorter_than_two_windows_has_no_events() -> None:
    times = DAY + np.arange(60) * np.timedelta64(60, "s")
    found = _detect(Series(times, np.arange(60.0)), window="PT1H")
    assert len(found) == 0
    assert found.attributes["rank"].dtype == np.int64
    assert found.attributes["distance"].dtype == np.float64


@pytest.mark.parametrize(
    ("parameters", "says"),
    [
        ({"window": "PT2M"}, "at least 3 bins"),
        ({"window": "PT1H", "resample": "PT30M"}, "at least 3 bins"),
        ({"k": 0}, "greater than or equal to 1"),
        ({"find": "peaks"}, "'both', 'motifs' or 'discords'"),
        ({"window": "an hour"}, "ISO 8601"),
        ({"windows": "PT1H"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_parameters_are_refused(parameters: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        get_detector("matrix_profile").validate(parameters)


def test_a_mission_with_a_bad_profile_rule_fails_to_load(tmp_path: Path) -> None:
    def edit(config: dict[str, Any]) -> None:
        config["rules"]["speed_changes"]["detector"] = {
            "name": "matrix_profile",
            "variables": {"value": "pls_l2.speed"},
            "parameters": {"window": "PT2M"},
        }

    with pytest.raises(ConfigError, match="speed_changes") as raised:
        load_mission(_mission_with(tmp_path, edit))
    assert "at least 3 bins" in str(raised.value)
