"""``socstack up`` and ``socstack serve``, as a user runs them: real processes, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from tests.conftest import explicit_settings
from tests.integration.people import bearer, person


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str, token: str | None = None) -> bytes:
    request = urllib.request.Request(url, headers=bearer(token))
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.read()


def get_json(url: str, token: str | None = None) -> dict:
    return json.loads(get(url, token))


def operator_of(data: Path) -> str:
    """An operator's token (read, run) in the catalog of ``data``, made before the start."""
    runtime = Runtime(explicit_settings(data))
    upgrade(runtime.catalog)
    token = person(runtime, "ops", ["operators"], ["read", "run"])
    runtime.close()
    return token


def wait_for_json(
    url: str, process: subprocess.Popen[str], timeout: float = 30, token: str | None = None
) -> dict:
    """The first JSON answer of ``url`` once the process serves it (it must keep running)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return get_json(url, token)
        except OSError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"{url} did not answer within {timeout:g} s"
            time.sleep(0.2)


def start(args: list[str], data: Path, **env: str) -> subprocess.Popen[str]:
    """``socstack <args>`` on ``data``; JupyterLab and Dask only where a test asks for them."""
    environment = {
        **os.environ,
        "SOC_DATA_DIR": str(data),
        "SOC_LOG_FORMAT": "json",
        "SOC_NOTEBOOK": "false",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "socstack", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


#: Job states once the demo's days are processed: the detectors' jobs for the day before
#: the first and after the last wait for data that never comes; a job planned again
#: before it ran (a neighbouring day arrived) is superseded.
DONE = {"succeeded", "blocked", "superseded"}


def _mined(counts: dict[str, int]) -> bool:
    """Every rule ran for each of the three days (a detector again if a neighbour came late),
    and only the three detectors' outer neighbours wait."""
    return counts.get("succeeded", 0) >= 39 and counts.get("blocked") == 3 * 2


EVERY_PRODUCT = {
    "mag_l0",
    "pls_l0",
    "mag_cal",
    "pls_cal",
    "mag_l1a",
    "mag_l1b",
    "mag_l2",
    "mag_l2_1m",
    "pls_l1a",
    "pls_l1b",
    "pls_l2",
    "sw_l2",
    "sw_l3_shocks",
    "pls_l3_dense",
    "pls_l3_speedchanges",
    "mag_ql",
    "pls_ql",
}


