"""A matrix-profile rule in a mission: each day's motifs and discords, made as days arrive.

The demo mission with its ``speed_changes`` rule made a ``matrix_profile`` rule instead
(its list's product declaring the detector's attributes), over the processed demo
days: planned on the days' arrival as the planner does and run as a worker does, each
day's list is served over HAPI, and planning a day again makes no second version.
stumpy compiles its kernels on first use (about half a minute, shared with the other
stumpy tests of the run).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.catalog.models import File, FileStatus
from socstack.hapi.app import create_app
from socstack.pipeline.planner import Planner
from socstack.runtime import Runtime
from tests.conftest import drain, explicit_settings
from tests.unit.test_mission_detectors import _mission_with

pytestmark = pytest.mark.slow

K = 2
DAYS = (dt.date(2025, 1, 1), dt.date(2025, 1, 2))
_VARIABLE = "UNITS: dimensionless, VAR_TYPE: data, DISPLAY_TYPE: time_series, LABLAXIS"
ATTRIBUTES = f"""\
global:
  Data_type: "L3>Level 3 event list"
  Descriptor: "SPEEDPROFILE>Motifs and discords of the solar-wind speed"
  Instrument_type: "Plasma and Solar Wind"
  TEXT: Each day's matrix profile of the L2 proton speed, its motifs and discords.
  Logical_source_description: Solar-wind speed motifs and discords
variables:
  epoch: {{CATDESC: "Start of the window, UTC"}}
  stop: {{CATDESC: "End of the window, UTC", FIELDNAM: Stop, UNITS: ns,
          VAR_TYPE: support_data, FILLVAL: .nan, LABLAXIS: Stop}}
  distance: {{CATDESC: Distance to the nearest other window, FIELDNAM: Distance,
              FILLVAL: -1.0e+31, VALIDMIN: 0.0, VALIDMAX: 1000.0, FORMAT: F8.4,
              {_VARIABLE}: Distance}}
  rank: {{CATDESC: Rank, FIELDNAM: Rank, FILLVAL: -9223372036854775808, VALIDMIN: 1,
          VALIDMAX: 50, FORMAT: I4, {_VARIABLE}: Rank}}
  discord: {{CATDESC: "1 for a discord, 0 for a motif", FIELDNAM: Discord,
             FILLVAL: -9223372036854775808, VALIDMIN: 0, VALIDMAX: 1, FORMAT: I1,
             {_VARIABLE}: Discord}}
"""


def _profile_rule(config: dict[str, Any]) -> None:
    rule = config["rules"]["speed_changes"]
    rule["detector"] = {
        "name": "matrix_profile",
        "variables": {"value": "pls_l2.speed"},
        "parameters": {"window": "PT1H", "k": K},
    }
    rule["margin"] = "PT0S"
    product = config["products"]["pls_l3_speedchanges"]
    product["options"]["variables"] = {"stop": [], "distance": [], "rank": [], "discord": []}
    config["datasets"]["demo_speed_changes"]["parameters"] = [
        {"name": n, "variable": n} for n in ("distance", "rank", "discord")
    ]
    config["datasets"]["demo_speed_changes"]["max_interval"] = "PT1H"


def _archived(runtime: Runtime) -> list[File]:
    with runtime.catalog.session() as session:
        return list(
            session.scalars(
                select(File).where(
                    (File.product == "pls_l3_speedchanges") & (File.status == FileStatus.ARCHIVED)
                )
            )
        )


def test_a_profile_rule_lists_each_days_motifs_and_discords(
    mined_archive: Path, tmp_path: Path
) -> None:
    folder = _mission_with(tmp_path, _profile_rule)
    (folder / "attributes" / "pls_l3_speedchanges.yaml").write_text(ATTRIBUTES)
    data = tmp_path / "data"
    shutil.copytree(mined_archive, data)
    runtime = Runtime(explicit_settings(data, missions=[folder]))
    try:
        mission = runtime.missions.mission("demo")
        rule = mission.rules["speed_changes"]
        assert rule.code_version.endswith("+matrix_profile.1.0.0")
        # Every other rule has run: the new code's days are planned, as a reprocess does.
        planner = Planner(runtime)
        with runtime.catalog.transaction() as session:
            for day in DAYS:
                planner.plan_partition(session, mission, rule, day, reason="new detector")
        drain(runtime)
        made = [f for f in _archived(runtime) if "+matrix_profile" in (f.code_version or "")]
        assert sorted(f.partition for f in made) == ["2025-01-01", "2025-01-02"]
        with TestClient(create_app(runtime), raise_server_exceptions=False) as hapi:
            url = "/hapi/data?dataset=demo_speed_changes&start=2025-01-01&stop=2025-01-03"
            rows = [line.split(",") for line in hapi.get(url).text.split()]
        assert len(rows) == 2 * 2 * K, rows  # per day, K motifs and K discords
        for start, stop, distance, rank, discord in rows:
            length = dt.datetime.fromisoformat(stop) - dt.datetime.fromisoformat(start)
            assert length == dt.timedelta(hours=1)
            # 64-bit integers in the CDF are HAPI doubles (HAPI's integers are 32-bit)
            assert float(distance) >= 0 and float(rank) in range(1, K + 1)
            assert float(discord) in (0, 1)
        assert sum(float(r[4]) == 1 for r in rows) == 2 * K
        # a day planned again with the same input and detector: no second version
        with runtime.catalog.transaction() as session:
            planner.plan_partition(session, mission, rule, DAYS[0], reason="test")
        drain(runtime)
        assert {f.name for f in _archived(runtime)} == {f.name for f in made}
    finally:
        runtime.close()
