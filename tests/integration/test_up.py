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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
        return json.load(response)


def start(args: list[str], data: Path, **env: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "SOC_DATA_DIR": str(data), "SOC_LOG_FORMAT": "json", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "socstack", *args],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_up_serves_the_demo_files_within_a_minute_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    began = time.monotonic()
    process = start(["up", "--port", str(port)], tmp_path / "data")
    listing: dict = {}
    try:
        while time.monotonic() - began < 60:
            assert process.poll() is None, process.communicate()
            try:
                listing = get_json(f"http://127.0.0.1:{port}/api/files?limit=100")
            except OSError:
                listing = {}
            if listing.get("total", 0) >= 8:
                break
            time.sleep(0.25)
        elapsed = time.monotonic() - began
        assert listing.get("total", 0) >= 8, listing
        products = {f["product"] for f in listing["files"]}
        assert products == {"mag_l0", "pls_l0", "mag_cal", "pls_cal"}
        assert all(f["source"] == "dropbox" for f in listing["files"])
        assert elapsed < 60
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "socstack is up: http://127.0.0.1" in out
    assert "socstack stopped" in out
    assert "Traceback" not in err
    assert not any((tmp_path / "data" / "incoming").iterdir()), "the drop box is empty"
    # a second start finds the archive full and simulates nothing new
    again = start(["up", "--port", str(port), "--no-watch"], tmp_path / "data")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if get_json(f"http://127.0.0.1:{port}/api/files")["total"] == listing["total"]:
                    break
            except OSError:
                time.sleep(0.2)
    finally:
        again.send_signal(signal.SIGINT)
        out, _ = again.communicate(timeout=30)
    assert "simulating" not in out


@pytest.mark.slow
def test_serve_api_needs_a_migrated_catalog_then_serves(tmp_path: Path) -> None:
    port = free_port()
    refused = start(["serve", "api", "--port", str(port)], tmp_path / "data")
    _, err = refused.communicate(timeout=60)
    assert refused.returncode == 1
    assert "run `socstack db upgrade`" in err
    migrate = start(["db", "upgrade"], tmp_path / "data")
    assert migrate.wait(timeout=60) == 0
    server = start(["serve", "api", "--port", str(port)], tmp_path / "data")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                assert get_json(f"http://127.0.0.1:{port}/api/health")["status"] == "ok"
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.2)
        assert get_json(f"http://127.0.0.1:{port}/api/files")["total"] == 0
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0
