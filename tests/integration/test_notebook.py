"""``/notebook`` in ``socstack up``: a real JupyterLab child behind the sign-in proxy.

The ``up`` shared by the analysis tests (tests/integration/analysis_up.py: no demo, no
watcher, on a copy of the processed demo days, with one Dask worker); the tests talk to
it as a browser's JavaScript would, over HTTP and the kernel's WebSocket, through the
proxy only. Every wait is for the exact answer then asserted.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.integration.analysis_up import AnalysisUp
from tests.integration.people import bearer

pytestmark = pytest.mark.slow


@dataclass
class Up:
    shared: AnalysisUp
    token: str
    reader: str  # a token of scope read only

    @property
    def base(self) -> str:
        return self.shared.base

    @property
    def data(self) -> Path:
        return self.shared.data

    def get(self, path: str, token: str | None = "", **kwargs: object) -> httpx.Response:
        headers = bearer(self.token if token == "" else token)
        return httpx.get(f"{self.base}{path}", headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def lab_pid(self) -> int:
        """JupyterLab's pid, from the server file it writes in its runtime folder."""
        (found,) = (self.data / "lab" / "runtime").glob("jpserver-*.json")
        return int(json.loads(found.read_text())["pid"])


@pytest.fixture
def up(analysis_up: AnalysisUp) -> Up:
    """The shared ``up`` (tests/integration/analysis_up.py), as ana, who may run kernels."""
    running = analysis_up.running()
    return Up(running, running.tokens["ana"], running.tokens["rita"])


def execute(up: Up, code: str, headers: dict[str, str] | None = None) -> str:
    """Run ``code`` in a new kernel, over the kernel's WebSocket; its printed output."""
    session = httpx.post(
        f"{up.base}/notebook/api/sessions",
        headers=bearer(up.token),
        json={
            "path": f"check-{uuid.uuid4().hex[:6]}.ipynb",
            "type": "notebook",
            "kernel": {"name": "python3"},
        },
        timeout=60,
    )
    assert session.status_code == 201, session.text
    kernel = session.json()["kernel"]["id"]
    url = up.base.replace("http://", "ws://") + f"/notebook/api/kernels/{kernel}/channels"
    message_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": message_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {"code": code, "silent": False, "store_history": False},
        "channel": "shell",
        "buffers": [],
    }
    out: list[str] = []
    with connect(url, additional_headers=headers or bearer(up.token), open_timeout=30) as ws:
        ws.send(json.dumps(request))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            reply = json.loads(ws.recv(timeout=60))
            if reply.get("parent_header", {}).get("msg_id") != message_id:
                continue
            kind = reply["header"]["msg_type"]
            if kind == "stream":
                out.append(reply["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(reply["content"]["traceback"]))
            elif kind == "status" and reply["content"]["execution_state"] == "idle":
                return "".join(out)
    raise AssertionError(f"no idle status for the execution (output so far: {out})")


def test_anonymous_and_wrong_tokens_are_refused_before_jupyterlab(up: Up) -> None:
    anonymous = up.get("/notebook/lab", token=None)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert "sign in" in anonymous.text
    wrong = up.get("/notebook/api/status", token="soc_0123456789abcdef_" + "w" * 43)
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    reader = up.get("/notebook/api/status", token=up.reader)
    assert reader.status_code == 403 and "scope run" in reader.text
    # Jupyter's own token is not the way in either: only socstack credentials are.
    assert up.get("/notebook/api/status", token=None, params={"token": "x"}).status_code == 401


def test_the_lab_opens_with_the_example_notebooks_seeded(up: Up) -> None:
    lab = up.get("/notebook/lab")
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    # JupyterLab writes its server's token into the page; the proxy takes it out.
    assert re.search(r'"token": ""', lab.text), "the page carries no JupyterLab token"
    listing = up.get("/notebook/api/contents/examples").json()
    names = {entry["name"] for entry in listing["content"]}
    assert {"year_of_magnetometer.ipynb", "spectrogram.ipynb"} <= names, names


def test_a_kernel_runs_as_the_signed_in_user_next_to_the_archive_and_dask(up: Up) -> None:
    code = (
        "import os, glob, httpx, cdflib\n"
        "env = os.environ\n"
        "who = httpx.get(env['SOC_PUBLIC_URL'] + '/api/whoami',"
        " headers={'Authorization': 'Bearer ' + env['SOC_TOKEN']}).json()\n"
        "print('user', who['user'])\n"
        "print('jupyter token visible', 'JUPYTER_TOKEN' in env)\n"
        "path = sorted(glob.glob(env['SOC_DATA_DIR'] + '/archive/**/demo_mag_l2_1s-gse_*.cdf',"
        " recursive=True))[0]\n"
        "print('records', len(cdflib.CDF(path).varget('b_mag')))\n"
        "from distributed import Client\n"
        "with Client() as dask:\n"
        "    print('dask', dask.scheduler.address == env['SOC_DASK_SCHEDULER'],"
        " dask.submit(sum, [1, 2]).result())\n"
    )
    output = execute(up, code)
    assert "user ana\n" in output
    assert "jupyter token visible False\n" in output
    assert "records 86400\n" in output
    assert "dask True 3\n" in output


def test_a_websocket_from_another_site_is_refused(up: Up) -> None:
    session = httpx.post(
        f"{up.base}/notebook/api/sessions",
        headers=bearer(up.token),
        json={"path": "other-site.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
        timeout=60,
    ).json()
    url = (
        up.base.replace("http://", "ws://")
        + f"/notebook/api/kernels/{session['kernel']['id']}/channels"
    )
    with pytest.raises(InvalidStatus, match="HTTP 403"):
        with connect(
            url, additional_headers={**bearer(up.token), "Origin": "http://evil.example"}
        ) as ws:
            ws.recv(timeout=10)
    posted = httpx.post(
        f"{up.base}/notebook/api/sessions",
        headers={**bearer(up.token), "Origin": "http://evil.example"},
        json={"path": "x.ipynb", "type": "notebook", "kernel": {"name": "python3"}},
    )
    assert posted.status_code == 403


def test_up_stops_jupyterlab_by_its_pid(up: Up) -> None:
    pid = up.lab_pid()
    code, _, err = up.shared.stop(timeout=60)
    assert code == 0, err[-3000:]
    assert "Traceback" not in err
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not credential_file(up).exists(), "no credential is left on disk"


def credential_file(up: Up) -> Path:
    return up.data / "lab" / "credential"
