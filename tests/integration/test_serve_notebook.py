"""``socstack serve notebook``: the analysis container's command, run for real.

The cluster's JupyterLab must have the sign-in of embedded mode, not a shared token:
one real ``socstack serve notebook`` process (as the analysis image runs it) on a free
loopback port, its catalog a real one (SQLite in a temporary folder) where the test
makes the users and tokens. The tests ask it over HTTP as the ingress would pass a
browser's requests on, then stop it with SIGTERM, as a pod's deletion does. Every wait
is for the exact answer then asserted; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from socstack.access.tokens import parse_token
from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from tests.conftest import DEMO_MISSION, explicit_settings
from tests.integration.people import bearer, person
from tests.integration.test_up import free_port

pytestmark = pytest.mark.slow

#: Long enough for JupyterLab's first start on a busy 2-core machine; it takes ~3 s.
STARTUP = 60.0


@dataclass
class Served:
    """The running ``serve notebook`` and the people of its catalog."""

    process: subprocess.Popen[bytes]
    base: str
    data: Path
    log: Path
    ana: str  # a team member's token of scopes read and run: may open JupyterLab
    rita: str  # read only: signed in, but may not run code
    catalog: Runtime  # the test's own view of the same catalog (to revoke a token)

    def get(self, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        """GET ``path`` of the server, with ``token`` as a Bearer token if given."""
        return httpx.get(f"{self.base}{path}", headers=bearer(token), timeout=30, **kwargs)  # type: ignore[arg-type]

    def output(self) -> str:
        """What the process wrote (for assertion messages)."""
        return self.log.read_text(errors="replace")[-4000:]


def wait_for(condition: Callable[[], bool], what: str, served: Served) -> None:
    """Poll ``condition`` until it holds; the server must keep running meanwhile."""
    deadline = time.monotonic() + STARTUP
    while not condition():
        assert served.process.poll() is None, f"serve notebook ended:\n{served.output()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{served.output()}"
        time.sleep(0.1)


def healthy(served: Served) -> bool:
    """Whether the health check (no credentials) passes: JupyterLab answers."""
    try:
        return served.get("/notebook/api").status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    pytest.importorskip("jupyterlab", reason="the analysis extra is not installed")
    data = tmp_path_factory.mktemp("serve-notebook") / "data"
    catalog = Runtime(explicit_settings(data, token_cache_seconds=0))
    upgrade(catalog.catalog)
    ana = person(catalog, "ana", ["demo:mag"], ["read", "run"])
    rita = person(catalog, "rita", ["demo:mag"], ["read"])
    port = free_port()
    # What a container gets: its settings only (none of this machine's SOC_* variables).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOC_")}
    env.update(
        {
            "SOC_DATA_DIR": str(data),
            "SOC_DATABASE_URL": f"sqlite:///{data / 'catalog.sqlite'}",
            "SOC_MISSIONS": str(DEMO_MISSION),
            "SOC_LOG_FORMAT": "json",
            # A revocation takes effect on the next request (5 s by default: a waste here).
            "SOC_TOKEN_CACHE_SECONDS": "0",
            "SOC_DASK_WORKERS": "0",  # no LocalCluster: a cluster's Dask is the operator's
            "SOC_NOTEBOOK": "false",  # `up`'s switch: serve notebook starts JupyterLab anyway
            "SOC_ADMIN_TOKEN": "soc_0123456789abcdef_" + "a" * 43,  # a secret no kernel gets
        }
    )
    log = data.parent / "serve-notebook.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "socstack", "serve", "notebook", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    running = Served(process, f"http://127.0.0.1:{port}", data, log, ana, rita, catalog)
    try:
        wait_for(lambda: healthy(running), "the health check to pass", running)
        yield running
    finally:
        if process.poll() is None:  # a test failed before the SIGTERM test: stop it anyway
            process.kill()
            process.wait()
        catalog.close()


def test_without_credentials_only_the_health_check_answers(served: Served) -> None:
    health = served.get("/notebook/api")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}, "nothing of JupyterLab's (its version) is told"
    assert health.headers["cache-control"] == "no-store"
    for path in ("/notebook/lab", "/notebook/api/status", "/notebook/api/contents"):
        anonymous = served.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.headers["www-authenticate"] == 'Bearer realm="socstack"'
        assert "sign in" in anonymous.text
    # JupyterLab's own way in (its token in the query) is not one: only socstack tokens are.
    assert served.get("/notebook/api/status", params={"token": "x"}).status_code == 401
    assert served.get("/api/files").status_code == 404, "this server serves /notebook only"


def test_credentials_are_checked_by_the_access_rule(served: Served) -> None:
    wrong = served.get("/notebook/api/status", token="soc_0123456789abcdef_" + "w" * 43)
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert served.get("/notebook/api", token="soc_0123456789abcdef_" + "w" * 43).status_code == (
        401
    ), "with credentials, the health path is a door like any other"
    reader = served.get("/notebook/api/status", token=served.rita)
    assert reader.status_code == 403
    assert "scope run" in reader.text


def test_a_signed_in_user_reaches_jupyterlab(served: Served) -> None:
    api = served.get("/notebook/api", token=served.ana)
    assert api.status_code == 200
    assert "version" in api.json(), "JupyterLab's own answer, passed on"
    assert served.get("/notebook/api/status", token=served.ana).status_code == 200
    examples = served.get("/notebook/api/contents/examples", token=served.ana)
    assert examples.status_code == 200, examples.text
    assert "year_of_magnetometer.ipynb" in {e["name"] for e in examples.json()["content"]}
    # The viz's sign-in cookie is the browser's way in, the same door.
    lab = served.get("/notebook/lab", cookies={"socstack_token": served.ana})
    assert lab.status_code == 200 and "JupyterLab" in lab.text


def _processes(needle: str) -> Iterator[Path]:
    """The ``/proc`` folders of the processes whose command line holds ``needle``."""
    for entry in Path("/proc").iterdir():
        try:
            if needle.encode() in (entry / "cmdline").read_bytes():
                yield entry
        except OSError:  # not a process, or one that has just ended
            continue


def _kernel_environment(kernel: str) -> dict[str, str]:
    """The environment a kernel process started with (found by its connection file)."""
    (process,) = _processes(f"kernel-{kernel}.json")
    raw = (process / "environ").read_bytes().decode()
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_kernel_runs_with_its_users_token_and_no_one_elses(served: Served) -> None:
    session = httpx.post(
        f"{served.base}/notebook/api/sessions",
        headers=bearer(served.ana),
        json={"path": "mine.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        timeout=60,
    )
    assert session.status_code == 201, session.text
    env = _kernel_environment(session.json()["kernel"]["id"])
    assert env["SOC_TOKEN"] == served.ana
    assert "SOC_ADMIN_TOKEN" not in env
    assert "JUPYTER_TOKEN" not in env, "nor JupyterLab's own"
    assert env["SOC_DATABASE_URL"].endswith("catalog.sqlite"), "next to the data"
    assert not (served.data / "lab" / "credential").exists(), "gone once the kernel started"


def test_a_revoked_token_is_refused_at_once(served: Served) -> None:
    accounts = served.catalog.access.accounts
    _, token = accounts.create_token("ana", ["read", "run"], actor="test", label="to revoke")
    assert served.get("/notebook/api/status", token=token).status_code == 200
    parts = parse_token(token)
    assert parts is not None
    accounts.revoke(parts.id, actor="test")
    refused = served.get("/notebook/api/status", token=token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert served.get("/notebook/lab", cookies={"socstack_token": token}).status_code == 401


def test_sigterm_stops_it_and_jupyterlab_cleanly(served: Served) -> None:
    (found,) = (served.data / "lab" / "runtime").glob("jpserver-*.json")
    lab = int(json.loads(found.read_text())["pid"])
    port = int(served.base.rsplit(":", 1)[1])
    served.process.send_signal(signal.SIGTERM)  # this test's own process, by its pid
    assert served.process.wait(timeout=60) == 0, served.output()
    output = served.output()
    assert "Traceback" not in output
    assert served.ana not in output and served.rita not in output, "no token is logged"
    with pytest.raises(ProcessLookupError):
        os.kill(lab, 0)  # JupyterLab stopped with it, by its pid
    if sys.platform.startswith("linux"):  # and its kernels (their files are in its folder)
        assert list(_processes(str(served.data / "lab"))) == []
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
    assert not (served.data / "lab" / "credential").exists(), "no credential is left on disk"
