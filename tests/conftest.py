"""Shared fixtures: isolated settings, catalogs on SQLite and the real PostgreSQL, demo files.

Integration tests talk to the real servers of this machine (PostgreSQL on 127.0.0.1:5432,
database ``test``, trust auth). When a server is missing they skip, except under
``CI=true``, where they fail: CI must never pass by skipping.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from socstack.catalog.db import Catalog
from socstack.catalog.migrate import upgrade
from socstack.config import Settings, bundled_missions_dir, get_settings
from socstack.mission import MissionRegistry, load_missions
from socstack.runtime import Runtime

if TYPE_CHECKING:
    from tests.integration.analysis_up import AnalysisUp

REPO = Path(__file__).resolve().parent.parent
DEMO_MISSION = bundled_missions_dir() / "demo"
POSTGRES_URL = os.environ.get("SOC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str) -> None:
    """Skip for lack of a service, or fail under CI=true."""
    if IN_CI:
        pytest.fail(f"{what} is unavailable, and CI must not skip", pytrace=False)
    pytest.skip(f"{what} is unavailable")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's SOC_* variables or another test's settings."""
    for key in list(os.environ):
        if key.startswith("SOC_") and key != "SOC_TEST_POSTGRES_URL":
            monkeypatch.delenv(key)
    monkeypatch.setenv("SOC_DATA_DIR", str(tmp_path / "soc-data"))
    monkeypatch.setenv("SOC_LOG_FORMAT", "text")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- PostgreSQL ------------------------------------------------------------------------------


