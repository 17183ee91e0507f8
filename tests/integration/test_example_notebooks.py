"""The example notebooks run, top to bottom, through papermill against the demo archive.

They are what a scientist opens first in JupyterLab (``up`` copies them into the
notebook folder), so each must run as shipped: a real kernel, the direct transport of
``socstack.client`` on the two processed demo days, as a signed-in scientist
(``SOC_TOKEN``). A notebook's ``parameters`` cell keeps its windows; the client cuts
them to the coverage.

The run example needs a data center: it runs against a real ``socstack up`` (planner
and worker, the ``analysis`` queue; the one the analysis tests share,
tests/integration/analysis_up.py), submits the interval template and the hourly
means notebook, which publishes ``mag_l2_1h`` through ``Client.publish``; HAPI then
serves those means, made from the files the run read.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from socstack.catalog.migrate import upgrade
from socstack.runtime import Runtime
from tests.conftest import DEMO_MISSION, explicit_settings
from tests.integration.analysis_up import AnalysisUp
from tests.integration.people import bearer, person

EXAMPLES = DEMO_MISSION / "notebooks" / "examples"
#: What runs without a server (the run notebook needs /api/runs and a worker).
DIRECT = ("year_of_magnetometer.ipynb", "spectrogram.ipynb", "magnetometer_and_plasma.ipynb")


pytestmark = pytest.mark.slow


def test_every_example_is_listed_here_or_needs_a_server() -> None:
    shipped = {p.name for p in EXAMPLES.glob("*.ipynb")}
    assert shipped == {*DIRECT, "run_and_publish.ipynb"}


@pytest.mark.parametrize("name", DIRECT)
def test_an_example_notebook_runs_against_the_archive(
    name: str,
    processed_archive: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import papermill

    data = tmp_path / "data"
    shutil.copytree(processed_archive, data)
    runtime = Runtime(explicit_settings(data))
    upgrade(runtime.catalog)
    token = person(runtime, "scientist", ["operators"], ["read"])
    runtime.close()
    # The kernel inherits these: the same archive and catalog, as this scientist.
    monkeypatch.setenv("SOC_DATA_DIR", str(data))
    monkeypatch.setenv("SOC_TOKEN", token)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    executed = tmp_path / name
    papermill.execute_notebook(
        str(EXAMPLES / name),
        str(executed),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=120,
    )
    import nbformat

    book = nbformat.read(executed, as_version=4)
    errors = [
        o for c in book.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
    ]
    assert not errors
    printed = "".join(
        o.get("text", "")
        for c in book.cells
        for o in c.get("outputs", [])
        if o.get("name") == "stdout"
    )
    expected = {
        "year_of_magnetometer.ipynb": r"172,800 seconds of \|B\| in 2 daily chunks; 48 hourly means",
        "spectrogram.ipynb": "84 windows of 1024 s",
        # The plasma moments have the simulated data gaps: most of the 2,880 minutes.
        "magnetometer_and_plasma.ipynb": r"2[78]\d\d minutes; median dynamic/magnetic pressure",
    }[name]
    assert re.search(expected, printed), printed


def _printed(executed: Path) -> str:
    import nbformat

    book = nbformat.read(executed, as_version=4)
    errors = [o for c in book.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    return "".join(
        o.get("text", "") for c in book.cells for o in c.get("outputs", []) if o.get("name")
    )


def test_the_run_example_submits_runs_and_its_published_means_are_served(
    analysis_up: AnalysisUp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill

    from socstack.client import Client

    up = analysis_up.running()
    token, base = up.tokens["sam"], up.base
    monkeypatch.setenv("SOC_DATA_DIR", str(up.data))
    monkeypatch.setenv("SOC_TOKEN", token)
    monkeypatch.setenv("SOC_PUBLIC_URL", base)
    executed = tmp_path / "run_and_publish.ipynb"
    papermill.execute_notebook(
        str(EXAMPLES / "run_and_publish.ipynb"),
        str(executed),
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=240,
        parameters={"timeout": 180},
    )
    printed = _printed(executed)
    assert re.search(r"^succeeded \d+/\d+ cells", printed, re.M), printed
    names = re.findall(r"demo_mag_l2_1h-gse_20250101_v[\d.]+\.cdf", printed)
    assert names, printed
    # Served over HAPI like any product: 24 hourly means of the day's 1 s field.
    with Client(base, token=token) as client:
        means = client.get("demo_mag_l2_1h", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
        field = client.get(
            "demo_mag_l2_1s", "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", ["B_mag"]
        )
        expected = field["B_mag"].resample(time="1h").mean().values
        np.testing.assert_allclose(means["B_mag"].values, expected, rtol=1e-12)
        # ... made from the files the run read (the 1 s L2 of that day).
        (record,) = client.files(product="mag_l2_1h")
        provenance = httpx.get(
            f"{base}/api/files/{names[0]}/provenance", headers=bearer(token), timeout=30
        ).json()
    assert record["name"] == names[0]
    assert "demo_mag_l2_1s-gse_20250101" in str(provenance), provenance
