"""Jobs, reprocessing, provenance and metrics through the API, with the planner and jobs
run in this process (no broker: the same functions the workers call).

They ask as an operator, who sees and runs the pipeline; who else may is tested in
test_api_access.py."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import FileSource, Job, JobStatus
from socstack.pipeline.jobs import execute_job
from socstack.pipeline.planner import Planner
from socstack.pipeline.reprocess import Selection, reprocess
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.conftest import explicit_settings
from tests.integration.people import bearer, person

#: The demo's detector rules (queue mining), which read the days around their own.
MINING_RULES = ("shocks", "dense_plasma", "speed_changes")


def drain(
    runtime: Runtime, planner: Planner | None = None, sent: list[Job] | None = None
) -> list[Job]:
    """Plan every event and run every queued job here, until nothing is left."""
    if planner is None or sent is None:
        sent = []
        planner = Planner(runtime, sent.append)
    while True:
        planner.plan_events()
        planner.dispatch()
        if not sent:
            break
        for job in list(sent):
            execute_job(runtime, job.id, worker="test:1")
        sent.clear()
    return all_jobs(runtime)


def all_jobs(runtime: Runtime) -> list[Job]:
    with runtime.catalog.session() as session:
        return list(session.scalars(select(Job).order_by(Job.id)))


def operator(runtime: Runtime) -> TestClient:
    """A client of the API asking as an operator (scopes read and run)."""
    token = person(runtime, "ops", ["operators"], ["read", "run"])
    return TestClient(create_web_app(runtime), headers=bearer(token))


def migrated(tmp_path: Path, demo_copy: Path | None = None) -> Runtime:
    """A migrated runtime in ``tmp_path``, with the demo's first day ingested if given."""
    runtime = Runtime(explicit_settings(tmp_path / "data"))
    upgrade(runtime.catalog)
    for path in sorted(demo_copy.glob("*20250101*")) if demo_copy else ():
        runtime.ingestor.ingest(path, source=FileSource.CLI)
    return runtime


def test_the_api_shows_jobs_and_reprocesses(demo_copy: Path, tmp_path: Path) -> None:
    runtime = migrated(tmp_path, demo_copy)
    every = drain(runtime)
    jobs = [j for j in every if j.status == JobStatus.SUCCEEDED]
    # A detector reads the days around its own (an event across midnight is found whole):
    # the first day's arrival also plans the mining of its neighbours, which wait for them.
    waiting = {(j.rule, j.partition, j.status) for j in every if j not in jobs}
    assert waiting == {
        (rule, day, JobStatus.BLOCKED)
        for rule in MINING_RULES
        for day in ("2024-12-31", "2025-01-02")
    }
    assert {j.rule for j in jobs} == {
        "mag_l1a",
        "mag_l1b",
        "mag_l2",
        "mag_l2_1m",
        "pls_l1a",
        "pls_l1b",
        "pls_l2",
        "sw_l2",
        "mag_ql",
        "pls_ql",
        "shocks",
        "dense_plasma",
        "speed_changes",
    }
    assert len(jobs) == 13 and {j.partition for j in jobs} == {"2025-01-01"}
    with operator(runtime) as client:
        listing = client.get("/api/jobs?limit=3").json()
        assert listing["total"] == 19
        assert listing["counts"] == {"succeeded": 13, "blocked": 6}
        assert len(listing["jobs"]) == 3 and listing["jobs"][0]["id"] == every[-1].id
        sw = client.get("/api/jobs?rule=sw_l2").json()["jobs"][0]
        detail = client.get(f"/api/jobs/{sw['id']}").json()
        assert detail["inputs"] == [
            "demo_mag_l2_1s-gse_20250101_v1.0.0.cdf",
            "demo_pls_l2_moments-gse_20250101_v1.0.0.cdf",
        ]
        assert detail["outputs"] == ["demo_sw_l2_derived_20250101_v1.0.0.cdf"]
        assert detail["attempts"] == 1 and detail["worker"] == "test:1" and detail["seconds"] >= 0
        assert "sw_l2 2025-01-01: demo_sw_l2_derived_20250101_v1.0.0.cdf" in detail["log_tail"]
        assert client.get("/api/jobs/99999").status_code == 404
        assert client.post(f"/api/jobs/{sw['id']}/retry").status_code == 409
        assert client.get("/api/jobs?status=nonsense").status_code == 422

        tree = client.get("/api/files/demo_sw_l2_derived_20250101_v1.0.0.cdf/provenance").json()
        leaves: list[str] = []

        def walk(node: dict) -> None:
            if not node["inputs"]:
                leaves.append(node["name"])
            for child in node["inputs"]:
                walk(child)

        walk(tree)
        assert sorted(set(leaves)) == [
            "demo_mag_anc_cal_20250101_v1.0.0.csv",
            "demo_mag_l0_raw_20250101_v1.0.0.pkts",
            "demo_pls_anc_cal_20250101_v1.0.0.csv",
            "demo_pls_l0_raw_20250101_v1.0.0.pkts",
        ], "the tree reaches the deliveries"
        assert tree["code_version"] == "1.0.0" and tree["job"] == sw["id"]

        unchanged = client.post(
            "/api/reprocess",
            json={
                "mission": "demo",
                "instrument": "mag",
                "start": "2025-01-01",
                "stop": "2025-01-31",
            },
        )
        assert unchanged.status_code == 202
        assert unchanged.json() | {"jobs": []} == {
            "selection": "mission=demo, instrument=mag",
            "rules": ["mag_l1a", "mag_l1b", "mag_l2", "mag_l2_1m", "mag_ql"],
            "planned": 0,
            "unchanged": 5,
            "blocked": 0,
            "following": 0,
            "jobs": [],
        }
        assert (
            client.post(
                "/api/reprocess", json={"rule": "nope", "start": "2025-01-01", "stop": "2025-01-02"}
            ).status_code
            == 404
        )
        assert (
            client.post(
                "/api/reprocess", json={"start": "2025-01-02", "stop": "2025-01-01"}
            ).status_code
            == 422
        )

        # a code version bump is a new dependency hash: reprocessing runs the rule again
        runtime.missions.mission("demo").rules["mag_l2"].code_version = "1.0.1"
        bumped = client.post(
            "/api/reprocess", json={"rule": "mag_l2", "start": "2025-01-01", "stop": "2025-01-01"}
        ).json()
        assert bumped["planned"] == 1
        drain(runtime)
        names = [f["name"] for f in client.get("/api/files?product=mag_l2").json()["files"]]
        assert names == ["demo_mag_l2_1s-gse_20250101_v1.0.1.cdf"]
        follow = client.get("/api/jobs?rule=sw_l2").json()
        assert follow["total"] == 2, "the combined product follows its new input by itself"

        metrics = client.get("/metrics").text
        # thirteen first jobs; then mag_l2 again, and the four rules that read it (shocks too)
        assert 'socstack_jobs{mission="demo",status="succeeded"} 18.0' in metrics
        assert 'socstack_job_latency_seconds_count{mission="demo"} 18.0' in metrics
        assert 'socstack_files{level="l2",mission="demo",status="superseded"}' in metrics


