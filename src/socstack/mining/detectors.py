"""The built-in event detectors that mission rules run: threshold, shock, changepoint, profile.

The last, the matrix profile's motifs and discords, lives in :mod:`socstack.mining.profile`.

A mission rule names a detector, maps its roles to the series of its input products and
gives its parameters in YAML; the rule's code calls :meth:`Detector.detect` and archives
the :class:`~socstack.mining.events.EventList` it returns. So a detector is a pure
function of its series and parameters: no I/O, no clock, no randomness. The same inputs
give the same events, which is what lets the pipeline's dependency hash make a re-run a
no-op. Its ``version`` is part of the output's version: bump it on any change of
behaviour, and the planner remakes the lists.

Durations in the parameters are ISO 8601 strings (``"PT5M"``), as everywhere in a mission
configuration, read by the one parser (:func:`socstack.times.duration_ns`).

The input is a :class:`Series` per role: times (datetime64[ns], ascending) and values
(float64; NaN where the file had fill or nothing). A vector series (n, k) is used by its
magnitude. Empty or all-NaN input gives an empty list whose attribute columns have their
types, so a day without data still makes a well-formed product.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field, model_validator

from socstack._exceptions import NotFoundError, SocError
from socstack.mining.events import EventList
from socstack.mining.profile import ATTRIBUTES as PROFILE_ATTRIBUTES
from socstack.mining.profile import DESCRIPTIONS as PROFILE_DESCRIPTIONS
from socstack.mining.profile import ProfileParameters, find_profile
from socstack.mission._base import Duration, StrictModel
from socstack.times import duration_ns

__all__ = [
    "DETECTORS",
    "ChangepointParameters",
    "Detector",
    "DetectorError",
    "ProfileParameters",
    "Series",
    "ShockParameters",
    "ThresholdParameters",
    "get_detector",
]

_NS = "datetime64[ns]"

#: An ISO 8601 duration as a mission writes it (``"PT8M"``); refused at load if malformed.


class DetectorError(SocError):
    """A detector was given series it cannot use (a role missing, lengths that differ)."""


@dataclass(frozen=True)
class Series:
    """One input of a detector: times (datetime64[ns], ascending) and their values.

    ``values`` is float64, (n,) or (n, k); NaN where the file had fill or nothing. The
    arrays are coerced on creation so a detector can rely on their types.
    """

    times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=_NS)
        values = np.asarray(self.values, dtype=np.float64)
        if times.ndim != 1 or values.ndim not in (1, 2) or len(values) != len(times):
            raise DetectorError(
                f"a series needs one value (or vector) per time: {times.shape} times,"
                f" values {values.shape}"
            )
        if len(times) > 1 and np.any(times[1:] < times[:-1]):
            raise DetectorError("a series' times must be sorted ascending")
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)

    def scalar(self) -> np.ndarray:
        """The values, a vector's by its magnitude (NaN if any component is)."""
        if self.values.ndim == 2:
            return np.sqrt(np.sum(self.values**2, axis=1))
        return self.values

    def valid(self) -> tuple[np.ndarray, np.ndarray]:
        """Times (ns since 1970, int64) and scalar values of the samples that are not NaN."""
        values = self.scalar()
        keep = ~np.isnan(values)
        return self.times[keep].astype(np.int64), values[keep]

    def cadence_ns(self) -> float:
        """The median spacing of the series' times (fill included): its nominal cadence."""
        if len(self.times) < 2:
            return math.nan
        return float(np.median(np.diff(self.times.astype(np.int64))))


def _ns(duration: str) -> int:
    """A validated duration parameter in ns."""
    value = duration_ns(duration)
    if value is None:  # validated with the parameters; a model built unvalidated lands here
        raise DetectorError(f"not an ISO 8601 duration: {duration!r}")
    return value


def _times(ns: np.ndarray) -> np.ndarray:
    return np.asarray(ns, dtype=np.int64).astype(_NS)


#: What a detector's function returns: starts and stops (ns since 1970) and attributes,
#: or None when it found nothing.
Found = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]] | None


