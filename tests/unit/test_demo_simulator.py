"""The demo spacecraft: repeatable, physically plausible, and decodable with its XTCE."""

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from socstack.formats import get
from socstack.mission import MissionRegistry, load_callable

# The demo mission's own code: imported the way the core imports it.
pytest.importorskip("space_packet_parser")


@pytest.fixture(scope="module")
def sim(demo_missions: MissionRegistry):
    mission = demo_missions.mission("demo")
    load_callable(mission, mission.simulator or "", field="simulator")
    import demo_mission.simulate.spacecraft as generate
    from demo_mission import frames
    from demo_mission.simulate import calibration, packets, solar_wind

    class Sim:
        pass

    out = Sim()
    out.generate, out.calibration, out.packets, out.solar_wind, out.frames = (
        generate,
        calibration,
        packets,
        solar_wind,
        frames,
    )
    out.mission = mission
    return out


def test_same_seed_same_bytes(sim, tmp_path: Path) -> None:
    day = dt.date(2025, 2, 3)
    one = sim.generate.generate(day, 1, tmp_path / "one", mission=sim.mission)
    two = sim.generate.generate(day, 1, tmp_path / "two", mission=sim.mission)
    other = sim.generate.generate(day, 1, tmp_path / "three", mission=sim.mission, seed=7)
    assert [p.name for p in one] == [p.name for p in two]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(one, two, strict=True))
    assert any(a.read_bytes() != c.read_bytes() for a, c in zip(one, other, strict=True))
    assert not list((tmp_path / "one").glob(".*")), "no temporary files may remain"


def test_files_are_one_per_instrument_per_day_plus_calibrations(sim, tmp_path: Path) -> None:
    written = sim.generate.generate(dt.date(2025, 1, 6), 3, tmp_path, mission=sim.mission)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "demo_mag_anc_cal_20250101_v1.0.0.csv",  # valid from the start of the period
            "demo_pls_anc_cal_20250101_v1.0.0.csv",
            "demo_mag_anc_cal_20250108_v1.0.0.csv",  # a new period starts on the 8th
            "demo_pls_anc_cal_20250108_v1.0.0.csv",
            *[f"demo_{i}_l0_raw_2025010{d}_v1.0.0.pkts" for i in ("mag", "pls") for d in (6, 7, 8)],
        ]
    )


def test_mag_telemetry_decodes_to_the_true_field(
    sim, demo_files: Path, demo_missions: MissionRegistry
) -> None:
    name = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
    decoded = get("ccsds").read(demo_files / name, demo_missions.parse_name(name)[0])
    counts = decoded["VECTORS"].values.copy().view(">i2").reshape(-1, 60, 3)
    resolution = sim.packets.mag_resolution(decoded["RANGE"].values)[:, None, None]
    measured = (counts * resolution).reshape(-1, 3)
    cal = sim.calibration.mag_calibration(2025, dt.date(2025, 1, 1))
    sensor = (measured - cal.offsets) / cal.gains
    field = sim.frames.to_gse(sensor, sim.frames.MAG_TO_GSE)
    start = decoded["SHCOARSE"].values + decoded["SHFINE"].values / 65536.0
    times = (start[:, None] + np.arange(60)).ravel()
    truth = sim.solar_wind.SolarWindModel(2025).state(times).field
    assert np.abs(field - truth).max() < 0.02  # quantisation of range 0 or 1
    assert 1.0 < np.median(np.linalg.norm(truth, axis=1)) < 20.0