def test_a_blocked_job_says_what_it_waits_for(demo_copy: Path, tmp_path: Path) -> None:
    runtime = migrated(tmp_path)
    runtime.ingestor.ingest(
        demo_copy / "demo_mag_l0_raw_20250102_v1.0.0.pkts", source=FileSource.CLI
    )
    drain(runtime)
    with operator(runtime) as client:
        blocked = client.get("/api/jobs?status=blocked").json()["jobs"]
        assert [(j["rule"], j["partition"], j["missing"]) for j in blocked] == [
            ("mag_l1b", "2025-01-02", ["a mag calibration (mag_cal) valid on 2025-01-02"])
        ]
    runtime.ingestor.ingest(
        demo_copy / "demo_mag_anc_cal_20250101_v1.0.0.csv", source=FileSource.CLI
    )
    jobs = drain(runtime)
    assert [j.status for j in jobs if j.rule == "mag_l1b"] == [JobStatus.SUCCEEDED]
    assert dt.date(2025, 1, 2).isoformat() in {j.partition for j in jobs if j.rule == "mag_ql"}


def test_a_whole_mission_bump_runs_every_rule_once_more(demo_copy: Path, tmp_path: Path) -> None:
    runtime = migrated(tmp_path, demo_copy)
    first = [j for j in drain(runtime) if j.status == JobStatus.SUCCEEDED]
    for rule in runtime.missions.mission("demo").rules.values():
        rule.code_version = "1.0.1"
    with operator(runtime) as client:
        planned = client.post(
            "/api/reprocess", json={"mission": "demo", "start": "2025-01-01", "stop": "2025-01-01"}
        ).json()
        assert (planned["planned"], planned["following"]) == (2, 11), planned
        every = drain(runtime)
        assert {j.rule for j in every if j.id in planned["jobs"]} == {"mag_l1a", "pls_l1a"}
        assert len(first) == 13
        jobs = [j for j in every if j.status == JobStatus.SUCCEEDED]
        runs = Counter(j.rule for j in jobs)
        assert set(runs.values()) == {2}, f"every rule ran once more, not twice: {runs}"
        assert len(runs) == 13
        others = {j.status for j in every if j not in jobs}
        assert others <= {JobStatus.BLOCKED, JobStatus.SUPERSEDED}, others
        detail = client.get(f"/api/jobs/{jobs[-1].id}").json()
        assert 0 < detail["rule_seconds"] <= detail["seconds"]


