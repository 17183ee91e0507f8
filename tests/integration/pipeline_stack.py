"""A pipeline for tests: real `socstack planner` and `socstack worker` processes on a broker.

Brokers: the embedded transport (SQLite catalog), and the machine's Redis and RabbitMQ
(PostgreSQL catalog). Each test gets its own queue prefix (and Redis key prefix), so it
never touches anybody else's queues; what it created is removed afterwards.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import File, FileSource, FileStatus, Job, JobStatus, PlannerState
from socstack.catalog.queries import events_after
from socstack.config import Settings
from socstack.runtime import Runtime

PIPETEST = Path(__file__).resolve().parent.parent / "data" / "missions" / "pipetest"
REDIS_URL = os.environ.get("SOC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RABBITMQ_URL = os.environ.get("SOC_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")


def reachable(url: str) -> str | None:
    """None if the broker answers, else why not."""
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Stack:
    """Settings, processes and helpers of one test's pipeline."""

    def __init__(
        self, data: Path, database_url: str, broker_url: str, *, missions: Path = PIPETEST
    ):
        self.data = data
        self.prefix = f"t{uuid.uuid4().hex[:10]}."
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SOC_")},
            "SOC_DATA_DIR": str(data),
            "SOC_DATABASE_URL": database_url,
            "SOC_BROKER_URL": broker_url,
            "SOC_MISSIONS": str(missions),
            "SOC_QUEUE_PREFIX": self.prefix,
            "SOC_JOB_HEARTBEAT": "0.5",
            "SOC_JOB_STALE": "3",
            "SOC_PLANNER_INTERVAL": "0.1",
            "SOC_REDISPATCH_AFTER": "8",
            "SOC_LOG_FORMAT": "text",
            "SOC_LOG_LEVEL": "INFO",
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.runtime = Runtime(self.settings())
        upgrade(self.runtime.catalog)
        self.staging = data / "staging"
        self.staging.mkdir(parents=True, exist_ok=True)

    def settings(self) -> Settings:
        values = {
            k.removeprefix("SOC_").lower(): v for k, v in self.env.items() if k.startswith("SOC_")
        }
        return Settings(**values)  # type: ignore[arg-type]

    def reload(self, **env: str) -> None:
        """Change settings (e.g. SOC_MISSIONS) for the processes started from now on."""
        self.env.update(env)
        self.runtime.close()
        self.runtime = Runtime(self.settings())

    # -- processes --------------------------------------------------------------------------------
    def _start(self, *args: str, name: str) -> subprocess.Popen[bytes]:
        log = (self.data / f"{name}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "socstack", *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def start_worker(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        queues = "processing,processing.onprem,processing.any,quicklook"
        return self._start(
            "worker", "--queues", queues, "--concurrency", str(concurrency), name="worker"
        )

    def start_planner(self) -> subprocess.Popen[bytes]:
        return self._start("planner", name="planner")

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "socstack", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )

    @staticmethod
    def kill(
        process: subprocess.Popen[bytes], sig: int = signal.SIGKILL, grace: float = 30.0
    ) -> None:
        """Signal a process; what is left of everything it started (its session) is killed.

        SIGKILL goes to the whole session at once. Any other signal goes to the process
        alone, as a service manager sends it: a Celery worker whose pool processes are
        signalled too waits out its warm shutdown for nothing (30 s seen on the embedded
        broker). Whatever of the session outlives the process, or ``grace``, is killed.
        """
        try:
            (os.killpg if sig == signal.SIGKILL else os.kill)(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def close(self) -> None:
        # Nothing is asserted about the processes' ends here: no warm shutdown to wait for
        # (an embedded worker's takes some 5 s, and each test has two or more processes).
        for process in self.processes:
            if process.poll() is None:
                self.kill(process)
        self.runtime.close()
        self._clean_broker()

    def _clean_broker(self) -> None:
        url = self.env["SOC_BROKER_URL"]
        try:
            if url.startswith("redis"):
                import redis

                client = redis.Redis.from_url(url)
                keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
                if keys:
                    client.delete(*keys)
            elif url.startswith("amqp"):
                from kombu import Connection

                from socstack.pipeline.celery_app import QUEUES

                with Connection(url) as connection:
                    channel = connection.channel()
                    for queue in QUEUES:
                        try:
                            channel.queue_delete(f"{self.prefix}{queue}")
                        except Exception:
                            channel = connection.channel()
        except Exception:  # noqa: S110 - cleaning up after a broker that is gone
            pass

    def logs(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-3000:] for p in sorted(self.data.glob("*.log"))
        )

    # -- data -----------------------------------------------------------------------------------
    def deliver(self, product: str, day: dt.date, content: str, version: str = "1.0.0") -> str:
        spec = self.runtime.missions.mission("pipetest").products[product]
        from socstack.mission import Version

        name = spec.file_name(day, Version.parse(version)).name
        path = self.staging / name
        path.write_text(content)
        result = self.runtime.ingestor.ingest(path, source=FileSource.CLI)
        assert result.outcome.value in ("archived", "unchanged"), result
        return name

    def jobs(self, rule: str | None = None) -> list[Job]:
        query = select(Job).order_by(Job.id)
        if rule:
            query = query.where(Job.rule == rule)
        with self.runtime.catalog.session() as session:
            return list(session.scalars(query))

    def archived(self, product: str) -> dict[str, str]:
        """partition -> newest archived version of ``product``."""
        with self.runtime.catalog.session() as session:
            rows = session.execute(
                select(File.partition, File.version).where(
                    (File.product == product) & (File.status == FileStatus.ARCHIVED)
                )
            ).all()
        return dict(rows)

    def versions(self, product: str) -> list[tuple[str, str, str]]:
        with self.runtime.catalog.session() as session:
            rows = session.execute(
                select(File.partition, File.version, File.status)
                .where(File.product == product)
                .order_by(File.partition, File.id)
            ).all()
        return [(p, v, s.value) for p, v, s in rows]

    def content(self, product: str, day: dt.date) -> str:
        with self.runtime.catalog.session() as session:
            row = session.scalars(
                select(File).where(
                    (File.product == product)
                    & (File.partition == day.isoformat())
                    & (File.status == FileStatus.ARCHIVED)
                )
            ).one()
        with self.runtime.archive.open(row.uri) as handle:
            return handle.read().decode()

    def planned_up_to_now(self) -> bool:
        with self.runtime.catalog.session() as session:
            last = [e.id for e in events_after(session, 0, limit=100_000)]
            state = session.get(PlannerState, "default")
        return bool(last) and state is not None and state.cursor >= last[-1]

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                jobs = [
                    (j.id, j.rule, j.partition, j.status.value, j.missing, (j.error or "")[-200:])
                    for j in self.jobs()
                ]
                raise AssertionError(f"timed out waiting for {what}\njobs: {jobs}\n{self.logs()}")
            time.sleep(0.2)

    def all_done(self) -> bool:
        busy = {JobStatus.QUEUED, JobStatus.RUNNING}
        return self.planned_up_to_now() and not any(j.status in busy for j in self.jobs())