@dataclass(frozen=True)
class Detector:
    """A built-in detector: what it needs (roles, parameters) and what it finds.

    One instance per detector lives in :data:`DETECTORS`. ``roles`` are the series
    :meth:`detect` requires, ``optional_roles`` those it uses when given. ``attributes``
    are the columns of every event with their types (an empty list carries them too).
    """

    name: str
    version: str
    roles: tuple[str, ...]
    parameters: type[BaseModel]
    description: str
    find: Callable[[dict[str, Series], Any], Found]
    attributes: Mapping[str, type]
    optional_roles: tuple[str, ...] = ()
    units: Mapping[str, str] = field(default_factory=dict)
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def validate(self, parameters: Mapping[str, Any] | BaseModel | None) -> BaseModel:
        """The parameters as this detector's model (a mission's mapping, or a model)."""
        if isinstance(parameters, self.parameters):
            return parameters
        if isinstance(parameters, BaseModel):
            parameters = parameters.model_dump(exclude_unset=True)
        return self.parameters.model_validate(dict(parameters or {}))

    def detect(
        self, series: Mapping[str, Series], parameters: Mapping[str, Any] | BaseModel | None = None
    ) -> EventList:
        """The events in ``series`` (one :class:`Series` per role) under ``parameters``."""
        missing = [role for role in self.roles if role not in series]
        if missing:
            raise DetectorError(
                f"detector {self.name!r} needs the series {', '.join(map(repr, missing))};"
                f" it was given {', '.join(map(repr, series)) or 'none'}"
            )
        unknown = [r for r in series if r not in self.roles and r not in self.optional_roles]
        if unknown:
            raise DetectorError(
                f"detector {self.name!r} takes no series {', '.join(map(repr, unknown))}"
                f" (its roles: {', '.join(self.roles + self.optional_roles)})"
            )
        found = self.find(dict(series), self.validate(parameters))
        if found is None:
            none = np.array([], dtype=np.int64)
            found = (none, none, {k: np.array([]) for k in self.attributes})
        start, stop, attributes = found
        return EventList(
            _times(start),
            _times(stop),
            {k: np.asarray(attributes[k], dtype=t) for k, t in self.attributes.items()},
            name=self.name,
            description=self.description,
            units=dict(self.units),
            descriptions=dict(self.descriptions),
        )


# -- threshold ------------------------------------------------------------------------------


class ThresholdParameters(StrictModel):
    """When a value counts as high (or low), with hysteresis and tolerance of gaps."""

    above: float | None = Field(None, description="an event starts when the value rises above this")
    below: float | None = Field(
        None, description="it ends when the value falls below this (default: above)"
    )
    direction: Literal["above", "below"] = Field(
        "above",
        description="'below' finds low values: an event starts when the value falls below"
        " `below` and ends when it rises above `above` (default: below)",
    )
    min_duration: Duration = Field("PT0S", description="shorter events are dropped")
    max_gap: Duration = Field(
        "PT1M", description="missing stretches longer than this end an event; shorter do not"
    )

    @model_validator(mode="after")
    def _hysteresis(self) -> ThresholdParameters:
        if self.direction == "above" and self.above is None:
            raise ValueError("give `above`, the value an event rises above")
        if self.direction == "below" and self.below is None:
            raise ValueError("with direction 'below', give `below`, the value an event falls below")
        above, below = self._filled()
        if below > above:
            raise ValueError(
                f"below ({below}) must not exceed above ({above}): the band between them is"
                " the hysteresis that keeps noise from splitting an event"
            )
        return self

    def _filled(self) -> tuple[float, float]:
        """``above`` and ``below``, the one not given equal to the other."""
        given = self.above if self.above is not None else self.below
        if given is None:  # refused by the validator
            raise DetectorError("a threshold needs `above` or `below`")
        above = self.above if self.above is not None else given
        below = self.below if self.below is not None else given
        return above, below

    def band(self) -> tuple[float, float]:
        """The value an event starts beyond and the one it ends beyond."""
        above, below = self._filled()
        return (above, below) if self.direction == "above" else (below, above)


