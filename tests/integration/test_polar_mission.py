"""A second mission, unlike the demo, end to end: drop box to HAPI with real processes.

The polar mission (tests/data/missions/polar) was written from docs/missions.md: a
ground station's IAGA-2002 text files without versions, whose level 1 takes the day
before, the day and the day after (three inputs of one product); an analyzer with a file
format the mission brings, energy tables that expire and move the channels, and a day in
safe mode with nothing to make; a level 2 combining both over windows that require all
or any of their days; the mission's and the analyzer's spans.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from socstack.catalog.models import JobStatus
from socstack.mission import load_callable
from tests.integration.pipeline_stack import Stack

POLAR = Path(__file__).resolve().parent.parent / "data" / "missions" / "polar"
START = dt.date(2025, 3, 1)
DAYS = [START + dt.timedelta(days=n) for n in range(6)]
SECOND_TABLE = "polar_esa_anc_table_20250305_20250331_v1.0.0.csv"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    data = tmp_path / "data"
    built = Stack(
        data,
        f"sqlite:///{data / 'catalog.sqlite'}",
        f"sqla+sqlite:///{data / 'broker.sqlite'}",
        missions=POLAR,
    )
    built.env["SOC_WATCH_SETTLE"] = "0.3"
    built.env["SOC_WATCH_INTERVAL"] = "0.1"
    yield built
    built.close()


def simulate(stack: Stack, folder: Path) -> list[Path]:
    result = stack.cli(
        "demo", "generate", "--mission", "polar", "--start", "2025-03-01", "--days", "6",
        "--out", str(folder),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return sorted(folder.iterdir())


def status(stack: Stack) -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(rule, day) -> (status, missing) of each rule's newest job per day."""
    out: dict[tuple[str, str], tuple[str, list[str]]] = {}
    for job in stack.jobs():
        out[(job.rule, job.partition)] = (job.status.value, list(job.missing))
    return out


def hapi(stack: Stack) -> TestClient:
    from socstack.hapi.app import create_app

    return TestClient(create_app(stack.runtime), raise_server_exceptions=False)


def csv_rows(client: TestClient, dataset: str, parameters: str, start: str, stop: str) -> list:
    response = client.get(
        "/hapi/data",
        params={"dataset": dataset, "parameters": parameters, "start": start, "stop": stop},
    )
    assert response.status_code == 200, response.text
    return [line.split(",") for line in response.text.splitlines()]


