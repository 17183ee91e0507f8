"""Write the demo spacecraft's L0 telemetry and calibration files for a range of days."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from demo_mission.frames import MAG_TO_GSE, PLS_TO_GSE, to_sensor
from demo_mission.simulate import packets
from demo_mission.simulate.calibration import (
    Calibration,
    mag_calibration,
    period_start,
    pls_calibration,
)
from demo_mission.simulate.solar_wind import (
    DAY,
    SolarWindModel,
    count_rates,
    day_index,
    energy_table,
    seconds,
)

MAG_INSTRUMENT, PLS_INSTRUMENT = 1, 2
PLS_CADENCE = 4.0  # s per sweep
DEFAULT_SEED = 2025


def _write(path: Path, data: bytes) -> Path:
    """Write under a hidden name, then rename: a drop box never sees half a file."""
    temporary = path.with_name(f".{path.name}.part")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return path


def _outside_gaps(starts: np.ndarray, span: float, gaps: list[tuple[float, float]]) -> np.ndarray:
    keep = np.ones(len(starts), dtype=bool)
    for gap_start, gap_stop in gaps:
        keep &= (starts + span <= gap_start) | (starts >= gap_stop)
    return keep


def _apply(calibration: Calibration, names: tuple[str, ...], true: np.ndarray) -> np.ndarray:
    offsets = np.array([calibration.channel(n)[0] for n in names])
    gains = np.array([calibration.channel(n)[1] for n in names])
    return true * gains + offsets


def mag_day(
    model: SolarWindModel, seed: int, day: dt.date, *, rate_log2: int = 0, hours: float = 24.0
) -> bytes:
    """One day of magnetometer packets (``rate_log2 > 0``: burst mode, for benchmarks)."""
    rate = 2**rate_log2
    per_packet = packets.MAG_VECTORS_PER_PACKET
    span = per_packet / rate
    starts = seconds(day) + np.arange(int(hours * 3600 * rate) // per_packet) * span
    sequence = day_index(day) * len(starts) + np.arange(len(starts))
    keep = _outside_gaps(starts, span, model.gaps(day_index(day), MAG_INSTRUMENT))
    starts, sequence = starts[keep], sequence[keep]
    calibration = mag_calibration(seed, day)
    noise = np.random.default_rng([seed, day.toordinal(), 8])
    chunks = []
    block = max(1, 3600 * rate // per_packet)
    for first in range(0, len(starts), block):
        t0 = starts[first : first + block]
        times = (t0[:, None] + np.arange(per_packet) / rate).ravel()
        if rate == 1:
            field = model.state(times).field
        else:  # burst: the 1 Hz truth interpolated, plus sensor noise
            grid = np.arange(np.floor(times[0]), np.ceil(times[-1]) + 1)
            coarse = model.state(grid).field
            field = np.column_stack([np.interp(times, grid, coarse[:, k]) for k in range(3)])
            field += noise.normal(0, 0.02, field.shape)
        measured = _apply(calibration, ("x", "y", "z"), to_sensor(field, MAG_TO_GSE))
        chunks.append(
            packets.mag_packets(
                t0,
                measured.reshape(len(t0), per_packet, 3),
                sequence[first : first + block],
                rate_log2,
            )
        )
    return b"".join(chunks)


def pls_day(model: SolarWindModel, seed: int, day: dt.date) -> bytes:
    """One day of plasma packets, one per 4 s sweep."""
    times = seconds(day) + np.arange(0, DAY, PLS_CADENCE)
    sequence = day_index(day) * len(times) + np.arange(len(times))
    keep = _outside_gaps(times, PLS_CADENCE, model.gaps(day_index(day), PLS_INSTRUMENT))
    times, sequence = times[keep], sequence[keep]
    state = model.state(times)
    calibration = pls_calibration(seed, day)
    rng = np.random.default_rng([seed, day.toordinal(), 9])
    efficiency = np.array([calibration.channel(f"e{k:02d}")[1] for k in range(32)])
    counts = rng.poisson(count_rates(state, energy_table()) * efficiency + 0.5)
    density = _apply(calibration, ("density",), state.density[:, None])[:, 0]
    velocity = _apply(calibration, ("vx", "vy", "vz"), to_sensor(state.velocity, PLS_TO_GSE))
    temperature = _apply(calibration, ("temperature",), state.temperature[:, None])[:, 0]
    jitter = 1 + rng.normal(0, 0.005, (len(times), 3))
    return packets.pls_packets(
        times,
        density=density * jitter[:, 0],
        velocity=velocity,
        temperature=temperature * jitter[:, 2],
        counts=counts,
        sequence=sequence,
    )


def generate(
    start: dt.date,
    days: int,
    out: Path,
    *,
    mission: object,
    seed: int = DEFAULT_SEED,
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Write L0 files (one per instrument per day) and the calibrations valid for them.

    Parameters
    ----------
    start, days
        The first day and the number of days.
    out
        Folder to write into (created if missing).
    mission
        The loaded demo mission; its product patterns name the files.
    seed
        Same seed, same bytes.
    progress
        Called with each file written.

    Returns
    -------
    list[Path]
        The files written, calibrations first.
    """
    from socstack.mission import Version

    products = mission.products  # type: ignore[attr-defined]
    out.mkdir(parents=True, exist_ok=True)
    model = SolarWindModel(seed)
    version = Version(1, 0, 0)
    written: list[Path] = []

    def emit(
        product: str, day: dt.date, data: bytes | None, cal: Calibration | None = None
    ) -> None:
        path = out / products[product].file_name(day, version).name
        if cal is not None:
            temporary = path.with_name(f".{path.name}.part")
            cal.write_csv(temporary)
            os.replace(temporary, path)
        else:
            assert data is not None  # noqa: S101
            _write(path, data)
        written.append(path)
        if progress:
            progress(path)

    all_days = [start + dt.timedelta(days=k) for k in range(days)]
    for valid_from in sorted({period_start(d) for d in all_days}):
        emit("mag_cal", valid_from, None, mag_calibration(seed, valid_from))
        emit("pls_cal", valid_from, None, pls_calibration(seed, valid_from))
    for day in all_days:
        emit("mag_l0", day, mag_day(model, seed, day))
        emit("pls_l0", day, pls_day(model, seed, day))
    return written
