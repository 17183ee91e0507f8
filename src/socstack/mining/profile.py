"""The matrix-profile detector: each day's motifs and discords, as a mission rule's list.

A matrix profile gives each window of a series its distance to the most similar other
window of the same series (``stumpy.stump``, z-normalised). Its lowest values are
*motifs* (a stretch that recurs), its highest *discords* (the stretch least like any
other: an anomaly). A mission rule with ``detector: {name: matrix_profile}`` makes them
per day as days arrive, as any detector rule's product, so the profile is precomputed
where a similarity search by hand would scan the year.

The cost is quadratic in the length, hence per day and on a resampled series: a day at
one-minute bins is 1,440 points, a few milliseconds once numba has compiled stumpy's
kernels (about half a minute, once per worker process: `benchmarks/README.md`). A day
at 1 s would take about 13 s; give ``resample`` to choose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from socstack.mining.similarity import (
    MIN_WINDOW,
    SimilarityError,
    day_profile,
    motifs_and_discords,
    regrid,
)
from socstack.mission._base import Duration, StrictModel
from socstack.times import duration_ns

if TYPE_CHECKING:
    from socstack.mining.detectors import Found, Series

__all__ = ["ATTRIBUTES", "DESCRIPTIONS", "ProfileParameters", "find_profile"]

_NS = "datetime64[ns]"

#: The columns of every motif and discord.
ATTRIBUTES = {"distance": np.float64, "rank": np.int64, "discord": np.int64}
DESCRIPTIONS = {
    "distance": "z-normalised distance of the window to the most similar other window of the day",
    "rank": "1 for the closest motif (or the farthest discord), 2 for the next, ...",
    "discord": "1 for a discord (unlike any other window), 0 for a motif (one that recurs)",
}


class ProfileParameters(StrictModel):
    """Which windows of a day's profile become events."""

    window: Duration = Field("PT1H", description="the length of the windows compared")
    resample: Duration = Field(
        "PT1M", description="bin width the series is averaged to first (the cost is quadratic)"
    )
    k: int = Field(3, ge=1, le=50, description="how many motifs and how many discords a day")
    find: Literal["both", "motifs", "discords"] = Field(
        "both", description="motifs, discords, or both"
    )

    @model_validator(mode="after")
    def _window_in_bins(self) -> ProfileParameters:
        window, width = duration_ns(self.window) or 0, duration_ns(self.resample) or 0
        if width <= 0 or window // width < MIN_WINDOW:
            raise ValueError(
                f"the window ({self.window}) must span at least {MIN_WINDOW} bins of"
                f" `resample` ({self.resample})"
            )
        return self


def find_profile(series: dict[str, Series], p: ProfileParameters) -> Found:
    """The day's ``k`` motifs and ``k`` discords of the value, as windows.

    The valid samples are averaged into ``resample`` bins aligned to whole multiples of
    it since 1970; bins without data stay empty and no window over them is compared
    (short holes are interpolated, as for a similarity search). A series shorter than
    two windows has no profile, and no events.
    """
    t, x = series["value"].valid()
    width = duration_ns(p.resample) or 0
    window = np.timedelta64(duration_ns(p.window) or 0, "ns")
    if len(t) < 2:
        return None
    start = np.datetime64(int(t[0] - t[0] % width), "ns")
    stop = np.datetime64(int(t[-1]), "ns") + np.timedelta64(width, "ns")
    grid, matrix = regrid([(t.astype(_NS), x)], start, stop, np.timedelta64(width, "ns"))
    if len(grid) < 2 * (int(window.astype(np.int64)) // width):
        return None
    try:
        times, profile, _ = day_profile(grid, matrix[:, 0], window)
    except SimilarityError:
        return None  # too few valid bins to compare: no motif, no discord
    motifs, discords = motifs_and_discords(times, profile, window, p.k)
    chosen = {"motifs": [motifs], "discords": [discords], "both": [motifs, discords]}[p.find]
    starts = np.concatenate([e.start.astype(np.int64) for e in chosen])
    if len(starts) == 0:
        return None
    stops = np.concatenate([e.stop.astype(np.int64) for e in chosen])
    attributes = {
        "distance": np.concatenate([e.attributes["distance"] for e in chosen]),
        "rank": np.concatenate([e.attributes["rank"] for e in chosen]),
        "discord": np.concatenate(
            [np.full(len(e), int(e is discords), dtype=np.int64) for e in chosen]
        ),
    }
    return starts, stops, attributes
