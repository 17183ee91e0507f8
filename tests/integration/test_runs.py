"""Notebook runs end to end: real planner and worker processes, a real kernel, the API.

A run is submitted over the API, dispatched by the planner to a worker on the
``analysis`` queue, executed by papermill in a kernel of the venv's interpreter, and
its outputs archived: the executed notebook, its HTML (sandboxed), its figures, its
provenance and the dataset it published, as a product with the files it read as inputs.
Then the failures papermill users report, each timed: a SIGKILLed kernel, a run past
its timeout, a kernel over its memory limit, a worker killed mid-run.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.api.app import create_app
from socstack.catalog.models import File, FileSource, JobStatus, Provenance
from socstack.catalog.runs import Run
from socstack.config import Settings, get_settings
from socstack.mission import Version
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.integration.people import bearer, person
from tests.integration.pipeline_stack import Stack
from tests.integration.test_pipeline import _broker_url, _catalog_url

RUNTEST = Path(__file__).resolve().parent.parent / "data" / "missions" / "runtest"
DAY = dt.date(2025, 3, 1)
ADMIN = "soc_0123456789abcdef_" + "a" * 43
ENDED = {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT}


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.integration)])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    broker = request.param
    pipeline = Stack(
        tmp_path / "data",
        _catalog_url(request, tmp_path, broker),
        _broker_url(broker, tmp_path),
        missions=RUNTEST,
    )
    # The worker's admin token (a deployment's secret) must never reach a kernel.
    pipeline.env.update(SOC_RUN_TIMEOUT="30", SOC_RUN_MEMORY_MB="400", SOC_ADMIN_TOKEN=ADMIN)
    pipeline.reload()
    yield pipeline
    for process in pipeline.processes:  # nothing of theirs is kept: no warm shutdown
        Stack.kill(process)
    pipeline.close()


def start_worker(stack: Stack) -> Any:
    return stack._start("worker", "--queues", "analysis", "--concurrency", "1", name="worker")


def deliver_raw(stack: Stack) -> str:
    spec = stack.runtime.missions.mission("runtest").products["raw"]
    path = stack.staging / spec.file_name(DAY, Version(1, 0, 0)).name
    path.write_text("value\n1\n2\n")
    result = stack.runtime.ingestor.ingest(path, source=FileSource.CLI)
    assert result.outcome.value == "archived", result
    return path.name


def run_row(stack: Stack, run_id: int) -> Run:
    with stack.runtime.catalog.session() as session:
        row = session.get(Run, run_id)
        assert row is not None
        return row


def status(client: TestClient, token: str, run_id: int) -> dict[str, Any]:
    response = client.get(f"/api/runs/{run_id}", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()


def wait_ended(stack: Stack, client: TestClient, token: str, run_id: int, timeout: float = 60):
    found: dict[str, Any] = {}

    def ended() -> bool:
        found.update(status(client, token, run_id))
        return found["status"] in {s.value for s in ENDED}

    stack.wait(ended, f"run {run_id} to end", timeout=timeout)
    return found


def test_a_run_publishes_a_product_with_provenance_and_runs_once(stack: Stack) -> None:
    raw = deliver_raw(stack)
    scientist = person(stack.runtime, "sci", ["runtest"], ["read", "run"])
    stranger = person(stack.runtime, "other", [], ["read", "run"])
    stack.start_planner()
    start_worker(stack)
    client = TestClient(create_web_app(stack.runtime))  # /api and /hapi
    asked = {"notebook": "runtest/publish.ipynb", "parameters": {"raw": raw, "hours": 4}}

    response = client.post("/api/runs", json=asked, headers=bearer(scientist))
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    assert response.json()["status"] == "queued"
    run = wait_ended(stack, client, scientist, run_id)
    assert run["status"] == "succeeded", (run, stack.logs())
    assert run["progress"]["done"] == run["progress"]["total"] == 6  # 5 + the injected
    assert run["reads"] == [raw]
    kinds = {o["kind"]: o for o in run["outputs"]}
    assert set(kinds) == {"notebook", "html", "figure", "provenance", "product"}

    # The published dataset is a product of the mission, made from what the run read.
    product = kinds["product"]["name"]
    assert product == "runtest_a_l2_means_20250301_v1.0.0.cdf"
    with stack.runtime.catalog.session() as session:
        made = session.scalar(select(File).where(File.name == product))
        assert made is not None and made.records == 4
        parents = session.scalars(
            select(File.name)
            .join(Provenance, Provenance.input_id == File.id)
            .where(Provenance.output_id == made.id)
        ).all()
    assert parents == [raw]
    # HAPI serves it, as any dataset of the mission's YAML.
    hapi = client.get(
        "/hapi/data",
        params={
            "dataset": "runtest_means",
            "start": "2025-03-01T00:00Z",
            "stop": "2025-03-02T00:00Z",
        },
    )
    assert hapi.status_code == 200, hapi.text
    rows = [line.split(",") for line in hapi.text.strip().splitlines()]
    assert [float(value) for _, value in rows] == [0.0, 1.0, 2.0, 3.0]
    assert rows[1][0].startswith("2025-03-01T01:00:00")
    provenance = client.get(kinds["provenance"]["url"], headers=bearer(scientist)).json()
    assert provenance["notebook_sha256"] == run["notebook_sha256"]
    assert provenance["parameters"] == asked["parameters"]
    assert "papermill" in provenance["packages"]

    html = client.get(kinds["html"]["url"], headers=bearer(scientist))
    assert html.status_code == 200 and "<html" in html.text
    assert html.headers["content-security-policy"].startswith("sandbox")
    figure = client.get(kinds["figure"]["url"], headers=bearer(scientist))
    assert figure.content.startswith(b"\x89PNG")
    # The kernel had a token of the submitter's, revoked once the run ended.
    notebook = client.get(kinds["notebook"]["url"], headers=bearer(scientist)).text
    assert "token given: True" in notebook and "admin token given: False" in notebook
    assert ADMIN not in notebook
    tokens = stack.runtime.access.accounts.tokens("sci")
    (kernel_token,) = [t for t in tokens if t.label == f"run:{run_id}"]
    assert kernel_token.state == "revoked" and kernel_token.scopes == ["read"]

    # The same run again is the same run; forced, it is a new one.
    again = client.post("/api/runs", json=asked, headers=bearer(scientist))
    assert again.status_code == 200 and again.json()["id"] == run_id
    forced = client.post("/api/runs", json={**asked, "force": True}, headers=bearer(scientist))
    assert forced.status_code == 202 and forced.json()["id"] != run_id
    # Its inputs are public, so anyone may see it (a run that read nothing: its submitter).
    assert client.get(f"/api/runs/{run_id}").status_code == 200
    assert client.get(f"/api/runs/{run_id}", headers=bearer(stranger)).status_code == 200
    listed = client.get("/api/runs", headers=bearer(scientist)).json()["runs"]
    assert {r["id"] for r in listed} == {run_id, forced.json()["id"]}
    assert client.get("/api/runs", headers=bearer(stranger)).json()["runs"] == []


def test_parameters_are_checked_before_anything_is_queued(stack: Stack) -> None:
    scientist = person(stack.runtime, "sci", ["runtest"], ["read", "run"])
    reader = person(stack.runtime, "reader", ["runtest"], ["read"])
    client = TestClient(create_app(stack.runtime))
    library = client.get("/api/notebooks", headers=bearer(scientist)).json()["notebooks"]
    publish = next(n for n in library if n["name"] == "runtest/publish.ipynb")
    assert publish["parameters"] == [
        {"name": "day", "type": "str", "default": '"2025-03-01"', "help": ""},
        {"name": "raw", "type": "str", "default": '""', "help": ""},
        {"name": "hours", "type": "int", "default": "3", "help": ""},
    ]
    for parameters, says in (
        ({"hour": 4}, "unknown parameter 'hour'"),
        ({"hours": "four"}, "hours must be int, not str"),
        ({"hours": True}, "hours must be int, not bool"),
    ):
        response = client.post(
            "/api/runs",
            json={"notebook": "runtest/publish.ipynb", "parameters": parameters},
            headers=bearer(scientist),
        )
        assert response.status_code == 422, response.text
        assert says in response.json()["detail"]
        assert response.json()["parameters"] == publish["parameters"]
    missing = client.post(
        "/api/runs", json={"notebook": "runtest/nope.ipynb"}, headers=bearer(scientist)
    )
    assert missing.status_code == 422 and "no notebook" in missing.json()["detail"]
    refused = client.post(
        "/api/runs", json={"notebook": "runtest/fail.ipynb"}, headers=bearer(reader)
    )
    assert refused.status_code == 403
    assert client.post("/api/runs", json={"notebook": "runtest/fail.ipynb"}).status_code == 401
    assert client.get("/api/notebooks").status_code == 401
    with stack.runtime.catalog.session() as session:
        assert session.scalars(select(Run)).all() == []

    # A notebook of one's own is uploaded with its parameters, checked the same way.
    content = (RUNTEST / "notebooks" / "fail.ipynb").read_bytes()
    files = {"notebook": ("mine.ipynb", content, "application/x-ipynb+json")}
    wrong = client.post(
        "/api/runs", files=files, data={"parameters": '{"mesage": "x"}'}, headers=bearer(scientist)
    )
    assert wrong.status_code == 422 and "unknown parameter 'mesage'" in wrong.json()["detail"]
    uploaded = client.post(
        "/api/runs", files=files, data={"parameters": '{"message": "x"}'}, headers=bearer(scientist)
    )
    assert uploaded.status_code == 202, uploaded.text
    assert uploaded.json()["parameters"] == {"message": "x"}
    with stack.runtime.catalog.session() as session:
        (run,) = session.scalars(select(Run)).all()
    assert run.origin == "upload" and stack.runtime.archive.exists(run.notebook)


def _pid(stack: Stack, run_id: int, attempt: int = 1, timeout: float = 60) -> int:
    path = stack.data / "runs" / str(run_id) / f"attempt-{attempt}" / "kernel.pid"
    stack.wait(
        lambda: path.is_file() and path.read_text().strip() != "", "the kernel's pid", timeout
    )
    return int(path.read_text())


@pytest.mark.parametrize("stack", ["embedded"], indirect=True)
def test_kernel_deaths_timeouts_memory_and_lost_workers(stack: Stack) -> None:
    stack.env.update(SOC_RUN_TIMEOUT="6", SOC_RUN_MEMORY_MB="300")
    stack.reload()
    scientist = person(stack.runtime, "sci", ["runtest"], ["read", "run"])
    stack.start_planner()
    worker = start_worker(stack)
    client = TestClient(create_app(stack.runtime))

    def submit(notebook: str, **parameters: Any) -> int:
        asked = {"notebook": f"runtest/{notebook}", "parameters": parameters, "force": True}
        response = client.post("/api/runs", json=asked, headers=bearer(scientist))
        assert response.status_code == 202, response.text
        return int(response.json()["id"])

    measured: dict[str, float] = {}
    # A cell that raises: the run fails with the cell's error.
    failing = submit("fail.ipynb", message="bad day")
    assert wait_ended(stack, client, scientist, failing)["error"] == "RuntimeError: bad day"

    # A kernel killed by a signal: failed with the reason, not a hang.
    killed = submit("sleep.ipynb", seconds=60.0)
    os.kill(_pid(stack, killed), signal.SIGKILL)
    started = time.monotonic()
    run = wait_ended(stack, client, scientist, killed)
    measured["sigkill"] = time.monotonic() - started
    assert run["status"] == "failed" and "SIGKILL" in run["error"], run
    assert measured["sigkill"] < 30

    # Past its timeout: timed out.
    slow = submit("sleep.ipynb", seconds=120.0)
    _pid(stack, slow)
    started = time.monotonic()
    run = wait_ended(stack, client, scientist, slow)
    measured["timeout"] = time.monotonic() - started
    assert run["status"] == "timed_out" and "timed out after 6 s" in run["error"], run

    # Over its memory limit: failed, out of memory; the worker lives on.
    hungry = submit("memory.ipynb", megabytes=3000)
    _pid(stack, hungry)
    started = time.monotonic()
    run = wait_ended(stack, client, scientist, hungry)
    measured["memory"] = time.monotonic() - started
    assert run["status"] == "failed" and run["error"].startswith("out of memory"), run
    assert worker.poll() is None

    # A worker killed mid-run: the stale heartbeat requeues the run, which runs again once.
    lost = submit("sleep.ipynb", seconds=2.0)
    orphan = _pid(stack, lost)
    Stack.kill(worker)
    killed_at = time.monotonic()
    # The dead worker's kernel (in a session of its own) sees its parent gone and ends.
    stack.wait(lambda: not psutil.pid_exists(orphan), "the orphaned kernel to end", 15)
    start_worker(stack)
    run = wait_ended(stack, client, scientist, lost)
    measured["lost worker"] = time.monotonic() - killed_at
    assert run["status"] == "succeeded" and run["attempts"] == 2, run
    print("seconds to detection:", {k: round(v, 1) for k, v in measured.items()})


def test_a_notebook_rule_runs_on_arrival_and_again_on_a_new_input_version(stack: Stack) -> None:
    stack.start_planner()
    stack._start("worker", "--queues", "processing", "--concurrency", "1", name="worker")
    spec = stack.runtime.missions.mission("runtest")
    rule = spec.rules["sums"]
    assert rule.code_version.startswith("1.0.0+nb.")  # the notebook's hash is its code

    def deliver(version: str, content: str) -> str:
        path = stack.staging / spec.products["raw"].file_name(DAY, Version.parse(version)).name
        path.write_text(content)
        assert (
            stack.runtime.ingestor.ingest(path, source=FileSource.CLI).outcome.value == "archived"
        )
        return path.name

    def total(version: str) -> tuple[float, list[str]]:
        name = spec.products["daily"].file_name(DAY, Version.parse(version)).name
        with stack.runtime.catalog.session() as session:
            row = session.scalar(select(File).where(File.name == name))
            assert row is not None and row.code_version == rule.code_version
            parents = session.scalars(
                select(File.name)
                .join(Provenance, Provenance.input_id == File.id)
                .where(Provenance.output_id == row.id)
            ).all()
        local = stack.runtime.archive.fetch(row.uri, stack.data / name)
        dataset = spec.products["daily"].reader.read(local, spec.products["daily"])
        return float(dataset["total"].values[0]), list(parents)

    first = deliver("1.0.0", "value\n1\n2\n")
    stack.wait(lambda: stack.archived("daily").get(DAY.isoformat()) == "1.0.0", "daily v1.0.0")
    assert total("1.0.0") == (3.0, [first])
    second = deliver("1.0.1", "value\n5\n")
    stack.wait(lambda: stack.archived("daily").get(DAY.isoformat()) == "1.0.1", "daily v1.0.1")
    assert total("1.0.1") == (5.0, [second])
    # The output is archived before its job is marked done: wait for that, not the file.
    stack.wait(
        lambda: [j.status for j in stack.jobs("sums")] == [JobStatus.SUCCEEDED] * 2,
        "both runs of sums succeeded",
    )


def test_a_notebook_rule_is_checked_at_load(tmp_path: Path) -> None:
    import shutil

    from socstack._exceptions import ConfigError
    from socstack.mission import load_missions

    folder = tmp_path / "runtest"
    shutil.copytree(RUNTEST, folder)
    text = (folder / "mission.yaml").read_text()
    (folder / "mission.yaml").write_text(text.replace("rule_daily.ipynb", "nope.ipynb"))
    with pytest.raises(ConfigError, match=r"no notebook notebooks/nope\.ipynb"):
        load_missions([folder])
    (folder / "mission.yaml").write_text(
        text.replace("{product: raw}]", "{product: raw, name: raws}]")
    )
    with pytest.raises(ConfigError, match=r"rule_daily\.ipynb has no parameter raws"):
        load_missions([folder])
    both = text.replace(
        "    notebook: notebooks/rule_daily.ipynb\n",
        "    notebook: notebooks/rule_daily.ipynb\n    function: a.b:c\n",
    )
    (folder / "mission.yaml").write_text(both)
    with pytest.raises(ConfigError, match="give one of a function, a notebook or a detector"):
        load_missions([folder])


def test_the_command_line_submits_lists_and_shows_runs(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from socstack.cli import main

    monkeypatch.setenv("SOC_MISSIONS", str(RUNTEST))
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    person(runtime, "sci", ["runtest"], ["read", "run"])
    runtime.close()

    def cli(*args: str) -> Any:
        get_settings.cache_clear()
        return CliRunner().invoke(main, list(args))

    bad = cli("runs", "submit", "runtest/publish.ipynb", "-p", "hours=many", "--as", "sci")
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "error: runtest/publish.ipynb: hours must be int, not str"
    made = cli("runs", "submit", "runtest/publish.ipynb", "-p", "hours=2", "--as", "sci")
    assert made.exit_code == 0, made.output
    assert made.stdout.strip() == "run 1: runtest/publish.ipynb queued"
    again = cli("runs", "submit", "runtest/publish.ipynb", "-p", "hours=2", "--as", "sci")
    assert again.stdout.strip() == "run 1: runtest/publish.ipynb exists already (queued)"
    listed = cli("runs", "list")
    assert listed.stdout.split() == ["1", "queued", "0/0", "sci", "runtest/publish.ipynb"]
    shown = json.loads(cli("runs", "show", "1").stdout)
    assert shown["parameters"] == {"hours": 2} and shown["submitter"] == "sci"
    assert cli("runs", "show", "7").stderr.strip() == "error: no run 7"


def test_a_published_product_is_no_more_public_than_what_the_run_read(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import shutil

    import numpy as np
    import xarray as xr

    from socstack.analysis import runenv
    from socstack.analysis.execute import Ending, Execution
    from socstack.analysis.runs import archive_outputs

    folder = tmp_path / "runtest"
    shutil.copytree(RUNTEST, folder)
    yaml = (folder / "mission.yaml").read_text()
    withheld = yaml.replace(
        "{products: [raw, means, daily], public: always}",
        "{products: [raw], public: release}\n    - {products: [means, daily], public: always}",
    )
    (folder / "mission.yaml").write_text(withheld)
    monkeypatch.setenv("SOC_MISSIONS", str(folder))
    run_dir = tmp_path / "run"
    monkeypatch.setenv("SOC_RUN_DIR", str(run_dir))
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    raw = stack_free_deliver(runtime, tmp_path)
    runenv.record_read(raw, product="raw")
    epoch = np.datetime64("2025-03-01", "ns") + np.arange(2) * np.timedelta64(1, "h")
    runenv.publish(xr.Dataset({"value": ("epoch", [1.0, 2.0])}, coords={"epoch": epoch}), "means")
    run = Run(id=1, notebook="runtest/publish.ipynb", notebook_sha256="0" * 64, parameters={})
    outputs, reads, problem = archive_outputs(
        runtime, run, run_dir, Execution(Ending.SUCCEEDED, None, None, 0), job_id=None
    )
    assert reads == [raw]
    assert problem is not None and "more public than its input" in problem
    assert [o["kind"] for o in outputs] == ["provenance"]  # nothing published
    runtime.close()
    monkeypatch.delenv("SOC_RUN_DIR")
    get_settings.cache_clear()
    with pytest.raises(runenv.NotInRunError, match="outside a run"):
        runenv.publish(xr.Dataset(), "means")


def stack_free_deliver(runtime: Runtime, folder: Path) -> str:
    spec = runtime.missions.mission("runtest").products["raw"]
    path = folder / spec.file_name(DAY, Version(1, 0, 0)).name
    path.write_text("value\n1\n2\n")
    assert runtime.ingestor.ingest(path, source=FileSource.CLI).outcome.value == "archived"
    return path.name


def test_a_notebook_rule_past_its_deadline_is_timed_out(tmp_path: Path) -> None:
    import shutil

    from billiard.exceptions import SoftTimeLimitExceeded

    from socstack.analysis.rules import notebook_function
    from socstack.mission import load_missions
    from socstack.pipeline.context import RuleContext

    folder = tmp_path / "runtest"
    shutil.copytree(RUNTEST, folder)
    sleepy = (folder / "notebooks" / "sleep.ipynb").read_text()
    (folder / "notebooks" / "rule_daily.ipynb").write_text(
        sleepy.replace("seconds = 60.0", "seconds = 60.0\\nraw = []\\npartition = ''")
    )
    mission = load_missions([folder]).mission("runtest")
    rule = mission.rules["sums"].model_copy(update={"timeout": 3.0})
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    context = RuleContext(mission=mission, rule=rule, partition=DAY, scratch=scratch)
    run = notebook_function(Settings(data_dir=tmp_path), mission, rule)
    started = time.monotonic()
    with pytest.raises(SoftTimeLimitExceeded, match=r"timed out after 2\.7 s"):
        run(context)
    assert time.monotonic() - started < 15