@pytest.mark.slow
def test_up_processes_the_demo_days_by_itself_and_stops_cleanly(tmp_path: Path) -> None:
    """From an empty folder: telemetry in the drop box, every level made, served over HAPI.

    An operator watches (the files API shows everyone only what they may see, and the
    jobs and metrics are the operators'); the catalog holding their token is empty of files.
    """
    port = free_port()
    ops = operator_of(tmp_path / "data")
    began = time.monotonic()
    process = start(["up", "--port", str(port)], tmp_path / "data")
    base = f"http://127.0.0.1:{port}"
    listing: dict = {}
    counts: dict = {}
    deliveries_at = None
    try:
        # Wait for exactly what is asserted: a moment with nothing queued or running can
        # come between two levels, before the planner has planned the next.
        while time.monotonic() - began < 240:  # under the test's timeout: the asserts say why
            assert process.poll() is None, process.communicate()
            try:
                listing = get_json(f"{base}/api/files?limit=1000", ops)
                counts = get_json(f"{base}/api/jobs?limit=1", ops)["counts"]
            except OSError:
                time.sleep(0.25)
                continue
            if deliveries_at is None and listing.get("total", 0) >= 8:
                deliveries_at = time.monotonic() - began
            if listing.get("total") == 8 + 39 and counts.keys() <= DONE and _mined(counts):
                break
            time.sleep(0.25)
        assert deliveries_at is not None and deliveries_at < 60, (
            "the demo files are listed within a minute"
        )
        assert listing["total"] == 8 + 39, "three days, thirteen rules each (three of them mining)"
        assert counts.keys() <= DONE and _mined(counts), counts
        products = {f["product"] for f in listing["files"]}
        assert products == EVERY_PRODUCT, products
        catalog = [e["id"] for e in get_json(f"{base}/hapi/catalog")["catalog"]]
        assert {"demo_mag_l2_1s", "demo_mag_l2_1m", "demo_pls_l2", "demo_sw_l2"} <= set(catalog)
        assert {"demo_shocks", "demo_dense_plasma", "demo_speed_changes"} <= set(catalog)
        info = get_json(f"{base}/hapi/info?dataset=demo_sw_l2")
        assert (info["startDate"], info["stopDate"]) == (
            "2025-01-01T00:00:00Z",
            "2025-01-04T00:00:00Z",
        )
        assert get_json(f"{base}/hapi/about")["x_url"] == base, "--port, not SOC_PORT"
        assert "socstack_jobs" in get(f"{base}/metrics", ops).decode()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    assert "socstack is up: http://127.0.0.1" in out
    assert "socstack stopped" in out
    assert "Traceback" not in err
    assert not any((tmp_path / "data" / "incoming").iterdir()), "the drop box is empty"
    # a second start finds the archive full and simulates nothing new
    again = start(["up", "--port", str(port), "--no-watch", "--no-process"], tmp_path / "data")
    try:
        files = wait_for_json(f"{base}/api/files", again, token=ops)
        assert files["total"] == listing["total"]
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=30)
    assert "simulating" not in out


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def test_serve_api_migrates_only_an_embedded_catalog_then_serves(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    database: dict[str, str] = {}
    if backend == "postgresql":  # a server catalog is migrated on purpose, never on start
        database["SOC_DATABASE_URL"] = request.getfixturevalue("empty_postgres_database")
        refused = start(["serve", "api", "--port", str(port)], tmp_path / "data", **database)
        try:
            _, err = refused.communicate(timeout=60)
        finally:
            if refused.poll() is None:
                refused.kill()
                refused.communicate()
        assert refused.returncode == 1
        assert "run `socstack db upgrade`" in err
        migrate = start(["db", "upgrade"], tmp_path / "data", **database)
        assert migrate.wait(timeout=60) == 0
    # SQLite: a fresh data folder is migrated by the first command that uses it
    server = start(["serve", "api", "--port", str(port)], tmp_path / "data", **database)
    try:
        wait_for_json(f"http://127.0.0.1:{port}/api/health", server)
        assert get_json(f"http://127.0.0.1:{port}/api/files")["total"] == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as answer:
            seen = {k.lower(): v for k, v in answer.headers.items()}
        assert "server" not in seen, "no banner naming the software"
        assert seen["x-content-type-options"] == "nosniff"
        assert seen["content-security-policy"] == "frame-ancestors 'none'"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


@pytest.mark.slow
def test_serve_hapi_names_the_port_it_listens_on(tmp_path: Path) -> None:
    """`--port` wins over SOC_PORT (unset here: 8000) in what HAPI's about tells clients."""
    migrate = start(["db", "upgrade"], tmp_path / "data")
    assert migrate.wait(timeout=60) == 0
    port = free_port()
    server = start(["serve", "hapi", "--port", str(port)], tmp_path / "data")
    try:
        about = wait_for_json(f"http://127.0.0.1:{port}/hapi/about", server)
        assert about["x_url"] == f"http://127.0.0.1:{port}"
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    given = start(
        ["serve", "hapi", "--port", str(port)],
        tmp_path / "data",
        SOC_PUBLIC_URL="https://soc.example.org",
    )
    try:
        about = wait_for_json(f"http://127.0.0.1:{port}/hapi/about", given)
        assert about["x_url"] == "https://soc.example.org", "an explicit public URL wins"
    finally:
        given.send_signal(signal.SIGTERM)
        given.communicate(timeout=30)
