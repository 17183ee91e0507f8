"""The ``/notebook`` door without a live JupyterLab: a dead child, none installed, turned off.

The proxy runs in the real web app (TestClient); the dead child is a real process that
has exited, so the proxy learns it the way it does in ``up`` and ``serve notebook``:
from the process itself. (A live one: test_notebook.py, test_serve_notebook.py.)
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from socstack._exceptions import ConfigError, SocError
from socstack.analysis.answers import NotebookUnavailable
from socstack.analysis.embedded import EmbeddedAnalysis
from socstack.analysis.lab import Lab, credential_path, seed_notebooks
from socstack.analysis.proxy import NotebookProxy
from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from socstack.up import serve
from socstack.web import create_notebook_app, create_web_app
from tests.conftest import DEMO_MISSION
from tests.integration.people import bearer, person


def dead_lab(runtime: Runtime) -> Lab:
    """A Lab whose child has ended (exit status 3), as one that crashed."""
    lab = Lab(runtime.settings)
    lab.process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    lab.process.wait()
    return lab


def test_a_dead_jupyterlab_answers_503_at_once_with_what_to_do(runtime: Runtime) -> None:
    upgrade(runtime.catalog)
    token = person(runtime, "ana", ["demo:mag"], ["read", "run"])
    lab = dead_lab(runtime)
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


def test_the_health_check_needs_no_credentials_and_tells_only_the_state(runtime: Runtime) -> None:
    upgrade(runtime.catalog)
    token = person(runtime, "ana", ["demo:mag"], ["read", "run"])
    unstarted = Lab(runtime.settings)  # nothing listens at its port yet
    with TestClient(create_notebook_app(NotebookProxy(runtime.access, unstarted))) as client:
        starting = client.get("/notebook/api")
        assert (starting.status_code, starting.json()) == (503, {"status": "starting"})
        assert client.get("/notebook/api/status").status_code == 401, "that path only"
        assert client.post("/notebook/api").status_code == 401, "and GET only"
        assert client.get("/notebook/api", headers=bearer("not-a-token")).status_code == 401
        assert client.get("/hapi/catalog").status_code == 404, "/notebook alone"
    with TestClient(create_notebook_app(NotebookProxy(runtime.access, dead_lab(runtime)))) as c:
        stopped = c.get("/notebook/api")
        assert (stopped.status_code, stopped.json()) == (503, {"status": "stopped"})
        signed_in = c.get("/notebook/api", headers=bearer(token))
        assert signed_in.status_code == 503 and "exit status 3" in signed_in.text


def test_a_dedicated_notebook_server_ends_when_jupyterlab_does(runtime: Runtime) -> None:
    """`serve notebook` exits non-zero with the reason, so its container is restarted."""
    lab = dead_lab(runtime)
    ports: list[int] = []
    with pytest.raises(SocError, match=r"JupyterLab has stopped \(exit status 3\)"):
        serve(
            create_notebook_app(NotebookProxy(runtime.access, lab)),
            "127.0.0.1",
            0,
            ports.append,
            stop_when=lab.stopped,
        )
    assert len(ports) == 1 and ports[0] > 0, "it served first, then stopped"


def test_serve_notebook_without_jupyterlab_fails_at_once(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("socstack.analysis.embedded.lab_installed", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'socstack\[analysis\]'"):
        EmbeddedAnalysis(runtime, say=lambda _: None, dedicated=True)
    runtime.settings.notebook = False  # `up`'s switch, not this service's
    monkeypatch.setattr("socstack.analysis.embedded.lab_installed", lambda: True)
    assert EmbeddedAnalysis(runtime, say=lambda _: None, dedicated=True).lab is not None
    assert EmbeddedAnalysis(runtime, say=lambda _: None).lab is None
