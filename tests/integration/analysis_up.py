"""One ``socstack up`` with JupyterLab, Dask, planner and worker, shared by the tests of analysis.

Starting ``up`` with JupyterLab behind it takes seconds, and stopping it as long; the
notebook proxy's tests, the browser's analysis tests and the run example need the same
thing: ``up --no-demo --no-watch`` on a copy of the processed demo days, JupyterLab at
``/notebook`` with one Dask worker, the planner and a worker for the notebook runs. Each
test signs in as a person of its own (:data:`PEOPLE`), made before the start.

The stack starts for the first test that asks for it and runs until the session ends,
or until a test stops it on purpose (``test_up_stops_jupyterlab_by_its_pid``); a test
asking after that gets it started again on the same data folder. The tests using it run
one after the other (``pytest_collection_modifyitems`` in tests/conftest.py), so it
does not idle, polling its broker, under the rest of the suite. Its output goes to
files (a pipe nobody reads would stall a process that logs every request).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from tests.conftest import explicit_settings
from tests.integration.people import bearer, person

#: name -> (groups, scopes) of everyone who signs in to the shared stack.
PEOPLE = {
    "ana": (["demo:mag"], ["read", "run"]),  # test_notebook: runs kernels
    "rita": (["demo:mag"], ["read"]),  # test_notebook: may not open JupyterLab
    "oli": (["operators"], ["read", "run"]),  # the browser's analysis tests
    "sam": (["demo", "demo:mag"], ["read", "run"]),  # the run example
}
FIXTURE = "analysis_up"


class AnalysisUp:
    """The shared ``up``: its data folder, its people's tokens, its process when running."""

    def __init__(self, processed_archive: Path, folder: Path):
        self.folder = folder
        self.data = folder / "data"
        shutil.copytree(processed_archive, self.data)
        runtime = Runtime(explicit_settings(self.data))
        upgrade(runtime.catalog)
        self.tokens = {
            name: person(runtime, name, groups, scopes) for name, (groups, scopes) in PEOPLE.items()
        }
        runtime.close()
        self.process: subprocess.Popen[str] | None = None
        self.starts = 0
        self.base = ""

    def running(self, timeout: float = 120.0) -> AnalysisUp:
        """Start ``up`` unless it runs; return once JupyterLab and the API answer."""
        if self.process is not None and self.process.poll() is None:
            return self
        from tests.integration.test_up import free_port

        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.starts += 1
        environment = {
            **os.environ,
            "SOC_DATA_DIR": str(self.data),
            "SOC_LOG_FORMAT": "json",
            "SOC_NOTEBOOK": "true",
            "SOC_DASK_WORKERS": "1",
        }
        command = ["up", "--port", str(port), "--no-demo", "--no-watch"]
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "socstack", *command],
                env=environment,
                stdout=out,
                stderr=err,
                text=True,
            )
        token = self.tokens["ana"]
        deadline = time.monotonic() + timeout
        last: object = None
        for path in ("/notebook/api/status", "/api/notebooks"):
            while True:
                assert self.process.poll() is None, self.output()
                try:
                    last = httpx.get(f"{self.base}{path}", headers=bearer(token), timeout=10)
                    if last.status_code == 200:
                        break
                except httpx.HTTPError as exc:
                    last = exc
                assert time.monotonic() < deadline, f"up never answered {path} ({last!r})"
                time.sleep(0.1)
        return self

    @property
    def out(self) -> Path:
        return self.folder / f"up-{self.starts}.out"

    @property
    def err(self) -> Path:
        return self.folder / f"up-{self.starts}.err"

    def output(self) -> str:
        return self.out.read_text() + "\n" + self.err.read_text()[-5000:]

    def stop(self, timeout: float = 90.0) -> tuple[int, str, str]:
        """SIGINT, as a user's Ctrl-C; the exit code, stdout and stderr of this start."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode, self.out.read_text(), self.err.read_text()
