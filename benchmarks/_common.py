"""What the benchmark scripts share: the machine line, loopback ports, scratch databases."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def machine() -> str:
    """The line that heads every result: architecture, cores, Python."""
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def scratch_database(server: str, label: str) -> Iterator[str]:
    """A fresh PostgreSQL database on ``server`` for the benchmark; dropped afterwards.

    ``server`` is any database URL on that server (the maintenance connection uses it).
    Yields the scratch database's URL.
    """
    admin = create_engine(
        server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
    )
    name = f"socstack_bench_{label}_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation, as numpy's default."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


def demo_settings(folder: Path):
    """Settings of a benchmark's own data folder (SQLite, local archive, the demo)."""
    from socstack.config import Settings, bundled_missions_dir

    return Settings(
        data_dir=folder,
        database_url=f"sqlite:///{folder / 'catalog.sqlite'}",
        archive_url=(folder / "archive").as_uri(),
        quarantine_url=(folder / "quarantine").as_uri(),
        missions=[bundled_missions_dir() / "demo"],
    )


def demo_archive(folder: Path, start: dt.date, days: dict[str, int]) -> None:
    """Simulated L0 and calibrations of each instrument (``mag``, ``pls``) for its number
    of days from ``start``, processed to L2 by the mission's own rules.

    Kept between runs: a folder holding ``ready`` is reused as it is.
    """
    from socstack.catalog.migrate import upgrade
    from socstack.catalog.models import FileSource
    from socstack.mission import Version, load_callable
    from socstack.pipeline.runner import run_rule
    from socstack.runtime import Runtime

    if (folder / "ready").exists():
        print(f"{folder}: already prepared", file=sys.stderr)
        return
    runtime = Runtime(demo_settings(folder))
    upgrade(runtime.catalog)
    mission = runtime.missions.mission("demo")
    load_callable(mission, mission.simulator or "", field="simulator")
    from demo_mission.simulate import calibration as calibrations
    from demo_mission.simulate import spacecraft
    from demo_mission.simulate.solar_wind import SolarWindModel

    model = SolarWindModel(2025)
    staging = folder / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    version = Version(1, 0, 0)
    started = time.monotonic()
    for instrument, count in days.items():
        make_day = getattr(spacecraft, f"{instrument}_day")
        make_calibration = getattr(calibrations, f"{instrument}_calibration")
        for k in range(count):
            day = start + dt.timedelta(days=k)
            valid_from = calibrations.period_start(day)
            cal = (
                staging / mission.products[f"{instrument}_cal"].file_name(valid_from, version).name
            )
            if not cal.exists():
                make_calibration(2025, valid_from).write_csv(cal)
                runtime.ingestor.ingest(cal, source=FileSource.CLI)
            l0 = staging / mission.products[f"{instrument}_l0"].file_name(day, version).name
            l0.write_bytes(make_day(model, 2025, day))
            runtime.ingestor.ingest(l0, source=FileSource.CLI)
            l0.unlink()
            for level in ("l1a", "l1b", "l2", "l2_1m"):  # l2_1m: the summary, where made
                if rule := mission.rules.get(f"{instrument}_{level}"):
                    run_rule(runtime, mission, rule, day)
            if k % 10 == 9:
                elapsed = time.monotonic() - started
                print(
                    f"{folder.name}: {instrument} {k + 1}/{count} days, {elapsed:.0f} s",
                    file=sys.stderr,
                )
    runtime.close()
    (folder / "ready").write_text("ok\n")


class SocstackProcess:
    """A socstack command serving a data folder on a loopback port, in its own process."""

    def __init__(
        self,
        folder: Path,
        command: list[str],
        ready: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {
            **os.environ,
            "SOC_DATA_DIR": str(folder),
            "SOC_DATABASE_URL": f"sqlite:///{folder / 'catalog.sqlite'}",
            "SOC_LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "socstack", *command, "--port", str(self.port)],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.base + ready, timeout=2).read()
                break
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"socstack {' '.join(command)} did not start") from None
                time.sleep(0.2)

    def peak_rss_mb(self) -> float:
        """Peak resident memory of the server process so far (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def two_step_parser(doc: str | None, *, days: int, runs: int):
    """A ``prepare``/``run`` command line (both take ``--work`` and ``--days``).

    Returns the parser and the ``run`` subparser, for the options of its own.
    """
    import argparse

    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    steps = {}
    for name, purpose in (("prepare", "build the archive"), ("run", "measure")):
        step = commands.add_parser(name, help=purpose)
        step.add_argument("--work", type=Path, required=True)
        step.add_argument("--days", type=int, default=days)
        steps[name] = step
    steps["run"].add_argument("--runs", type=int, default=runs)
    steps["run"].add_argument("--json", type=Path)
    return parser, steps["run"]
