"""A seeded model of the solar wind seen by the demo spacecraft.

The model gives the true plasma and field at any set of times, so that every day can be
generated on its own and still agree with its neighbours:

- slow variations (stream structure, sector polarity of a Parker-spiral field) are
  fixed-phase sinusoids of absolute time;
- turbulence (a Kolmogorov-like, f^-5/3 spectrum) is overlap-added from hourly chunks
  seeded by the hour, so it is continuous across day boundaries;
- events are drawn per day from ``numpy.random.default_rng([seed, day, stream])``:
  interplanetary shocks (jumps in density, field and speed that decay over hours),
  magnetosheath-like intervals (dense, hot, slow, strongly turbulent plasma) and data gaps.

Times are float seconds since the spacecraft clock epoch, 2010-01-01T00:00:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

EPOCH = dt.datetime(2010, 1, 1, tzinfo=dt.UTC)
DAY = 86400.0
HOUR = 3600.0

PROTON_MASS = 1.67262192e-27  # kg
BOLTZMANN = 1.380649e-23  # J/K
ELEMENTARY_CHARGE = 1.602176634e-19  # C

# Streams of random numbers, so that adding a kind of event never changes the others.
_SHOCKS, _SHEATHS, _TURBULENCE, _GAPS = 1, 2, 3, 4


def seconds(day: dt.date) -> float:
    """Clock seconds at the start of ``day``."""
    return (dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC) - EPOCH).total_seconds()


def day_index(day: dt.date) -> int:
    """Days since the clock epoch."""
    return (day - EPOCH.date()).days


@dataclass(frozen=True)
class Shock:
    """An interplanetary shock passing the spacecraft at ``time``."""

    time: float
    ratio: float  # density and field compression
    speed_jump: float  # km/s
    decay: float  # e-folding time of the downstream enhancement, s


@dataclass(frozen=True)
class Sheath:
    """A magnetosheath-like interval with smooth entry and exit."""

    start: float
    stop: float
    ramp: float  # s
    deflection: float  # km/s added to vy


@dataclass(frozen=True)
class PlasmaState:
    """True plasma and field at a set of times."""

    time: np.ndarray  # s since epoch
    density: np.ndarray  # cm^-3
    velocity: np.ndarray  # km/s, (n, 3), GSE
    temperature: np.ndarray  # K
    field: np.ndarray  # nT, (n, 3), GSE


def _kolmogorov_noise(rng: np.random.Generator, n: int, components: int) -> np.ndarray:
    """Unit-variance noise with an f^-5/3 power spectrum (n samples at 1 s)."""
    white = rng.standard_normal((components, n))
    spectrum = np.fft.rfft(white, axis=1)
    freq = np.fft.rfftfreq(n, d=1.0)
    freq[0] = freq[1]
    spectrum *= freq ** (-5.0 / 6.0)
    spectrum[:, 0] = 0.0
    noise = np.fft.irfft(spectrum, n=n, axis=1)
    noise /= noise.std(axis=1, keepdims=True)
    return noise.T


class SolarWindModel:
    """The true solar wind, reproducible from ``seed``."""

    def __init__(self, seed: int = 2025):
        self.seed = seed
        rng = np.random.default_rng([seed, 0])
        periods = np.array([27.0, 9.1, 3.3, 1.27, 0.41]) * DAY
        self._omega = 2 * np.pi / periods
        self._phase = rng.uniform(0, 2 * np.pi, size=(4, len(periods)))
        self._sector_phase = float(rng.uniform(0, 2 * np.pi))
        self._chunks: dict[int, np.ndarray] = {}

    # -- events ---------------------------------------------------------------------------
    def _rng(self, day: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, day + 1_000_000, stream])

    def shocks(self, day: int) -> list[Shock]:
        """Shocks arriving during ``day`` (days since epoch); about one every four days."""
        rng = self._rng(day, _SHOCKS)
        return [
            Shock(
                time=day * DAY + float(rng.uniform(0, DAY)),
                ratio=float(rng.uniform(1.6, 3.2)),
                speed_jump=float(rng.uniform(60, 220)),
                decay=float(rng.uniform(4, 14)) * HOUR,
            )
            for _ in range(rng.poisson(0.28))
        ]

    def sheaths(self, day: int) -> list[Sheath]:
        """Magnetosheath-like intervals starting during ``day``."""
        rng = self._rng(day, _SHEATHS)
        out = []
        for _ in range(rng.poisson(0.45)):
            start = day * DAY + float(rng.uniform(0, DAY))
            out.append(
                Sheath(
                    start=start,
                    stop=start + float(rng.uniform(1, 6)) * HOUR,
                    ramp=float(rng.uniform(3, 15)) * 60,
                    deflection=float(rng.choice([-1, 1]) * rng.uniform(40, 140)),
                )
            )
        return out

    def gaps(self, day: int, instrument: int) -> list[tuple[float, float]]:
        """Data gaps of an instrument (numbered by the caller) during ``day``."""
        rng = self._rng(day, _GAPS * 100 + instrument)
        out = []
        for _ in range(rng.poisson(1.2)):
            start = day * DAY + float(rng.uniform(0, DAY))
            length = float(np.exp(rng.uniform(np.log(60.0), np.log(2 * HOUR))))
            out.append((start, min(start + length, (day + 1) * DAY)))
        return out

    # -- continuous parts -------------------------------------------------------------------
    def _slow(self, t: np.ndarray, k: int) -> np.ndarray:
        """A slow variation in [-1, 1]: fixed-phase sinusoids of absolute time."""
        waves = np.sin(np.outer(t, self._omega) + self._phase[k])
        return waves @ (1.0 / np.arange(1, len(self._omega) + 1)) / 2.28

    def _chunk(self, hour: int) -> np.ndarray:
        if hour not in self._chunks:
            if len(self._chunks) > 200:
                self._chunks.clear()
            rng = self._rng(hour, _TURBULENCE)
            self._chunks[hour] = _kolmogorov_noise(rng, int(2 * HOUR), 6)
        return self._chunks[hour]

    def turbulence(self, t: np.ndarray) -> np.ndarray:
        """Unit-variance turbulence (n, 6) at times ``t``: Hann-windowed hourly chunks.

        Each chunk spans two hours from its start; with 50 % overlap the Hann windows sum
        to one, so the signal is continuous everywhere and any day can be made alone.
        """
        out = np.zeros((len(t), 6))
        if len(t) == 0:
            return out
        order = np.argsort(t, kind="stable")
        ordered = t[order]
        first = int(np.floor(ordered[0] / HOUR)) - 1
        last = int(np.floor(ordered[-1] / HOUR))
        for hour in range(first, last + 1):
            lo, hi = np.searchsorted(ordered, [hour * HOUR, (hour + 2) * HOUR])
            if lo == hi:
                continue
            rows = order[lo:hi]
            chunk = self._chunk(hour)
            position = ordered[lo:hi] - hour * HOUR
            index = np.clip(position.astype(np.int64), 0, len(chunk) - 2)
            frac = (position - index)[:, None]
            values = chunk[index] * (1 - frac) + chunk[index + 1] * frac
            window = np.sin(np.pi * position / (2 * HOUR)) ** 2
            out[rows] += values * window[:, None]
        return out / np.sqrt(0.75)  # sum of squared Hann windows averages 3/4

    # -- the state ----------------------------------------------------------------------------
    def state(self, t: np.ndarray) -> PlasmaState:
        """True plasma and field at times ``t`` (s since epoch)."""
        t = np.asarray(t, dtype=np.float64)
        speed = 430.0 + 90.0 * self._slow(t, 0)
        density = 5.5 * (430.0 / speed) ** 2 * (1 + 0.25 * self._slow(t, 1))
        temperature = 9.0e4 * (speed / 430.0) ** 3 * (1 + 0.15 * self._slow(t, 2))
        vy = 12.0 * self._slow(t, 3)
        vz = -8.0 * self._slow(t, 2)
        strength = 5.0 * np.sqrt(density / 5.5)
        turbulence_level = np.full(len(t), 0.25)
        inside = np.zeros(len(t))
        compression = np.ones(len(t))
        deflection = np.zeros(len(t))

        if len(t):
            days = range(int(t.min() // DAY) - 4, int(t.max() // DAY) + 1)
        else:
            days = range(0)
        for day in days:
            for shock in self.shocks(day):
                after = t >= shock.time
                decay = np.where(after, np.exp(-(t - shock.time) / shock.decay), 0.0)
                compression *= 1 + (shock.ratio - 1) * decay
                speed += shock.speed_jump * decay
                turbulence_level += 0.15 * decay
            for sheath in self.sheaths(day):
                w = (
                    0.25
                    * (1 + np.tanh((t - sheath.start) / sheath.ramp))
                    * (1 - np.tanh((t - sheath.stop) / sheath.ramp))
                )
                deflection = np.where(w > inside, sheath.deflection, deflection)
                inside = np.maximum(inside, w)
        # Being in the sheath is a state, not a sum: overlapping intervals do not compound.
        # A shock inside the sheath compresses the same plasma: take the stronger of the two.
        density *= np.maximum(compression, 1 + 2.5 * inside)
        strength *= np.maximum(compression, 1 + 2.5 * inside)
        temperature *= np.maximum(compression**1.5, 1 + 6.0 * inside)
        speed *= 1 - 0.55 * inside
        vy += deflection * inside
        turbulence_level += 0.2 * inside

        # Parker spiral at ~45 degrees with a four-sector polarity pattern.
        polarity = np.tanh(8 * np.sin(2 * np.pi * t / (27 * DAY / 4) + self._sector_phase))
        angle = np.arctan(speed / 430.0)
        background = np.column_stack(
            [-np.cos(angle) * polarity, np.sin(angle) * polarity, np.zeros(len(t))]
        )
        noise = np.clip(self.turbulence(t), -3.5, 3.5)
        field = strength[:, None] * (background + turbulence_level[:, None] * noise[:, :3])
        # Alfvenic fluctuations: velocity follows the field, v_A = 21.8 B / sqrt(n) km/s.
        alfven = 21.8 * strength / np.sqrt(density)
        velocity = np.column_stack([-speed, vy, vz]) - (
            (0.5 * alfven * turbulence_level)[:, None] * noise[:, :3] * polarity[:, None]
        )
        density = density * (1 + 0.04 * noise[:, 3])
        temperature = temperature * (1 + 0.05 * noise[:, 4])
        return PlasmaState(t, density, velocity, temperature, field)


def energy_table() -> np.ndarray:
    """Energy-per-charge steps of the plasma analyzer (eV/q), log-spaced, ascending."""
    from demo_mission.pls.instrument import ENERGIES

    return ENERGIES.copy()


def _omni_maxwellian(speed: np.ndarray, drift: np.ndarray, thermal: np.ndarray) -> np.ndarray:
    """Angle-averaged drifting Maxwellian per unit density, s^3/m^3, shape (times, steps)."""
    v = speed[None, :]
    u = drift[:, None]
    w = thermal[:, None]
    x = 4 * v * u / w**2
    # sinh(x/2)/(x/2) * exp(-(v^2+u^2)/w^2), written to stay finite for large x.
    factor = np.where(x > 1e-8, -np.expm1(-np.minimum(x, 700)) / np.maximum(x, 1e-300), 1.0)
    return np.exp(-((v - u) ** 2) / w**2) * factor / (np.pi**1.5 * w**3)


def count_rates(state: PlasmaState, energies: np.ndarray) -> np.ndarray:
    """Expected counts per sweep step: protons plus 4 % alphas (which appear at 2x E/q).

    Counts of an electrostatic analyzer with constant dE/E go as f(v) v^4; the constant
    is chosen so that a typical solar wind gives about 2e4 counts at the peak.
    """
    drift = np.linalg.norm(state.velocity, axis=1) * 1e3
    density = state.density * 1e6
    out = np.zeros((len(drift), len(energies)))
    for mass, charge, share, heat in ((1.0, 1.0, 0.96, 1.0), (4.0, 2.0, 0.04, 4.0)):
        m = mass * PROTON_MASS
        speed = np.sqrt(2 * charge * energies * ELEMENTARY_CHARGE / m)
        thermal = np.sqrt(2 * BOLTZMANN * heat * state.temperature / m)
        f = share * density[:, None] * _omni_maxwellian(speed, drift, thermal)
        out += f * speed[None, :] ** 4
    return out * 2.0e-8
