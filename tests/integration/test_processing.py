"""The demo mission's processing chain through the real runner: right numbers, right versions."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import File, FileSource, FileStatus, Provenance
from socstack.formats.cdf import read_variables
from socstack.mission.model import Mission
from socstack.pipeline.runner import MissingInputsError, run_rule
from socstack.runtime import Runtime
from tests.conftest import (
    CHAIN,
    create_postgres_database,
    drop_postgres_database,
    explicit_settings,
)

DAY = dt.date(2025, 1, 1)


def ingest(runtime: Runtime, folder: Path, pattern: str = "*") -> None:
    for path in sorted(folder.glob(pattern)):
        runtime.ingestor.ingest(path, source=FileSource.CLI)


def run_chain(runtime: Runtime, mission: Mission, day: dt.date = DAY) -> None:
    for rule in CHAIN:
        run_rule(runtime, mission, mission.rules[rule], day)


def archived(runtime: Runtime, product: str, day: dt.date = DAY) -> File:
    with runtime.catalog.session() as session:
        return session.scalars(
            select(File).where(
                (File.product == product)
                & (File.partition == day.isoformat())
                & (File.status == FileStatus.ARCHIVED)
            )
        ).one()


def local(runtime: Runtime, row: File) -> Path:
    path = runtime.archive.local_path(row.uri)
    assert path is not None
    return path


@pytest.fixture
def processed(runtime: Runtime, demo_copy: Path) -> Mission:
    """DAY ingested and processed in ``runtime``, for a test that goes on from there."""
    ingest(runtime, demo_copy, "*20250101*")
    mission = runtime.missions.mission("demo")
    run_chain(runtime, mission)
    return mission


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def processed_day(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_files: Path
) -> Iterator[Runtime]:
    """DAY ingested and processed once per catalog backend, for the tests that only read."""
    folder = tmp_path_factory.mktemp("processing")
    postgres = request.param == "postgresql"
    url = create_postgres_database("socstack_processing") if postgres else ""
    runtime = Runtime(explicit_settings(folder, **({"database_url": url} if postgres else {})))
    upgrade(runtime.catalog)
    ingest(runtime, demo_files, "*20250101*")
    run_chain(runtime, runtime.missions.mission("demo"))
    yield runtime
    runtime.close()
    if postgres:
        drop_postgres_database(url)


@pytest.fixture(scope="module")
def truth():
    from socstack.mission import load_callable, load_missions
    from tests.conftest import DEMO_MISSION

    mission = load_missions([DEMO_MISSION]).mission("demo")
    load_callable(mission, mission.simulator or "", field="simulator")
    from demo_mission.simulate.solar_wind import SolarWindModel

    return SolarWindModel(2025)


def _seconds(epoch: np.ndarray) -> np.ndarray:
    return (epoch - np.datetime64("2010-01-01", "ns")).astype(np.int64) / 1e9


def test_mag_l2_is_the_true_field_in_gse(processed_day: Runtime, truth) -> None:
    runtime = processed_day
    data = read_variables(local(runtime, archived(runtime, "mag_l2")), ["epoch", "b_gse", "b_mag"])
    assert len(data["epoch"]) == 86400, "a full day on the 1 s grid"
    good = data["b_gse"][:, 0] > -1e30
    assert 0.8 * 86400 < good.sum() < 86400, "gaps are fill values"
    expected = truth.state(_seconds(data["epoch"][good])).field
    assert np.abs(data["b_gse"][good] - expected).max() < 0.02
    assert np.allclose(data["b_mag"][good], np.linalg.norm(expected, axis=1), atol=0.03)


def test_the_mag_summary_holds_each_minutes_extremes_and_mean(processed_day: Runtime) -> None:
    runtime = processed_day
    l2 = read_variables(local(runtime, archived(runtime, "mag_l2")), ["epoch", "b_gse", "b_mag"])
    names = ["epoch", "b_gse", "b_gse_min", "b_gse_max", "b_mag", "b_mag_min", "b_mag_max"]
    summary = read_variables(local(runtime, archived(runtime, "mag_l2_1m")), names)
    assert len(summary["epoch"]) == 1440
    np.testing.assert_array_equal(summary["epoch"], l2["epoch"][::60])
    for name, shape in (("b_gse", (1440, 60, 3)), ("b_mag", (1440, 60))):
        seconds = np.where(l2[name] < -1e30, np.nan, l2[name]).reshape(shape)
        empty = np.isnan(seconds).all(axis=1)
        assert 0 < empty.sum() < 0.2 * empty.size, "the simulated gaps empty some minutes"
        full = ~empty if empty.ndim == 1 else ~empty[:, 0]
        np.testing.assert_array_equal(summary[f"{name}_min"][full], np.nanmin(seconds[full], 1))
        np.testing.assert_array_equal(summary[f"{name}_max"][full], np.nanmax(seconds[full], 1))
        np.testing.assert_allclose(summary[name][full], np.nanmean(seconds[full], 1), rtol=1e-12)
        for suffix in ("", "_min", "_max"):
            assert (summary[name + suffix][~full] == -1e31).all(), "empty minutes hold the fill"


def test_pls_l2_is_the_true_plasma(processed_day: Runtime, truth) -> None:
    runtime = processed_day
    data = read_variables(
        local(runtime, archived(runtime, "pls_l2")),
        [
            "epoch",
            "density",
            "velocity_gse",
            "temperature",
            "eflux",
            "energy",
            "energy_min",
            "energy_max",
        ],
    )
    state = truth.state(_seconds(data["epoch"]))
    assert np.median(np.abs(data["density"] / state.density - 1)) < 0.01
    assert np.abs(data["velocity_gse"] - state.velocity).max() < 0.5
    assert np.median(np.abs(data["temperature"] / state.temperature - 1)) < 0.01
    peak = data["energy"][np.median(data["eflux"], axis=0).argmax()]
    assert 300 < peak < 3000
    assert np.all(data["energy_min"] < data["energy"]) and np.all(
        data["energy"] < data["energy_max"]
    )
    assert np.allclose(data["energy_max"][:-1], data["energy_min"][1:])


def test_combined_parameters_follow_from_both_instruments(processed_day: Runtime) -> None:
    runtime = processed_day
    sw = read_variables(
        local(runtime, archived(runtime, "sw_l2")),
        ["epoch", "b_avg", "beta", "v_alfven", "p_dyn", "mach_alfven"],
    )
    pls = read_variables(
        local(runtime, archived(runtime, "pls_l2")), ["epoch", "density", "speed", "temperature"]
    )
    assert np.array_equal(sw["epoch"], pls["epoch"])
    ok = sw["beta"] > -1e30
    assert ok.mean() > 0.8
    b = np.linalg.norm(sw["b_avg"][ok], axis=1) * 1e-9
    n = pls["density"][ok] * 1e6
    mu0, k, mp = 4e-7 * np.pi, 1.380649e-23, 1.67262192e-27
    assert np.allclose(
        sw["beta"][ok], n * k * pls["temperature"][ok] / (b**2 / (2 * mu0)), rtol=1e-9
    )
    assert np.allclose(sw["v_alfven"][ok], b / np.sqrt(mu0 * n * mp) / 1e3, rtol=1e-9)
    assert np.allclose(sw["mach_alfven"][ok], pls["speed"][ok] / sw["v_alfven"][ok], rtol=1e-9)
    assert 0.05 < np.median(sw["beta"][ok]) < 20
    assert 0.5 < np.median(sw["p_dyn"][ok]) < 5, "solar-wind dynamic pressure is a few nPa"


def test_outputs_record_their_provenance(processed_day: Runtime) -> None:
    runtime = processed_day
    l2 = archived(runtime, "mag_l2")
    l1b = archived(runtime, "mag_l1b")
    assert (l2.source, l2.code_version, l2.quality) == (FileSource.PIPELINE, "1.0.0", 1)
    with runtime.catalog.session() as session:
        parents = set(
            session.scalars(
                select(File.name)
                .join(Provenance, Provenance.input_id == File.id)
                .where(Provenance.output_id == l1b.id)
            )
        )
    assert parents == {
        "demo_mag_l1a_raw_20250101_v1.0.0.cdf",
        "demo_mag_anc_cal_20250101_v1.0.0.csv",
    }
    import cdflib

    attrs = cdflib.CDF(local(runtime, l1b)).globalattsget()
    assert sorted(attrs["Parents"]) == sorted(parents)
    assert attrs["Logical_source"] == ["demo_mag_l1b_sensor"]
    assert attrs["Data_version"] == ["1.0.0"]
    assert attrs["Project"] == ["socstack>socstack demo mission"]
    variable = cdflib.CDF(local(runtime, archived(runtime, "mag_l2"))).varattsget("b_gse")
    assert (variable["UNITS"], variable["DEPEND_0"], variable["LABL_PTR_1"]) == (
        "nT",
        "epoch",
        "b_gse_label",
    )


def test_versions_follow_calibration_code_and_interface(
    runtime: Runtime, processed: Mission, demo_copy: Path, tmp_path: Path
) -> None:
    mission = processed
    assert run_rule(runtime, mission, mission.rules["mag_l1b"], DAY).archived == [], (
        "same inputs: no-op"
    )
    # a new calibration version valid for the day: L1B bumps Y
    recal = tmp_path / "demo_mag_anc_cal_20250101_v1.1.0.csv"
    shutil.copy(demo_copy / "demo_mag_anc_cal_20250101_v1.0.0.csv", recal)
    ingest(runtime, tmp_path, recal.name)
    (result,) = run_rule(runtime, mission, mission.rules["mag_l1b"], DAY).archived
    assert result.name == "demo_mag_l1b_sensor_20250101_v1.1.0.cdf"
    # L2's only input changed (a new L1B version): Z goes up
    (result,) = run_rule(runtime, mission, mission.rules["mag_l2"], DAY).archived
    assert result.name == "demo_mag_l2_1s-gse_20250101_v1.0.1.cdf"
    # a code version bump: Z
    rule = mission.rules["mag_l2"].model_copy(update={"code_version": "1.0.1"})
    (result,) = run_rule(runtime, mission, rule, DAY).archived
    assert result.name == "demo_mag_l2_1s-gse_20250101_v1.0.2.cdf"
    # a quality change: Y
    rule = rule.model_copy(update={"quality": 2})
    (result,) = run_rule(runtime, mission, rule, DAY).archived
    assert result.name == "demo_mag_l2_1s-gse_20250101_v1.1.0.cdf"
    # an interface change: X
    outputs = [o.model_copy(update={"interface": 2}) for o in rule.outputs]
    rule = rule.model_copy(update={"outputs": outputs})
    (result,) = run_rule(runtime, mission, rule, DAY).archived
    assert result.name == "demo_mag_l2_1s-gse_20250101_v2.0.0.cdf"
    with runtime.catalog.session() as session:
        statuses = dict(
            session.execute(select(File.version, File.status).where(File.product == "mag_l2")).all()
        )
    assert statuses == {
        "1.0.0": FileStatus.SUPERSEDED,
        "1.0.1": FileStatus.SUPERSEDED,
        "1.0.2": FileStatus.SUPERSEDED,
        "1.1.0": FileStatus.SUPERSEDED,
        "2.0.0": FileStatus.ARCHIVED,
    }


def test_a_missing_input_blocks_the_rule(runtime: Runtime, demo_copy: Path) -> None:
    ingest(runtime, demo_copy, "demo_mag_l0_*20250101*")
    mission = runtime.missions.mission("demo")
    run_rule(runtime, mission, mission.rules["mag_l1a"], DAY)
    with pytest.raises(MissingInputsError) as caught:
        run_rule(runtime, mission, mission.rules["mag_l1b"], DAY)
    assert caught.value.missing == ["a mag calibration (mag_cal) valid on 2025-01-01"]
    with pytest.raises(MissingInputsError, match="mag_l0 for 2025-01-02"):
        run_rule(runtime, mission, mission.rules["mag_l1a"], DAY + dt.timedelta(days=1))
