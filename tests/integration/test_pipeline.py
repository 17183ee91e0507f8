"""The pipeline end to end on each broker: triggering, duplicates, killed workers, restarted
brokers, hangs and failures, calibrations and code bumps. Real processes throughout."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from kombu import Connection
from sqlalchemy import create_engine, select, text

from socstack.catalog.events import append_event
from socstack.catalog.models import Event, JobStatus
from socstack.config import Settings
from tests.conftest import CATALOG_TABLES, unavailable
from tests.integration.pipeline_stack import PIPETEST, RABBITMQ_URL, REDIS_URL, Stack, reachable

D1, D2, D3 = dt.date(2025, 3, 1), dt.date(2025, 3, 2), dt.date(2025, 3, 3)
RAW = "value\n1\n2\n3\n"
AUX = "value\n10\n20\n30\n"

BROKERS = [
    "embedded",
    pytest.param("redis", marks=pytest.mark.integration),
    pytest.param("rabbitmq", marks=pytest.mark.integration),
]


def _catalog_url(request: pytest.FixtureRequest, tmp_path: Path, broker: str) -> str:
    if broker == "embedded":
        return f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {CATALOG_TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


def _broker_url(broker: str, tmp_path: Path) -> str:
    if broker == "embedded":
        return f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    url = REDIS_URL if broker == "redis" else RABBITMQ_URL
    problem = reachable(url)
    if problem:
        unavailable(f"{broker} at {url} ({problem})")
    return url


@pytest.fixture(params=BROKERS)
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    broker = request.param
    pipeline = Stack(
        tmp_path / "data", _catalog_url(request, tmp_path, broker), _broker_url(broker, tmp_path)
    )
    yield pipeline
    pipeline.close()


def _one_job_each(stack: Stack, rule: str, days: tuple[dt.date, ...]) -> None:
    jobs = [j for j in stack.jobs(rule) if j.status == JobStatus.SUCCEEDED]
    assert sorted(j.partition for j in jobs) == sorted(d.isoformat() for d in days), rule


def test_a_job_reaches_its_own_queue_only(stack: Stack) -> None:
    """A job for ``processing.any`` must not reach a worker of ``processing.onprem``."""
    from socstack.catalog.models import Job
    from socstack.pipeline.celery_app import QUEUES, make_celery
    from socstack.pipeline.tasks import sender

    settings = stack.settings()
    app = make_celery(settings)
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in app.amqp.queues.values():
            queue.bind(channel).declare()  # what the workers do when they start
        send = sender(app, settings)
        for k, queue in enumerate(("processing.any", "quicklook", "quicklook")):
            send(Job(id=10_000 + k, queue=queue, timeout=60.0))
        expected = {name: 0 for name in QUEUES} | {"processing.any": 1, "quicklook": 2}
        deadline = time.monotonic() + 5  # a broker may count a message a moment after it
        while (depths := _depths(connection, settings)) != expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert depths == expected


def _depths(connection: Connection, settings: Settings) -> dict[str, int]:
    from socstack.pipeline.celery_app import QUEUES, queue_name
    from socstack.pipeline.metrics import queue_depths

    depths = queue_depths(connection, [queue_name(settings, q) for q in QUEUES])
    return {q: depths[queue_name(settings, q)] for q in QUEUES}


def test_inputs_in_any_order_with_the_calibration_last(stack: Stack) -> None:
    stack.start_planner()
    stack.start_worker()
    for day in (D1, D2):
        stack.deliver("aux", day, AUX)
        stack.deliver("raw", day, RAW)
    stack.wait(stack.all_done, "planning of the first deliveries")
    blocked = {
        (j.rule, j.partition): j.missing for j in stack.jobs() if j.status == JobStatus.BLOCKED
    }
    assert blocked == {
        ("calibrate", "2025-03-01"): ["an a calibration (cal) valid on 2025-03-01"],
        ("calibrate", "2025-03-02"): ["an a calibration (cal) valid on 2025-03-02"],
        ("combine", "2025-03-01"): ["out for 2025-03-01"],
        ("combine", "2025-03-02"): ["out for 2025-03-02"],
    }
    stack.deliver("cal", D1, "gain\n2\n")
    stack.wait(
        lambda: len(stack.archived("combo")) == 2 and stack.all_done(), "the combined product"
    )
    assert not [j for j in stack.jobs() if j.status != JobStatus.SUCCEEDED]
    for rule in ("calibrate", "finish", "combine"):
        _one_job_each(stack, rule, (D1, D2))
    # combo = (raw * gain + 1) + aux
    assert stack.content("combo", D1).splitlines()[1:] == ["13.000000", "25.000000", "37.000000"]
    assert stack.archived("out") == {"2025-03-01": "1.0.0", "2025-03-02": "1.0.0"}


def test_duplicates_and_replays_make_no_second_job(stack: Stack) -> None:
    stack.start_planner()
    stack.start_worker()
    stack.deliver("cal", D1, "gain\n2\n")
    name = stack.deliver("raw", D1, RAW)
    stack.wait(lambda: "2025-03-01" in stack.archived("out") and stack.all_done(), "the first run")
    before = [(j.id, j.rule, j.status) for j in stack.jobs()]
    assert stack.deliver("raw", D1, RAW) == name  # the same file again: unchanged, no event
    with stack.runtime.catalog.session() as session:
        original = session.scalars(
            select(Event).where((Event.kind == "file.archived") & (Event.subject == name))
        ).one()
    with stack.runtime.catalog.transaction() as session:
        for _ in range(3):  # replayed events
            append_event(
                stack.runtime.catalog, session, "file.archived", name, dict(original.payload)
            )
    stack.wait(stack.all_done, "the replays to be planned")
    time.sleep(0.5)
    assert [(j.id, j.rule, j.status) for j in stack.jobs()] == before
    assert stack.versions("mid") == [("2025-03-01", "1.0.0", "archived")]


def _running(stack: Stack, rule: str) -> bool:
    return any(j.status == JobStatus.RUNNING for j in stack.jobs(rule))


def test_a_worker_killed_mid_job_reruns_it_once(stack: Stack) -> None:
    stack.start_planner()
    worker = stack.start_worker()
    stack.deliver("slowin", D1, "seconds\n3\n")
    stack.wait(lambda: _running(stack, "sleepy"), "the slow job to start")
    (job,) = stack.jobs("sleepy")
    child = int((job.worker or "").rsplit(":", 1)[1])
    os.kill(child, signal.SIGKILL)  # the pool process running the job
    stack.wait(
        lambda: stack.jobs("sleepy")[0].status == JobStatus.SUCCEEDED,
        "the job after the kill",
        timeout=90,
    )
    assert stack.jobs("sleepy")[0].attempts >= 2
    assert stack.versions("slowout") == [("2025-03-01", "1.0.0", "archived")]
    # now the whole worker, parent and children, with nobody left to redeliver to
    stack.deliver("slowin", D2, "seconds\n3\n")
    stack.wait(lambda: _running(stack, "sleepy"), "the second slow job to start")
    stack.kill(worker)
    time.sleep(1)
    assert _running(stack, "sleepy"), "the job looks running until its heartbeat goes stale"
    stack.start_worker()
    stack.wait(
        lambda: all(j.status == JobStatus.SUCCEEDED for j in stack.jobs("sleepy")),
        "the requeued job",
        timeout=90,
    )
    assert stack.versions("slowout") == [
        ("2025-03-01", "1.0.0", "archived"),
        ("2025-03-02", "1.0.0", "archived"),
    ]


def test_a_hanging_rule_times_out_and_a_failing_one_keeps_its_traceback(stack: Stack) -> None:
    stack.start_planner()
    stack.start_worker()
    stack.deliver("bad", D1, "value\n1\n")
    stack.deliver("cal", D1, "gain\n3\n")
    stack.deliver("raw", D1, RAW)
    stack.wait(
        lambda: stack.all_done() and "2025-03-01" in stack.archived("out"),
        "all jobs to end",
        timeout=90,
    )
    status = {j.rule: j for j in stack.jobs()}
    assert status["hang"].status == JobStatus.TIMED_OUT
    assert status["boom"].status == JobStatus.FAILED
    assert "ValueError: this rule always fails (on purpose)" in (status["boom"].error or "")
    assert 'pipetest_code/rules.py", line' in (status["boom"].error or ""), "the traceback is kept"
    assert status["finish"].status == JobStatus.SUCCEEDED, "other work goes on"
    with stack.runtime.catalog.session() as session:
        kinds = {e.kind for e in session.scalars(select(Event))}
    assert {"job.failed", "job.timed_out"} <= kinds


def test_calibration_and_code_version_bumps(stack: Stack, tmp_path: Path) -> None:
    stack.start_planner()
    worker = stack.start_worker()
    stack.deliver("cal", D1, "gain\n2\n")
    for day in (D1, D2, D3):
        stack.deliver("raw", day, RAW)
    stack.wait(lambda: len(stack.archived("out")) == 3 and stack.all_done(), "the first run")
    # a calibration valid from D2 reprocesses exactly D2 and D3, bumping Y
    stack.deliver("cal", D2, "gain\n4\n")
    stack.wait(
        lambda: stack.archived("out").get("2025-03-03") == "1.0.1" and stack.all_done(),
        "the recalibration",
    )
    assert stack.archived("mid") == {
        "2025-03-01": "1.0.0",
        "2025-03-02": "1.1.0",
        "2025-03-03": "1.1.0",
    }
    assert stack.archived("out") == {
        "2025-03-01": "1.0.0",
        "2025-03-02": "1.0.1",
        "2025-03-03": "1.0.1",
    }
    assert stack.content("mid", D2).splitlines()[1] == "4.000000"
    # a code-version bump in the YAML, then one reprocessing command: Z goes up
    bumped = tmp_path / "bumped"
    shutil.copytree(PIPETEST, bumped)
    config = yaml.safe_load((bumped / "mission.yaml").read_text())
    config["rules"]["finish"]["code_version"] = "1.0.1"
    (bumped / "mission.yaml").write_text(yaml.safe_dump(config))
    stack.kill(worker, signal.SIGTERM)
    stack.reload(SOC_MISSIONS=str(bumped))
    stack.start_worker()
    done = stack.cli(
        "reprocess", "--rule", "finish", "--start", "2025-03-01", "--stop", "2025-03-03", "--wait"
    )
    assert done.returncode == 0, done.stderr
    assert "3 jobs planned, 0 unchanged" in done.stdout
    assert "3 succeeded" in done.stdout, "--wait returns when the jobs have ended"
    assert stack.archived("out") == {
        "2025-03-01": "1.0.1",
        "2025-03-02": "1.0.2",
        "2025-03-03": "1.0.2",
    }
    again = stack.cli(
        "reprocess", "--rule", "finish", "--start", "2025-03-01", "--stop", "2025-03-03"
    )
    assert "0 jobs planned, 3 unchanged" in again.stdout, "the same code again changes nothing"


# -- broker restarts, on private brokers ---------------------------------------------------------


class PrivateBroker:
    """A Redis (append-only file) or RabbitMQ server of this test's own, on a free port."""

    def __init__(self, kind: str, folder: Path):
        import socket

        self.kind = kind
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.kind == "redis":
            return f"redis://127.0.0.1:{self.port}/0"
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        log = (self.folder / "broker.log").open("ab")
        if self.kind == "redis":
            command = [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ]
            env = None
        else:
            name = f"rabbit_socstack_{self.port}@localhost"
            (self.folder / "enabled_plugins").write_text("[].\n")
            (self.folder / "rabbitmq.conf").write_text(
                f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{self.port}\n"
            )
            command = ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
            env = {
                **os.environ,
                "RABBITMQ_NODENAME": name,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(
                    self.port + 20000 if self.port < 45000 else self.port - 20000
                ),
                "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.folder / "log"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "enabled_plugins"),
                "RABBITMQ_CONFIG_FILE": str(self.folder / "rabbitmq"),
                "HOME": str(self.folder),
            }
            if not Path(command[0]).exists():
                unavailable("rabbitmq-server")
        if shutil.which(command[0]) is None and not Path(command[0]).exists():
            unavailable(command[0])
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        deadline = time.monotonic() + 60
        while reachable(self.url) is not None:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(
                    f"private {self.kind} did not start:\n"
                    + (self.folder / "broker.log").read_text()[-2000:]
                )
            time.sleep(0.3)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None


