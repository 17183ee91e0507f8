"""The commands and health checks the deployment files name, run for real.

No container engine runs here, but every container runs a ``socstack`` command, and
every health check or probe is a command or an HTTP path. This test starts each
long-running service of the Compose stack with the command Compose gives it (after its
migration, as Compose orders them), on this machine's Redis, then runs the checks that
Compose, the Dockerfile and the Kubernetes manifests declare, against those processes:
a typo in a path, a flag or a command fails here, not in a cluster. Finally each
process must stop cleanly on SIGTERM, as a container stop or a pod deletion sends it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from socstack.analysis.lab import lab_installed
from tests.conftest import unavailable
from tests.deploy.kube import overlay_path, render
from tests.deploy.test_compose import BASE, compose, env_file
from tests.deploy.test_dockerfile import stages
from tests.deploy.tools import DOCKERFILE

pytestmark = pytest.mark.integration

SOCSTACK = str(Path(sys.executable).parent / "socstack")
WEB = {"api": "api", "hapi": "hapi", "analysis": "analysis"}  # Compose service -> target
#: The port each web service listens on in its container, as its checks name it: the
#: images' SOC_PORT, or (analysis) the default of `socstack serve notebook`.
LISTENS = {"api": 8000, "hapi": 8000, "analysis": 8888}
QUIET = {"planner": "worker", "worker": "worker", "mining": "mining", "watcher": "api"}
DEADLINE = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _command(words: list[str], port: int | None = None, listens: int = 8000) -> list[str]:
    """A container's command for this machine: our socstack, the service's own port."""
    words = [w for w in words if w not in ("CMD", "CMD-SHELL")]
    if port is not None:
        words = [w.replace(f"127.0.0.1:{listens}", f"127.0.0.1:{port}") for w in words]
    return [SOCSTACK if w == "socstack" else w for w in words]


def _passes(
    command: list[str], env: dict[str, str], deadline: float
) -> subprocess.CompletedProcess[str]:
    """Run a health check until it passes or the deadline comes (start_period, retries).

    A check of a URL first waits for the URL to answer at all, by a cheap request: every
    run of a check is a new Python process (over a second of CPU), and runs that can
    only fail while the server starts take the CPU the server needs to start.
    """
    if "--url" in command:
        url = command[command.index("--url") + 1]
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=5).close()
            except urllib.error.HTTPError:
                break  # it answers; the check itself judges the answer
            except OSError:
                time.sleep(0.1)
            else:
                break
    while True:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if done.returncode == 0 or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


@pytest.fixture(scope="module")
def compose_services(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = env_file(tmp_path_factory.mktemp("compose-env"))
    result = compose([BASE], "config", "--format", "json", env=env, profile="analysis")
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)["services"]


@pytest.fixture(scope="module")
def machine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The settings a container would get, pointing at this machine's servers."""
    from tests.integration.pipeline_stack import REDIS_URL, reachable

    if (why := reachable(REDIS_URL)) is not None:
        unavailable(f"Redis at {REDIS_URL} ({why})")
    data = tmp_path_factory.mktemp("container-data")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update(
        {
            "SOC_DATA_DIR": str(data),
            "SOC_DATABASE_URL": f"sqlite:///{data / 'catalog.sqlite'}",
            "SOC_BROKER_URL": REDIS_URL,
            "SOC_QUEUE_PREFIX": f"deploycmd-{uuid.uuid4().hex[:8]}.",
            "SOC_HOST": "127.0.0.1",
            "SOC_LOG_FORMAT": "json",
            "SOC_WORKER_CONCURRENCY": "1",
        }
    )
    yield env
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{env['SOC_QUEUE_PREFIX']}*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="module")
def running(
    compose_services: dict[str, Any],
    machine: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, tuple[subprocess.Popen[bytes], dict[str, str], int | None]]]:
    """Migrate, then start every long-running service with Compose's command for it."""
    migrate = subprocess.run(
        _command(compose_services["migrate"]["command"]),
        env=machine,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stderr
    logs = tmp_path_factory.mktemp("container-logs")
    started: dict[str, tuple[subprocess.Popen[bytes], dict[str, str], int | None]] = {}
    try:
        for name in [*WEB, *QUIET]:
            port = _free_port() if name in WEB else None
            env = machine | ({"SOC_PORT": str(port)} if port else {})
            command = _command(compose_services[name]["command"])
            if name == "analysis":
                if not lab_installed():
                    pytest.skip("the analysis extra (JupyterLab) is not installed")
                command += ["--port", str(port)]  # its port is its command's, not SOC_PORT
                env |= {"SOC_DASK_WORKERS": "0"}  # Dask's LocalCluster is not what is checked
            with (logs / f"{name}.log").open("wb") as log:
                process = subprocess.Popen(
                    command,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            started[name] = (process, env, port)
        yield started
    finally:
        for process, _, _ in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_compose_healthchecks_pass_against_the_running_services(
    compose_services: dict[str, Any], running: dict[str, Any]
) -> None:
    deadline = time.monotonic() + DEADLINE
    for name, (process, env, port) in running.items():
        check = _command(
            compose_services[name]["healthcheck"]["test"], port, LISTENS.get(name, 8000)
        )
        done = _passes(check, env, deadline)
        assert done.returncode == 0, (name, process.poll(), done.stdout, done.stderr)


def test_image_healthchecks_pass_against_the_running_services(running: dict[str, Any]) -> None:
    dockerfile = stages(DOCKERFILE.read_text())
    deadline = time.monotonic() + DEADLINE
    for name, target in (WEB | {"worker": "worker", "mining": "mining"}).items():
        _, env, port = running[name]
        (healthcheck,) = dockerfile[target].all("HEALTHCHECK")
        words = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
        done = _passes(_command(words, port, LISTENS.get(name, 8000)), env, deadline)
        assert done.returncode == 0, (name, done.stdout, done.stderr)


def test_kubernetes_probes_pass_against_the_running_services(running: dict[str, Any]) -> None:
    _, problems, resources = render(overlay_path("onprem"))
    assert problems == []
    deployments = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["containers"][0]
        for d in resources
        if d["kind"] == "Deployment"
    }
    deadline = time.monotonic() + DEADLINE
    checked: set[tuple[str, ...]] = set()
    for name, container in deployments.items():
        service = {
            "socstack-worker": "worker",
            "socstack-worker-onprem": "worker",
            "socstack-mining": "mining",
        }.get(name, name.removeprefix("socstack-"))
        if service not in running:
            continue  # viz: its own service
        _, env, port = running[service]
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = container.get(kind)
            if probe is None:
                continue
            if "httpGet" in probe:  # what the kubelet does: a GET, 200-399 passes
                url = f"http://127.0.0.1:{port}{probe['httpGet']['path']}"
                with urllib.request.urlopen(url, timeout=10) as answer:
                    assert 200 <= answer.status < 400, (name, kind, answer.status)
                checked.add((service, url))
                continue
            command = (service, *probe["exec"]["command"])
            if command not in checked:
                done = _passes(_command(probe["exec"]["command"]), env, deadline)
                assert done.returncode == 0, (name, kind, done.stdout, done.stderr)
                checked.add(command)
    assert len(checked) >= 11


def test_a_wrong_probe_path_fails(running: dict[str, Any]) -> None:
    """The checks above can fail: a path the service does not serve is refused."""
    _, env, port = running["hapi"]
    url = f"http://127.0.0.1:{port}/hapi/capabilitie"
    check = urllib.request.Request(url)
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(check, timeout=5)
    done = subprocess.run(
        _command(["socstack", "health", "--url", url]), env=env, capture_output=True, check=False
    )
    assert done.returncode == 1


def test_every_service_stops_cleanly_on_sigterm(running: dict[str, Any]) -> None:
    for process, _, _ in running.values():
        assert process.poll() is None  # still up after every check
        process.send_signal(signal.SIGTERM)
    for name, (process, _, _) in running.items():
        assert process.wait(timeout=60) == 0, name