def _threshold(series: dict[str, Series], p: ThresholdParameters) -> Found:
    """Intervals where a value is high (or low), with hysteresis.

    An event starts at the first sample above ``above`` and lasts while the value stays
    above ``below``: noise that dips into the band between the two does not split it.
    (With ``direction: below``, mirrored: it starts below ``below`` and lasts until the
    value rises above ``above``.) NaN samples are skipped; a stretch without valid samples
    longer than ``max_gap`` ends the event at its last valid sample, and after it the value
    must cross the starting threshold again. An event spans its first to its last sample
    (one sample makes a zero-length event). ``peak`` is its extreme value (the minimum for
    ``direction: below``), ``mean`` the mean of its samples, ``duration`` its length in s.
    """
    t, x = series["value"].valid()
    if len(t) == 0:
        return None
    # Low values are high values of -x: one state machine serves both directions.
    sign = 1.0 if p.direction == "above" else -1.0
    start, end = p.band()
    rise, fall, y = sign * start, sign * end, sign * x
    # A long gap resets the state: after it an event needs to cross `rise` again.
    run_start = np.ones(len(t), dtype=bool)
    run_start[1:] = np.diff(t) > _ns(p.max_gap)
    # Each sample decides (1 on, 0 off) or keeps the last decision (-1, inside the band);
    # vectorised as a forward fill of the index of the last deciding sample.
    code = np.where(y > rise, 1, np.where(y < fall, 0, -1))
    code[run_start & (code < 0)] = 0
    last = np.maximum.accumulate(np.where(code >= 0, np.arange(len(code)), 0))
    on = code[last] == 1
    # Events: runs of `on` samples, cut where a long gap starts a new run.
    first = np.flatnonzero(on & (run_start | ~np.concatenate([[False], on[:-1]])))
    final = np.flatnonzero(
        on & (np.concatenate([run_start[1:], [True]]) | ~np.concatenate([on[1:], [False]]))
    )
    keep = (t[final] - t[first]) >= _ns(p.min_duration)
    first, final = first[keep], final[keep]
    if len(first) == 0:
        return None
    # An event's samples are y[first:final + 1]: reduce over those slices (the even slots
    # of reduceat; a trailing 0 lets the last slice end past the data).
    bounds = np.column_stack([first, final + 1]).ravel()
    padded = np.append(y, 0.0)
    extreme = sign * np.maximum.reduceat(padded, bounds)[::2]
    mean = sign * np.add.reduceat(padded, bounds)[::2] / (final - first + 1)
    duration = (t[final] - t[first]) / 1e9
    return t[first], t[final], {"peak": extreme, "mean": mean, "duration": duration}


THRESHOLD = Detector(
    name="threshold",
    version="1.0.0",
    roles=("value",),
    parameters=ThresholdParameters,
    description="Intervals where a value stays above (or below) a threshold, with hysteresis",
    find=_threshold,
    attributes={"peak": np.float64, "mean": np.float64, "duration": np.float64},
    units={"duration": "s"},
    descriptions={
        "peak": "the extreme value in the event",
        "mean": "the mean value in the event",
        "duration": "stop - start",
    },
)


# -- shock ----------------------------------------------------------------------------------


class ShockParameters(StrictModel):
    """The Heliospheric Shock Database's criteria and the windows they are applied over."""

    window: Duration = Field("PT8M", description="length of the upstream and downstream windows")
    gap: Duration = Field(
        "PT1M", description="left out around the candidate time (half on each side): the ramp"
    )
    min_b_ratio: float = Field(1.2, gt=0, description="B_down / B_up at least this")
    min_n_ratio: float = Field(1.2, gt=0, description="N_down / N_up at least this")
    min_dv: float = Field(20.0, description="V_down - V_up at least this, km/s")
    min_t_ratio: float = Field(
        1 / 1.2, gt=0, description="T_down / T_up at least this (when temperature is given)"
    )
    min_coverage: float = Field(
        0.5,
        gt=0,
        le=1,
        description="a window needs this fraction of its series' nominal samples to count",
    )
    step: Duration | None = Field(
        None, description="spacing of candidate times (default: the plasma's cadence)"
    )