@pytest.mark.slow
def test_the_polar_mission_from_drop_box_to_hapi(stack: Stack, tmp_path: Path) -> None:
    produced = simulate(stack, tmp_path / "generated")
    names = [p.name for p in produced]
    assert "kou20250301dmin.min" in names and SECOND_TABLE in names
    held = tmp_path / "held"
    held.mkdir()
    shutil.move(tmp_path / "generated" / SECOND_TABLE, held / SECOND_TABLE)
    incoming = stack.settings().incoming
    incoming.mkdir(parents=True, exist_ok=True)
    stack._start("watch", name="watch")
    stack.start_planner()
    stack.start_worker()
    for path in sorted((tmp_path / "generated").iterdir()):
        shutil.move(path, incoming / path.name)

    blocked_day = "2025-03-06"

    def first_pass_done() -> bool:
        jobs = status(stack)
        return (
            stack.all_done()
            and not any(incoming.iterdir())
            and jobs.get(("merged_l2", blocked_day), ("",))[0] == "blocked"
            and all(jobs.get(("gmag_l1", d.isoformat()), ("",))[0] == "succeeded" for d in DAYS)
        )

    stack.wait(first_pass_done, "the first deliveries processed", timeout=240)
    jobs = status(stack)

    # Versionless IAGA-2002 files are archived under their names with a version.
    assert stack.archived("gmag_l0") == {d.isoformat(): "1.0.0" for d in DAYS}
    # Level 1 of the station: its neighbours' files, none waited for beyond the span.
    for day in DAYS:
        assert jobs[("gmag_l1", day.isoformat())] == ("succeeded", [])
    assert ("gmag_l1", "2025-02-28") not in jobs and ("gmag_l1", "2025-03-07") not in jobs
    # The analyzer: no job before its span, a safe-mode day skipped, then a table expired.
    assert ("esa_l1", "2025-03-01") not in jobs
    assert jobs[("esa_l1", "2025-03-02")] == ("succeeded", [])
    assert jobs[("esa_l1", "2025-03-03")] == ("skipped", [])
    assert jobs[("esa_l1", "2025-03-04")] == ("succeeded", [])
    for day in ("2025-03-05", "2025-03-06"):
        assert jobs[("esa_l1", day)] == (
            "blocked",
            [f"an esa calibration (esa_cal) valid on {day}"],
        )
    # Level 2 takes all of its field days and any of its analyzer days.
    for day in ("2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04", "2025-03-05"):
        assert jobs[("merged_l2", day)] == ("succeeded", []), day
    assert jobs[("merged_l2", blocked_day)] == (
        "blocked",
        ["esa_l1 for any day of 2025-03-05 to 2025-03-06"],
    )
    skipped = [j for j in stack.jobs("esa_l1") if j.status == JobStatus.SKIPPED]
    assert skipped[0].reason == "the analyzer spent the whole day in safe mode"

    # The second energy table arrives: the days it holds run with their own bins.
    shutil.move(held / SECOND_TABLE, incoming / SECOND_TABLE)

    def tables_used() -> bool:
        jobs = status(stack)
        return stack.all_done() and all(
            jobs.get((rule, day), ("",))[0] == "succeeded"
            for rule in ("esa_l1", "merged_l2")
            for day in ("2025-03-05", "2025-03-06")
        )

    stack.wait(tables_used, "the second table used", timeout=120)
    assert stack.archived("merged_l2")["2025-03-05"] == "1.0.1", "remade with its new input"

    client = hapi(stack)
    info = client.get("/hapi/info", params={"dataset": "polar_esa_l1"}).json()
    eflux = next(p for p in info["parameters"] if p["name"] == "eflux")
    assert eflux["bins"][0]["centers"] == "energy_centers"
    rows = csv_rows(
        client, "polar_esa_l1", "energy_centers", "2025-03-04T23:59:00Z", "2025-03-05T00:01:00Z"
    )
    assert [r[0][:19] for r in rows] == ["2025-03-04T23:59:00", "2025-03-05T00:00:00"]
    before, after = (np.array(r[1:], dtype=float) for r in rows)
    assert np.allclose(after, before * 1.1, rtol=1e-4), "each day keeps its own table"

    field = csv_rows(client, "polar_gmag_l1", "F", "2025-03-02T00:00:00Z", "2025-03-03T00:00:00Z")
    assert len(field) == 1440
    gap = [r for r in field if r[0].startswith("2025-03-02T10:0")]
    assert len(gap) == 10 and all(r[1] == "NaN" for r in gap), "IAGA fill values are NaN"

    # The station resends a corrected day without a version: the next revision, and the
    # level 1 of the days whose running mean reaches into it are made again.
    corrected = tmp_path / "kou20250303dmin.min"
    mission = stack.runtime.missions.mission("polar")
    iaga_day = load_callable(mission, "polar_code.simulate:iaga_day", field="test")
    corrected.write_text(iaga_day(dt.date(2025, 3, 3), 11, shift=5.0), encoding="ascii")
    shutil.move(corrected, incoming / corrected.name)

    def corrected_through() -> bool:
        return stack.all_done() and stack.archived("gmag_l1").get("2025-03-04") == "1.0.1"

    stack.wait(corrected_through, "the corrected day processed", timeout=120)
    versions = stack.versions("gmag_l0")
    assert ("2025-03-03", "1.0.0", "superseded") in versions
    assert ("2025-03-03", "1.0.1", "archived") in versions
    assert {d: v for d, v in stack.archived("gmag_l1").items() if v != "1.0.0"} == {
        "2025-03-02": "1.0.1",
        "2025-03-03": "1.0.1",
        "2025-03-04": "1.0.1",
    }
    catalog = {d["id"] for d in client.get("/hapi/catalog").json()["catalog"]}
    assert catalog == {"polar_gmag_l1", "polar_esa_l1", "polar_merged_l2"}