def _admin_url() -> str:
    url = make_url(POSTGRES_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A private, migrated database on the real server for this test session."""
    name = f"socstack_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}: {exc})")
    url = make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    catalog = Catalog(url)
    upgrade(catalog)
    catalog.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_postgres_database() -> Iterator[str]:
    """A new database on the real server with no schema at all (never migrated)."""
    name = f"socstack_empty_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}: {exc})")
    yield make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def create_postgres_database(prefix: str, template: str | None = None) -> str:
    """A new database on the real server, empty or a copy of ``template``'s; its URL.

    A copy of a database kept as a template is how a module builds a catalog once and
    gives each test its own (``CREATE DATABASE ... TEMPLATE`` copies files: a tenth of a
    second). Drop it with :func:`drop_postgres_database`.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{make_url(template).database}"' if template else ""
    try:
        admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        admin.dispose()
    except Exception as exc:
        unavailable(f"PostgreSQL at {POSTGRES_URL} ({type(exc).__name__}: {exc})")
    return make_url(_admin_url()).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    """Drop a database :func:`create_postgres_database` made."""
    admin = create_engine(_admin_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        name = make_url(url).database
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


CATALOG_TABLES = (
    "provenance, files, quarantine, runs, jobs, events, planner_state,"
    " release_approvals, releases, tokens, memberships, users, audit, deliveries"
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty catalog on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        catalog = Catalog(url)
        upgrade(catalog)
        catalog.dispose()
        return url
    url = request.getfixturevalue("postgres_database")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {CATALOG_TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


# -- settings and runtime ----------------------------------------------------------------------


@pytest.fixture
def settings(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for an isolated data center on the parametrised catalog backend."""
    monkeypatch.setenv("SOC_DATABASE_URL", database_url)
    monkeypatch.setenv("SOC_WATCH_SETTLE", "0.3")
    monkeypatch.setenv("SOC_WATCH_INTERVAL", "0.05")
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on ``settings``; closed after the test."""
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def demo_missions() -> MissionRegistry:
    """The bundled demo mission."""
    return load_missions([DEMO_MISSION])


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory, demo_missions: MissionRegistry) -> Path:
    """Two days of simulated telemetry and calibrations (generated once per session)."""
    from socstack.mission.code import load_callable

    out = tmp_path_factory.mktemp("demo-files")
    mission = demo_missions.mission("demo")
    simulate = load_callable(mission, mission.simulator or "", field="simulator")
    simulate(dt.date(2025, 1, 1), 2, out, mission=mission)
    return out


@pytest.fixture
def demo_copy(demo_files: Path, tmp_path: Path) -> Path:
    """A private copy of the demo files, which a test may move or damage."""
    target = tmp_path / "delivery"
    shutil.copytree(demo_files, target)
    return target


def archive_listing(runtime: Runtime) -> dict[str, int]:
    """Every archived key with its size, hidden temporaries included: to compare states."""
    root = runtime.archive.local_path("")
    assert root is not None
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()
    }


# -- a processed archive (L0 to L2 through the real pipeline), shared read-only ---------------

PROCESSED_DAYS = (dt.date(2025, 1, 1), dt.date(2025, 1, 2))
CHAIN = ("mag_l1a", "mag_l1b", "mag_l2", "mag_l2_1m", "pls_l1a", "pls_l1b", "pls_l2", "sw_l2")


def explicit_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings that do not depend on the environment (for session-scoped fixtures)."""
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": f"sqlite:///{data_dir / 'catalog.sqlite'}",
        "archive_url": (data_dir / "archive").as_uri(),
        "quarantine_url": (data_dir / "quarantine").as_uri(),
        "missions": [DEMO_MISSION],
        "incoming_dir": data_dir / "incoming",
        "log_format": "text",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def build_processed(runtime: Runtime, demo_files: Path, days: tuple[dt.date, ...]) -> None:
    """Ingest the demo files of ``days`` and run the whole chain for each."""
    from socstack.catalog.models import FileSource
    from socstack.pipeline.runner import run_rule

    upgrade(runtime.catalog)
    mission = runtime.missions.mission("demo")
    for path in sorted(demo_files.iterdir()):
        runtime.ingestor.ingest(path, source=FileSource.CLI)
    for day in days:
        for rule in CHAIN:
            run_rule(runtime, mission, mission.rules[rule], day)


@pytest.fixture(scope="session")
def processed_archive(tmp_path_factory: pytest.TempPathFactory, demo_files: Path) -> Path:
    """A data folder holding two processed demo days (do not modify; copy it first)."""
    folder = tmp_path_factory.mktemp("processed")
    runtime = Runtime(explicit_settings(folder))
    build_processed(runtime, demo_files, PROCESSED_DAYS)
    runtime.close()
    return folder


def drain(runtime: Runtime) -> None:
    """Plan every event and run every queued job, as the planner and workers would, until idle."""
    from socstack.catalog.models import Job, JobStatus
    from socstack.pipeline.jobs import execute_job
    from socstack.pipeline.planner import Planner

    planner = Planner(runtime)
    while True:
        planned = planner.plan_events()
        with runtime.catalog.session() as session:
            queued = list(session.scalars(select(Job.id).where(Job.status == JobStatus.QUEUED)))
        for job_id in queued:
            execute_job(runtime, job_id, worker="test")
        if not planned and not queued:
            return


@pytest.fixture(scope="session")
def mined_archive(processed_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The processed days with every event planned and every job run: the mining rules'
    event lists too (do not modify; copy it first)."""
    folder = tmp_path_factory.mktemp("mined")
    shutil.copytree(processed_archive, folder, dirs_exist_ok=True)
    runtime = Runtime(explicit_settings(folder))
    upgrade(runtime.catalog)
    drain(runtime)
    runtime.close()
    return folder


@pytest.fixture
def processed_copy(processed_archive: Path, tmp_path: Path) -> Path:
    """A private copy of the processed data folder."""
    target = tmp_path / "processed"
    shutil.copytree(processed_archive, target)
    return target


# -- one ``socstack up`` with JupyterLab for the analysis tests --------------------------------


@pytest.fixture(scope="session")
def analysis_up(
    mined_archive: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AnalysisUp]:
    """The shared ``up`` of tests/integration/analysis_up.py (call ``.running()``).

    On the mined archive: every job already run, so the pipeline is idle when it starts
    and stops (the notebook tests measure the notebook, not a backlog of mining)."""
    pytest.importorskip("jupyterlab", reason="the analysis extra is not installed")
    from tests.integration.analysis_up import AnalysisUp

    shared = AnalysisUp(mined_archive, tmp_path_factory.mktemp("analysis-up"))
    yield shared
    if shared.process is not None:
        shared.stop()


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests sharing ``analysis_up`` run one after the other, where the first one was."""
    sharing = [item for item in items if "analysis_up" in getattr(item, "fixturenames", ())]
    if len(sharing) < 2:
        return
    first, moved = items.index(sharing[0]), set(sharing)
    others = [item for item in items if item not in moved]
    items[:] = others[:first] + sharing + others[first:]