@dataclass(frozen=True)
class _Windows:
    """Upstream and downstream means of one series at every candidate time."""

    up: np.ndarray
    down: np.ndarray


def _window_means(
    series: Series, grid: np.ndarray, *, window: int, half_gap: int, coverage: float, speed: bool
) -> _Windows:
    """Means over [c - gap/2 - window, c - gap/2) and (c + gap/2, c + gap/2 + window].

    Cumulative sums make every window O(log n), and each series keeps its own cadence: a
    1 s field and a 4 s plasma are averaged over the same stretches of time without being
    resampled. A window with fewer than ``coverage`` of the samples the series' cadence
    promises is NaN, so it is no candidate.
    """
    t, x = series.valid()
    if speed:
        x = np.abs(x)  # a speed given as its (negative, GSE) x component
    sums = np.concatenate([[0.0], np.cumsum(x)])
    cadence = series.cadence_ns()
    need = max(1.0, coverage * window / cadence) if cadence > 0 else 1.0

    def mean(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        count = j - i
        out = np.full(len(grid), np.nan)
        ok = count >= need
        out[ok] = (sums[j[ok]] - sums[i[ok]]) / count[ok]
        return out

    up = mean(
        np.searchsorted(t, grid - half_gap - window, "left"),
        np.searchsorted(t, grid - half_gap, "left"),
    )
    down = mean(
        np.searchsorted(t, grid + half_gap, "right"),
        np.searchsorted(t, grid + half_gap + window, "right"),
    )
    return _Windows(up, down)


def _step_time(series: dict[str, Series], centre: int, *, reach: int, span: int) -> int:
    """Where within ``reach`` of ``centre`` one step best splits every series at once.

    The strongest candidate only says the shock is somewhere in its gap (and the ratios
    favour early times: a downstream window diluted by upstream plasma loses less of its
    ratio than an upstream one diluted by downstream plasma). A two-segment least-squares
    fit over ``span`` either side has no such bias: each series' squared error about its
    two means, as a share of its own variance so that each counts alike, summed.
    """
    lo, hi = centre - span, centre + span
    splits = np.arange(centre - reach, centre + reach + 1, 1_000_000_000, dtype=np.int64)
    total = np.zeros(len(splits))
    for role, s in series.items():
        t, x = s.valid()
        if role == "speed":
            x = np.abs(x)
        i, j = np.searchsorted(t, [lo, hi])
        t, x = t[i:j], x[i:j]
        if len(x) < 4 or not np.ptp(x) > 0:
            continue
        x = (x - x.mean()) / x.std()
        s1, s2 = np.concatenate([[0.0], np.cumsum(x)]), np.concatenate([[0.0], np.cumsum(x**2)])
        k = np.searchsorted(t, splits)
        n = len(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            left = s2[k] - np.where(k > 0, s1[k] ** 2 / k, 0.0)
            right = (s2[n] - s2[k]) - np.where(k < n, (s1[n] - s1[k]) ** 2 / (n - k), 0.0)
        total += (left + right) / n
    return int(splits[np.argmin(total)]) if total.any() else centre


def _shock(series: dict[str, Series], p: ShockParameters) -> Found:
    """Fast-forward interplanetary shocks: jumps up in field, density and speed together.

    The criteria are those of the Heliospheric Shock Database (ipshocks.fi; Kilpua, E. K.
    J., et al. 2015, "Properties and drivers of fast interplanetary shocks near the orbit of
    the Earth (1995-2013)", J. Geophys. Res. Space Physics 120, 4112-4125,
    doi:10.1002/2015JA021138): B_down/B_up >= 1.2, N_down/N_up >= 1.2, V_down - V_up >=
    20 km/s and, when the temperature is given, T_down/T_up >= 1/1.2. (The search tools
    this was written with found the database's pages but not the numbers; they are the
    ones the database states, and are parameters, so a mission can tighten them.)

    Method: at every candidate time c on a grid (the plasma cadence, aligned to whole
    multiples of it since 1970 so that a day's result does not depend on where its slice
    starts), the mean of each series over ``window`` before c - gap/2 (upstream) and after
    c + gap/2 (downstream); the gap keeps the shock's ramp out of both. Candidates are the
    times where every criterion holds. A shock makes a run of candidates (its step stays
    inside the gap for a gap's width of c, and strong ones pass with mixed windows too):
    candidates closer than ``window`` form one cluster, and each cluster gives one shock.
    Its strength is log(B ratio) + log(N ratio) + log(V_down / V_up), the compression,
    and its attributes are those of its strongest candidate. The time is then refined
    within a gap of that candidate, to the second, by :func:`_step_time`: the split that
    one step fits best in every series at once (the strongest candidate alone lands up to
    a minute early).

    Each shock is a zero-length event [t, t]: the shock is a moment, known to about the
    second; HAPI's interval semantics serve it as it is.

    Series: ``density`` (cm^-3), ``speed`` (km/s; a velocity vector by its magnitude, a
    scalar by its absolute value) and ``field`` (nT, a vector by its magnitude), optionally
    ``temperature``; each on its own cadence.
    """
    required = ("density", "speed", "field")
    valid = {role: s.valid()[0] for role, s in series.items()}
    if any(len(valid[role]) == 0 for role in required):
        return None
    if p.step is not None:
        step = _ns(p.step)
    else:
        cadences = [series[r].cadence_ns() for r in ("density", "speed")]
        step = int(max((c for c in cadences if c > 0), default=0)) or 1_000_000_000
    window, half_gap = _ns(p.window), _ns(p.gap) // 2
    lo = max(int(valid[r][0]) for r in required)
    hi = min(int(valid[r][-1]) for r in required)
    if hi < lo:
        return None
    grid = np.arange(-(-lo // step) * step, hi + 1, step, dtype=np.int64)
    means = {
        role: _window_means(
            s,
            grid,
            window=window,
            half_gap=half_gap,
            coverage=p.min_coverage,
            speed=role == "speed",
        )
        for role, s in series.items()
    }
    b, n, v = means["field"], means["density"], means["speed"]
    with np.errstate(divide="ignore", invalid="ignore"):
        b_ratio, n_ratio, dv = b.down / b.up, n.down / n.up, v.down - v.up
        t_ratio = (
            means["temperature"].down / means["temperature"].up
            if "temperature" in means
            else np.full(len(grid), np.nan)
        )
        hold = (b_ratio >= p.min_b_ratio) & (n_ratio >= p.min_n_ratio) & (dv >= p.min_dv)
        if "temperature" in means:
            hold &= t_ratio >= p.min_t_ratio
        candidates = np.flatnonzero(hold)
        strength = np.log(b_ratio * n_ratio * (v.down / v.up))[candidates]
    if len(candidates) == 0:
        return None
    cuts = np.flatnonzero(np.diff(grid[candidates]) > window) + 1
    times, best = [], []
    for members in np.split(candidates, cuts):
        peak = members[np.argmax(strength[np.searchsorted(candidates, members)])]
        times.append(_step_time(series, int(grid[peak]), reach=2 * half_gap, span=window))
        best.append(peak)
    at = np.asarray(best)
    start = np.asarray(times, dtype=np.int64)
    return (
        start,
        start,
        {"b_ratio": b_ratio[at], "n_ratio": n_ratio[at], "dv": dv[at], "t_ratio": t_ratio[at]},
    )


SHOCK = Detector(
    name="shock",
    version="1.0.0",
    roles=("density", "speed", "field"),
    optional_roles=("temperature",),
    parameters=ShockParameters,
    description="Fast-forward interplanetary shocks (Heliospheric Shock Database criteria)",
    attributes={
        "b_ratio": np.float64,
        "n_ratio": np.float64,
        "dv": np.float64,
        "t_ratio": np.float64,
    },
    units={"dv": "km/s"},
    descriptions={
        "b_ratio": "downstream over upstream mean field magnitude",
        "n_ratio": "downstream over upstream mean density",
        "dv": "downstream minus upstream mean speed",
        "t_ratio": "downstream over upstream mean temperature (NaN without temperature)",
    },
    find=_shock,
)

# -- changepoint ----------------------------------------------------------------------------


class ChangepointParameters(StrictModel):
    """Penalised change-point search (ruptures) over a binned series."""

    model: Literal["l2", "rbf", "l1"] = Field(
        "l2", description="segment cost: l2 (mean shifts), l1 (robust), rbf (distribution)"
    )
    penalty: float | None = Field(
        None, gt=0, description="cost of one more change point (default: a BIC-like rule)"
    )
    min_size: Duration = Field("PT10M", description="the shortest segment between changes")
    resample: Duration = Field("PT1M", description="bin width the series is averaged to first")


#: Above this many bins the rbf model's Gram matrix (n^2 doubles) is refused.
_MAX_RBF_BINS = 20_000


def _noise_sigma(signal: np.ndarray) -> float:
    """The noise's standard deviation, robustly, from first differences (MAD / sqrt 2).

    Differences cancel the levels, so the change points being sought do not inflate it.
    Never zero: a noiseless signal gets a tiny scale, so a flat segment is never split.
    """
    if len(signal) < 3:
        return 1e-12
    diff = np.diff(signal)
    mad = float(np.median(np.abs(diff - np.median(diff))))
    return max(1.4826 * mad / math.sqrt(2), 1e-6 * float(np.std(signal)), 1e-12)


def _rbf_gamma(standardised: np.ndarray) -> float:
    """The median heuristic for the rbf kernel, on at most 2,000 evenly spaced samples."""
    sample = standardised[:: max(1, len(standardised) // 2000)]
    distances = (sample[:, None] - sample[None, :]) ** 2
    median = float(np.median(distances[np.triu_indices(len(sample), 1)])) if len(sample) > 1 else 0
    return 1.0 / median if median > 0 else 1.0


def _changepoint(series: dict[str, Series], p: ChangepointParameters) -> Found:
    """Change points in a series' level (or distribution): penalised segmentation.

    The series (a vector's magnitude) is first averaged into bins of ``resample`` aligned
    to whole multiples of it since 1970 (so a day at 1 s becomes 1,440 points and the
    search stays fast, and a day's bins do not depend on its slice). Bins without valid
    samples are dropped, not interpolated: an interpolated stretch would be a made-up
    ramp the search could cut anywhere; dropped, a change across a gap is an event
    spanning the gap.

    Search: PELT, exact for the penalty, with ruptures. ``l2`` and ``rbf`` run its C
    implementation (``KernelCPD`` with the linear kernel, whose cost is the l2 cost, and
    the Gaussian kernel); ``l1`` runs its Python ``Pelt`` on a grid of half ``min_size``,
    then each change is moved to the best bin within that grid step (Python PELT over
    every bin of a day takes tens of seconds).

    Default penalty, BIC-like (two parameters per change, a location and a level, so 2 ln n
    in units of -2 ln L), with the noise's scale sigma from the bins' first differences:
    ``l2`` 2 sigma^2 ln n, ``l1`` sigma / sqrt(2) ln n (the Laplace scale); ``rbf`` ln n on
    the series standardised by sigma (its cost is in kernel units, at most 1 per bin). It
    assumes white noise: on turbulent (red) series give a larger ``penalty``.

    Each change is an event from the end of the last bin before it to the start of the
    first bin after (zero-length when the bins are adjacent), with ``before`` and
    ``after`` the means of the bins of the segments on either side and ``jump`` their
    difference.
    """
    t, x = series["value"].valid()
    width = _ns(p.resample)
    if len(t) == 0 or width <= 0:
        return None
    bins, inverse = np.unique(t // width, return_inverse=True)
    signal = np.bincount(inverse, weights=x) / np.bincount(inverse)
    size = max(2, math.ceil(_ns(p.min_size) / width))
    if len(signal) < 2 * size:
        return None
    changes = _search(signal, p, size)
    if not changes:
        return None
    edges = np.concatenate([[0], changes, [len(signal)]])
    sums = np.concatenate([[0.0], np.cumsum(signal)])
    means = (sums[edges[1:]] - sums[edges[:-1]]) / np.diff(edges)
    k = np.asarray(changes)
    return (
        (bins[k - 1] + 1) * width,
        bins[k] * width,
        {"before": means[:-1], "after": means[1:], "jump": means[1:] - means[:-1]},
    )


def _search(signal: np.ndarray, p: ChangepointParameters, size: int) -> list[int]:
    """Indices of the first bin of each new segment."""
    import ruptures as rpt

    n = len(signal)
    sigma = _noise_sigma(signal)
    log_n = math.log(n)
    if p.model == "l2":
        pen = p.penalty or 2 * sigma**2 * log_n
        algo = rpt.KernelCPD(kernel="linear", min_size=size).fit(signal.reshape(-1, 1))
        return [int(b) for b in algo.predict(pen=pen)[:-1]]
    if p.model == "rbf":
        if n > _MAX_RBF_BINS:
            raise DetectorError(
                f"the rbf model takes at most {_MAX_RBF_BINS} bins, this series makes {n}:"
                " give a longer `resample` or a shorter stretch"
            )
        standardised = (signal - np.median(signal)) / sigma
        algo = rpt.KernelCPD(
            kernel="rbf", min_size=size, params={"gamma": _rbf_gamma(standardised)}
        ).fit(standardised.reshape(-1, 1))
        return [int(b) for b in algo.predict(pen=p.penalty or log_n)[:-1]]
    pen = p.penalty or sigma / math.sqrt(2) * log_n
    jump = max(1, size // 2)
    algo = rpt.Pelt(model="l1", min_size=size, jump=jump).fit(signal.reshape(-1, 1))
    coarse = [int(b) for b in algo.predict(pen=pen)[:-1]]
    return _refine_l1(signal, coarse, jump, size)


def _refine_l1(signal: np.ndarray, changes: list[int], reach: int, size: int) -> list[int]:
    """Each change moved to the bin within ``reach`` that minimises the l1 cost around it."""

    def cost(a: int, b: int) -> float:
        segment = signal[a:b]
        return float(np.abs(segment - np.median(segment)).sum())

    out = list(changes)
    for i, change in enumerate(out):
        lo = (out[i - 1] if i else 0) + size
        hi = (out[i + 1] if i + 1 < len(out) else len(signal)) - size
        left = out[i - 1] if i else 0
        right = out[i + 1] if i + 1 < len(out) else len(signal)
        options = range(max(lo, change - reach), min(hi, change + reach) + 1)
        if options:
            out[i] = min(options, key=lambda k: (cost(left, k) + cost(k, right), k))
    return out


CHANGEPOINT = Detector(
    name="changepoint",
    version="1.0.0",
    roles=("value",),
    parameters=ChangepointParameters,
    description="Change points in a series' level (penalised segmentation, ruptures)",
    attributes={"before": np.float64, "after": np.float64, "jump": np.float64},
    descriptions={
        "before": "mean of the segment before the change",
        "after": "mean of the segment after the change",
        "jump": "after - before",
    },
    find=_changepoint,
)


MATRIX_PROFILE = Detector(
    name="matrix_profile",
    version="1.0.0",
    roles=("value",),
    parameters=ProfileParameters,
    description="Each day's motifs and discords (matrix profile, stumpy)",
    attributes=PROFILE_ATTRIBUTES,
    units={"distance": "dimensionless", "rank": "dimensionless", "discord": "dimensionless"},
    descriptions=PROFILE_DESCRIPTIONS,
    find=find_profile,
)


# -- the registry ---------------------------------------------------------------------------

#: The built-in detectors by name.
DETECTORS: dict[str, Detector] = {
    d.name: d for d in (THRESHOLD, SHOCK, CHANGEPOINT, MATRIX_PROFILE)
}


def get_detector(name: str) -> Detector:
    """The built-in detector called ``name``."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise NotFoundError(
            f"no detector {name!r}; the built-in ones are {', '.join(sorted(DETECTORS))}"
        ) from None