def test_plasma_telemetry_decodes_to_the_true_moments(
    sim, demo_files: Path, demo_missions: MissionRegistry
) -> None:
    name = "demo_pls_l0_raw_20250101_v1.0.0.pkts"
    decoded = get("ccsds").read(demo_files / name, demo_missions.parse_name(name)[0])
    cal = sim.calibration.pls_calibration(2025, dt.date(2025, 1, 1))
    times = decoded["SHCOARSE"].values + decoded["SHFINE"].values / 65536.0
    truth = sim.solar_wind.SolarWindModel(2025).state(times)
    offset, gain = cal.channel("density")
    density = (decoded["DENSITY"].values - offset) / gain
    assert np.median(np.abs(density / truth.density - 1)) < 0.01
    sensor = np.column_stack([decoded[k].values for k in ("VX", "VY", "VZ")])
    offsets = np.array([cal.channel(k)[0] for k in ("vx", "vy", "vz")])
    gains = np.array([cal.channel(k)[1] for k in ("vx", "vy", "vz")])
    velocity = sim.frames.to_gse((sensor - offsets) / gains, sim.frames.PLS_TO_GSE)
    assert np.abs(velocity - truth.velocity).max() < 0.2  # 0.1 km/s steps
    counts = decoded["COUNTS"].values.copy().view(">u4")
    assert counts.shape[1] == 32
    peak = sim.solar_wind.energy_table()[np.median(counts, axis=0).argmax()]
    assert 300.0 < peak < 3000.0, "the solar-wind proton peak sits near 1 keV"


def test_the_solar_wind_is_plausible_and_has_events(sim) -> None:
    model = sim.solar_wind.SolarWindModel(2025)
    first = sim.solar_wind.day_index(dt.date(2025, 1, 1))
    t = sim.solar_wind.seconds(dt.date(2025, 1, 1)) + np.arange(0, 60 * 86400, 4.0)
    state = model.state(t)
    speed = np.linalg.norm(state.velocity, axis=1)
    strength = np.linalg.norm(state.field, axis=1)
    assert 300 < np.median(speed) < 550 and speed.min() > 100 and speed.max() < 900
    assert 3 < np.median(state.density) < 10 and state.density.max() < 100
    assert 4e4 < np.median(state.temperature) < 3e5
    assert 3 < np.median(strength) < 10 and strength.max() < 100
    shocks = [s for d in range(first, first + 60) for s in model.shocks(d)]
    sheaths = [s for d in range(first, first + 60) for s in model.sheaths(d)]
    assert len(shocks) >= 5 and len(sheaths) >= 10
    for shock in shocks:
        before = model.state(np.array([shock.time - 600.0]))
        after = model.state(np.array([shock.time + 600.0]))
        assert after.density[0] > 1.3 * before.density[0] or any(
            s.start - 6 * 3600 < shock.time < s.stop + 6 * 3600 for s in sheaths
        ), "a shock compresses the plasma unless the spacecraft is in a sheath"
        jump = np.linalg.norm(after.velocity) - np.linalg.norm(before.velocity)
        assert jump > 0.5 * shock.speed_jump - 60
    inside = sheaths[0].start + 0.5 * (sheaths[0].stop - sheaths[0].start)
    quiet = np.ones(len(t), dtype=bool)
    for s in sheaths:
        quiet &= (t < s.start - 7200) | (t > s.stop + 7200)
    hot = model.state(np.array([inside])).temperature[0]
    assert hot > 2.5 * np.median(state.temperature[quiet])


def test_days_join_without_a_jump(sim) -> None:
    model = sim.solar_wind.SolarWindModel(2025)
    midnight = sim.solar_wind.seconds(dt.date(2025, 1, 2))
    around = model.state(np.array([midnight - 1.0, midnight, midnight + 1.0])).field
    step = np.abs(np.diff(around, axis=0)).max()
    typical = np.abs(np.diff(model.state(midnight + np.arange(3600.0)).field, axis=0))
    assert step < 5 * np.percentile(typical, 99)


def test_gaps_drop_packets(sim, demo_files: Path, demo_missions: MissionRegistry) -> None:
    model = sim.solar_wind.SolarWindModel(2025)
    day = sim.solar_wind.day_index(dt.date(2025, 1, 1))
    gaps = model.gaps(day, sim.generate.MAG_INSTRUMENT)
    name = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
    decoded = get("ccsds").read(demo_files / name, demo_missions.parse_name(name)[0])
    starts = decoded["SHCOARSE"].values.astype(float)
    missing = 1440 - len(starts)
    assert gaps and missing > 0
    for gap_start, gap_stop in gaps:
        assert not np.any((starts + 60 > gap_start) & (starts < gap_stop))
