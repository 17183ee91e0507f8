"""Detectors as mission rules: planned on arrival, served over HAPI as interval datasets.

The demo simulator put a shock at 2025-01-01T07:51:40 and magnetosheath-like (dense)
intervals at 01:33 and 18:17 that day. The processed archive holds 2025-01-01 and 02 up to
L2; planning its events as the planner does, and running the jobs as a worker does,
triggers the mining rules of both days.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.catalog.models import File, FileStatus, Job, JobStatus, Provenance
from socstack.formats.cdf import read_variables
from socstack.hapi.app import create_app
from socstack.mining.detectors import DETECTORS
from socstack.pipeline.planner import Planner
from socstack.runtime import Runtime
from tests.conftest import drain, explicit_settings

DAY, NEXT = dt.date(2025, 1, 1), dt.date(2025, 1, 2)
SHOCK = np.datetime64("2025-01-01T07:51:40", "ns")
MINING = ("shocks", "dense_plasma", "speed_changes")


def lists(runtime: Runtime, product: str) -> list[File]:
    with runtime.catalog.session() as session:
        return list(
            session.scalars(
                select(File)
                .where((File.product == product) & (File.status == FileStatus.ARCHIVED))
                .order_by(File.partition)
            )
        )


def events(runtime: Runtime, row: File) -> dict[str, np.ndarray]:
    path = runtime.archive.local_path(row.uri)
    assert path is not None
    return read_variables(path, ["epoch", "stop", *_attributes(row.product)])


def _attributes(product: str) -> list[str]:
    return {
        "sw_l3_shocks": ["b_ratio", "n_ratio", "dv", "t_ratio"],
        "pls_l3_dense": ["peak", "mean", "duration"],
        "pls_l3_speedchanges": ["before", "after", "jump"],
    }[product]


@pytest.fixture(scope="module")
def mined(mined_archive: Path) -> Iterator[Runtime]:
    runtime = Runtime(explicit_settings(mined_archive))
    yield runtime
    runtime.close()


@pytest.fixture
def mined_copy(mined: Runtime, tmp_path: Path) -> Iterator[Runtime]:
    """A private copy of ``mined``, for a test that changes it."""
    shutil.copytree(mined.settings.data_dir, tmp_path / "mined", dirs_exist_ok=True)
    runtime = Runtime(explicit_settings(tmp_path / "mined"))
    yield runtime
    runtime.close()


@pytest.fixture
def hapi(mined: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(mined), raise_server_exceptions=False) as client:
        yield client


def test_an_arrival_triggers_every_detector_for_each_day(mined: Runtime) -> None:
    with mined.catalog.session() as session:
        jobs = session.scalars(select(Job).where(Job.rule.in_(MINING))).all()
    by_rule = {(j.rule, j.partition) for j in jobs if j.status == JobStatus.SUCCEEDED}
    assert by_rule == {(r, d.isoformat()) for r in MINING for d in (DAY, NEXT)}, [
        (j.rule, j.partition, j.status, j.error) for j in jobs
    ]
    assert {j.queue for j in jobs} == {"mining"}
    for product in ("sw_l3_shocks", "pls_l3_dense", "pls_l3_speedchanges"):
        assert [r.partition for r in lists(mined, product)] == [DAY.isoformat(), NEXT.isoformat()]


def test_the_shock_the_simulator_made_is_found_once(mined: Runtime) -> None:
    found = [events(mined, row) for row in lists(mined, "sw_l3_shocks")]
    starts = np.concatenate([f["epoch"] for f in found])
    assert len(starts) == 1, starts
    assert abs(starts[0] - SHOCK) <= np.timedelta64(120, "s"), starts
    first = found[0]
    assert first["b_ratio"][0] >= 1.2 and first["n_ratio"][0] >= 1.2 and first["dv"][0] >= 20


def test_an_event_list_records_its_inputs_and_detector_version(mined: Runtime) -> None:
    row = lists(mined, "sw_l3_shocks")[0]
    with mined.catalog.session() as session:
        parents = session.scalars(
            select(File.product)
            .join(Provenance, Provenance.input_id == File.id)
            .where(Provenance.output_id == row.id)
        ).all()
    # The days around are read for the margin: each input's three days where they exist.
    assert set(parents) == {"pls_l2", "mag_l2"} and len(parents) == 4
    assert row.code_version == "1.0.0+shock." + DETECTORS["shock"].version


def test_dense_intervals_overlap_the_simulated_sheaths(mined: Runtime) -> None:
    row = lists(mined, "pls_l3_dense")[0]
    found = events(mined, row)
    sheaths = [
        (np.datetime64("2025-01-01T01:33:40", "ns"), np.timedelta64(3 * 3600, "s")),
        (np.datetime64("2025-01-01T18:17:36", "ns"), np.timedelta64(int(3.2 * 3600), "s")),
    ]
    for start, length in sheaths:
        overlapping = (found["epoch"] < start + length) & (found["stop"] > start)
        assert overlapping.any(), (start, found["epoch"], found["stop"])
    assert np.all(found["stop"] >= found["epoch"])
    assert np.all(found["peak"] >= found["mean"])


# -- served over HAPI with overlap semantics -------------------------------------------------------


def _csv(client: TestClient, dataset: str, start: str, stop: str) -> list[list[str]]:
    response = client.get(f"/hapi/data?dataset={dataset}&start={start}&stop={stop}")
    assert response.status_code == 200, response.text
    return [line.split(",") for line in response.text.splitlines() if line]


def test_info_declares_interval_records(hapi: TestClient) -> None:
    info = hapi.get("/hapi/info?dataset=demo_dense_plasma").json()
    names = [p["name"] for p in info["parameters"]]
    assert names == ["Time", "stopTime", "peak", "mean", "duration"]
    assert info["parameters"][1]["type"] == "isotime"
    assert info["x_socstack"]["intervalBasedRecords"] is True


def test_a_request_starting_inside_an_event_returns_it(mined: Runtime, hapi: TestClient) -> None:
    found = events(mined, lists(mined, "pls_l3_dense")[0])
    start, stop = found["epoch"][0], found["stop"][0]
    assert stop - start > np.timedelta64(10, "m")
    inside = start + (stop - start) // 2
    rows = _csv(hapi, "demo_dense_plasma", f"{inside}Z"[:23] + "Z", f"{stop}"[:19] + "Z")
    assert rows[0][0].startswith(str(start)[:19]), rows
    assert rows[0][1].startswith(str(stop)[:19])
    assert float(rows[0][2]) == pytest.approx(found["peak"][0], rel=1e-6)
    # One that starts exactly where the event stops does not get it.
    after = _csv(hapi, "demo_dense_plasma", f"{stop}"[:29] + "Z", "2025-01-03T00:00:00Z")
    assert all(not r[0].startswith(str(start)[:19]) for r in after)


def test_every_overlapping_event_is_returned_across_days(mined: Runtime, hapi: TestClient) -> None:
    every = [events(mined, row) for row in lists(mined, "pls_l3_dense")]
    starts = np.concatenate([e["epoch"] for e in every])
    rows = _csv(hapi, "demo_dense_plasma", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")
    assert [r[0][:19] for r in rows] == [str(s)[:19] for s in starts]
    # The instants of the change points are returned only in [start, stop), as samples are.
    changes = np.concatenate(
        [events(mined, r)["epoch"] for r in lists(mined, "pls_l3_speedchanges")]
    )
    assert len(changes) > 0
    at = f"{changes[0]}"[:29] + "Z"
    rows = _csv(hapi, "demo_speed_changes", at, "2025-01-03T00:00:00Z")
    assert rows[0][0][:19] == str(changes[0])[:19]
    later = _csv(
        hapi,
        "demo_speed_changes",
        f"{changes[0] + np.timedelta64(1, 's')}"[:29] + "Z",
        "2025-01-03T00:00:00Z",
    )
    assert all(r[0][:19] != str(changes[0])[:19] for r in later)


# -- versions ---------------------------------------------------------------------------------------


def test_the_same_input_makes_no_second_version(mined_copy: Runtime) -> None:
    before = {r.name for r in lists(mined_copy, "sw_l3_shocks")}
    planner = Planner(mined_copy)
    mission = mined_copy.missions.mission("demo")
    with mined_copy.catalog.transaction() as session:
        planner.plan_partition(session, mission, mission.rules["shocks"], DAY, reason="test")
    drain(mined_copy)
    assert {r.name for r in lists(mined_copy, "sw_l3_shocks")} == before


def test_a_new_detector_version_makes_a_new_version(
    mined_copy: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = lists(mined_copy, "sw_l3_shocks")[0]
    monkeypatch.setitem(
        DETECTORS, "shock", dataclasses.replace(DETECTORS["shock"], version="1.0.1")
    )
    runtime = Runtime(mined_copy.settings)  # the mission loads again: its code version too
    try:
        mission = runtime.missions.mission("demo")
        assert mission.rules["shocks"].code_version == "1.0.0+shock.1.0.1"
        from socstack.pipeline.runner import run_rule

        result = run_rule(runtime, mission, mission.rules["shocks"], DAY)
        new = lists(runtime, "sw_l3_shocks")[0]
    finally:
        runtime.close()
    assert [a.name for a in result.archived] == [new.name]
    assert (new.version_major, new.version_minor, new.version_patch) == (
        old.version_major,
        old.version_minor,
        old.version_patch + 1,
    )


@pytest.mark.parametrize("dataset", ["demo_shocks", "demo_dense_plasma", "demo_speed_changes"])
def test_one_parameter_reads_as_in_all_of_them(hapi: TestClient, dataset: str) -> None:
    """The verifier's FileContentSameOrConsistent: a number is spelled alike either way.

    A list's stopTime (isotime) sends its csv through the text writer, a request for one
    number through Arrow: both write 11140, not 11140.0 one way and 11140 the other.
    """
    info = hapi.get(f"/hapi/info?dataset={dataset}").json()
    span = "start=2025-01-01T00:00:00Z&stop=2025-01-03T00:00:00Z"
    every = hapi.get(f"/hapi/data?dataset={dataset}&{span}").text.splitlines()
    assert every, dataset
    for column, parameter in enumerate(info["parameters"][1:], start=1):
        name = parameter["name"]
        alone = hapi.get(f"/hapi/data?dataset={dataset}&parameters={name}&{span}").text
        assert [line.split(",")[1] for line in alone.splitlines()] == [
            line.split(",")[column] for line in every
        ], name