@pytest.mark.parametrize(
    "kind",
    [
        "embedded",
        pytest.param("redis", marks=pytest.mark.integration),
        pytest.param("rabbitmq", marks=pytest.mark.integration),
    ],
)
def test_a_broker_restart_loses_no_job(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    broker = None if kind == "embedded" else PrivateBroker(kind, tmp_path / "broker")
    if broker is not None:
        broker.start()
    url = broker.url if broker else f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}"
    stack = Stack(tmp_path / "data", _catalog_url(request, tmp_path, kind), url)
    try:
        planner = stack.start_planner()
        stack.deliver("cal", D1, "gain\n2\n")
        for day in (D1, D2, D3):
            stack.deliver("raw", day, RAW)
        stack.wait(
            lambda: len([j for j in stack.jobs("calibrate") if j.dispatched_at]) == 3,
            "the jobs to be sent",
        )
        # the jobs wait in the broker; nobody consumes them yet
        if broker is not None:
            broker.stop()
            broker.start()
        else:
            stack.kill(planner)  # the embedded broker is a file: restart what uses it
            planner = stack.start_planner()
        stack.start_worker()
        stack.wait(
            lambda: len(stack.archived("out")) == 3 and stack.all_done(),
            "every job after the restart",
            timeout=120,
        )
        for rule in ("calibrate", "finish"):
            _one_job_each(stack, rule, (D1, D2, D3))
    finally:
        stack.close()
        if broker is not None:
            broker.stop()