def test_a_job_waits_for_remade_inputs_upstream_and_runs_once(
    demo_copy: Path, tmp_path: Path
) -> None:
    """The magnetometer chain ends first: the combined L2 waits for the plasma chain."""
    runtime = migrated(tmp_path, demo_copy)
    drain(runtime)
    for rule in runtime.missions.mission("demo").rules.values():
        rule.code_version = "1.0.1"
    reprocess(runtime, Selection(mission="demo"), dt.date(2025, 1, 1), dt.date(2025, 1, 1))
    sent: list[Job] = []
    planner = Planner(runtime, sent.append)

    def step(only: str) -> list[str]:
        """Plan, dispatch, and run the sent jobs of one instrument; the rest wait."""
        planner.plan_events()
        planner.dispatch()
        ran = []
        for job in list(sent):
            if job.rule.startswith(only):
                execute_job(runtime, job.id, worker="test:1")
                sent.remove(job)
                ran.append(job.rule)
        return ran

    assert step("mag") == ["mag_l1a"]
    assert step("mag") == ["mag_l1b"]
    assert step("mag") == ["mag_l2"]
    assert sorted(step("mag")) == ["mag_l2_1m", "mag_ql"]
    planner.plan_events()
    planner.dispatch()
    held = [j for j in all_jobs(runtime) if j.rule == "sw_l2"][1:]
    assert [(j.status, j.dispatched_at) for j in held] == [(JobStatus.QUEUED, None)], (
        "planned with the new mag_l2, but held while the plasma chain is still to run"
    )
    assert step("pls") == ["pls_l1a"]
    assert step("pls") == ["pls_l1b"]
    assert step("pls") == ["pls_l2"]
    jobs = drain(runtime, planner, sent)
    runs = Counter(j.rule for j in jobs if j.status == JobStatus.SUCCEEDED)
    assert runs["sw_l2"] == 2, "once at first, once more: never on half-new inputs"
    assert [j.status for j in jobs if j.id == held[0].id] == [JobStatus.SUPERSEDED]
    with operator(runtime) as client:
        names = [
            f["name"] for f in client.get("/api/files?product=sw_l2&version=all").json()["files"]
        ]
    assert sorted(names) == [
        "demo_sw_l2_derived_20250101_v1.0.0.cdf",
        "demo_sw_l2_derived_20250101_v1.0.1.cdf",
    ]


def test_metrics_carry_the_mission(demo_copy: Path, tmp_path: Path) -> None:
    """Two missions in one socstack: each one's jobs, files and latency apart."""
    from prometheus_client.parser import text_string_to_metric_families

    from tests.conftest import DEMO_MISSION
    from tests.integration.pipeline_stack import PIPETEST

    data = tmp_path / "data"
    runtime = Runtime(explicit_settings(data, missions=[DEMO_MISSION, PIPETEST]))
    upgrade(runtime.catalog)
    # demo: mag L0 without its calibration (L1A is made, L1B waits for the calibration)
    runtime.ingestor.ingest(
        demo_copy / "demo_mag_l0_raw_20250101_v1.0.0.pkts", source=FileSource.CLI
    )
    # pipetest: raw and calibration (calibrate, then finish; combine waits for aux)
    delivery = tmp_path / "pipetest"
    delivery.mkdir()
    for name, content in (
        ("pipetest_a_l0_raw_20250101_v1.0.0.csv", "value\n1\n2\n"),
        ("pipetest_a_anc_cal_20250101_v1.0.0.csv", "gain\n2\n"),
    ):
        (delivery / name).write_text(content)
        runtime.ingestor.ingest(delivery / name, source=FileSource.CLI)
    drain(runtime)
    with operator(runtime) as client:
        text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("socstack_jobs", mission="demo", status="succeeded") == 1
    assert value("socstack_jobs", mission="demo", status="blocked") == 1
    assert value("socstack_jobs", mission="pipetest", status="succeeded") == 2
    assert value("socstack_jobs", mission="pipetest", status="blocked") == 1
    assert value("socstack_jobs", mission="pipetest", status="failed") == 0, "zeros are shown"
    assert value("socstack_job_latency_seconds_count", mission="demo") == 1
    assert value("socstack_job_latency_seconds_count", mission="pipetest") == 2
    assert value("socstack_job_latency_seconds_bucket", mission="pipetest", le="+Inf") == 2
    assert value("socstack_files", mission="demo", level="l1a", status="archived") == 1
    assert value("socstack_files", mission="pipetest", level="l2", status="archived") == 1
    assert (
        "socstack_files",
        (("level", "l2"), ("mission", "demo"), ("status", "archived")),
    ) not in samples
    per_mission = {"socstack_jobs", "socstack_files", "socstack_job_latency_seconds_count"}
    unlabelled = [k for k in samples if k[0] in per_mission and "mission" not in dict(k[1])]
    assert unlabelled == [], "every per-mission sample says its mission"
    depths = [k for k in samples if k[0] == "socstack_queue_depth"]
    assert depths and all(dict(k[1]).keys() == {"queue"} for k in depths), "queues are shared"
