"""The ``/notebook`` door without a live JupyterLab: a dead child, none installed, turned off.

The proxy runs in the real web app (TestClient); the dead child is a real process that
has exited, so the proxy learns it the way it does in ``up``: from the process itself.
"""

from __future__ import annotations

import subprocess
import sys

from starlette.testclient import TestClient

from socstack.analysis.answers import NotebookUnavailable
from socstack.analysis.embedded import EmbeddedAnalysis
from socstack.analysis.lab import Lab, credential_path, seed_notebooks
from socstack.analysis.proxy import NotebookProxy
from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.conftest import DEMO_MISSION
from tests.integration.people import bearer, person


def test_a_dead_jupyterlab_answers_503_at_once_with_what_to_do(runtime: Runtime) -> None:
    upgrade(runtime.catalog)
    token = person(runtime, "ana", ["demo:mag"], ["read", "run"])
    lab = Lab(runtime.settings)
    lab.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    lab.process.wait()
    app = create_web_app(runtime, notebook=NotebookProxy(runtime.access, lab))
    with TestClient(app) as client:
        anonymous = client.get("/notebook/lab")
        assert anonymous.status_code == 401, "who asks is checked first"
        answer = client.get("/notebook/lab", headers=bearer(token))
        assert answer.status_code == 503
        assert "JupyterLab has stopped (exit status 3)" in answer.text
        assert "Restart socstack up" in answer.text
        # Signed in through the viz's cookie, the same door.
        client.cookies.set("socstack_token", token)
        assert client.get("/notebook/api/status").status_code == 503


def test_without_jupyterlab_or_turned_off_notebook_says_why(runtime: Runtime, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with TestClient(create_web_app(runtime, notebook=NotebookUnavailable.not_installed())) as c:
        answer = c.get("/notebook/")
        assert answer.status_code == 503
        assert "pip install 'socstack[analysis]'" in answer.text
    runtime.settings.notebook = False
    analysis = EmbeddedAnalysis(runtime, say=lambda _: None)
    assert analysis.lab is None
    with TestClient(create_web_app(runtime, notebook=analysis.app)) as c:
        assert "SOC_NOTEBOOK=false" in c.get("/notebook/lab").text


def test_examples_are_seeded_once_and_edits_kept(runtime: Runtime) -> None:
    settings = runtime.settings
    first = seed_notebooks(settings, [DEMO_MISSION])
    assert {p.name for p in first} >= {"year_of_magnetometer.ipynb", "spectrogram.ipynb"}
    edited = first[0]
    edited.write_text("{}")
    assert seed_notebooks(settings, [DEMO_MISSION]) == []
    assert edited.read_text() == "{}"
    assert not credential_path(settings).exists()
