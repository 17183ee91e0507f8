"""Analysis in a real browser: JupyterLab at /notebook, and *Analyse this interval*.

The ``socstack up`` the analysis tests share (tests/integration/analysis_up.py: no demo,
no watcher; its planner and worker run the notebook runs) on a copy of the processed demo
days; headless Chromium signs in through
``/viz/signin`` as a scientist whose token may run things, then

- opens a notebook in ``/notebook`` and runs its cell, which reads the archive as the
  signed-in user (``socstack.client.Client().get`` where the client is installed, else
  the day's CDF file itself: the integrator's follow-up is only that the client branch
  is merged, the cell then takes the client's path and says so);
- plots a view, presses *Analyse this interval*, finds the run form filled in with the
  view, runs it, and sees its HTML in the page. That needs ``/api/runs`` (the runs
  branch): without it the test fails saying so, it is not skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from socstack.viz.analyse import is_template
from tests.browser import test_viz
from tests.browser.test_viz import shoot, state, wait_for
from tests.integration.analysis_up import AnalysisUp
from tests.integration.people import bearer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The same headless Chromium as the viz's tests (its fixtures, used here too).
browser = test_viz.browser
downloads = test_viz.downloads

#: The cell the browser runs: a day of |B| read as the signed-in user.
CELL = """\
import os, glob, httpx
env = os.environ
who = httpx.get(env["SOC_PUBLIC_URL"] + "/api/whoami",
                headers={"Authorization": "Bearer " + env["SOC_TOKEN"]}).json()["user"]
try:
    from socstack.client import Client
except ImportError:
    Client = None
if Client is not None:
    n, how = Client().get("demo_mag_l2_1s", "2025-01-01", "2025-01-02",
                          parameters=["B_mag"]).sizes["time"], "the client"
else:
    import cdflib
    path = sorted(glob.glob(env["SOC_DATA_DIR"] + "/archive/**/demo_mag_l2_1s-gse_20250101_*.cdf",
                            recursive=True))[0]
    n, how = len(cdflib.CDF(path).varget("b_mag")), "the archive file"
print(f"{who} read {n} records through {how}")
"""


@dataclass
class Running:
    base: str
    data: Path
    token: str


@pytest.fixture
def running(analysis_up: AnalysisUp) -> Running:
    """The shared ``up`` (tests/integration/analysis_up.py), with the notebook to open."""
    notebooks = analysis_up.data / "notebooks"
    notebooks.mkdir(exist_ok=True)
    book = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": CELL,
                "outputs": [],
                "execution_count": None,
            }
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (notebooks / "check.ipynb").write_text(json.dumps(book))
    up = analysis_up.running()
    return Running(up.base, up.data, up.tokens["oli"])


def sign_in(browser: Any, up: Running) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{up.base}/viz/signin")
    field = wait_for(lambda: browser.find_element(By.ID, "signin-token"), "the sign-in form")
    field.send_keys(up.token + "\n")
    wait_for(lambda: "oli (operators)" in browser.find_element(By.ID, "who").text, "signed in")


def test_a_notebook_cell_reads_the_archive_as_the_signed_in_user(
    browser: Any, running: Running
) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.delete_all_cookies()
    browser.get(f"{running.base}/notebook/lab")
    assert "Sign in" in browser.page_source or "sign in" in browser.page_source, (
        "anonymous: refused"
    )
    sign_in(browser, running)
    browser.get(f"{running.base}/notebook/lab/tree/check.ipynb")
    wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell"),
        "the notebook's cell",
        timeout=60,
    )
    # The status bar names the kernel once its WebSocket (through the proxy) is up.
    wait_for(
        lambda: (
            "Python 3 (ipykernel) | Idle" in browser.find_element(By.ID, "jp-main-statusbar").text
        ),
        "the kernel idle, its WebSocket open through the proxy",
        timeout=90,
    )
    shoot(browser, "notebook-opened")
    # Select the cell (its prompt: command mode), then Shift+Enter runs it.
    prompt = browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .jp-InputPrompt")
    ActionChains(browser).move_to_element(prompt).click().perform()
    ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()

    def printed() -> str | None:
        outputs = browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
        text = " ".join(o.text for o in outputs)
        return text if "records through" in text or "Error" in text else None

    text = wait_for(printed, "the cell's output", timeout=90)
    shoot(browser, "notebook")
    assert "oli read 86400 records through" in text, text


def test_analyse_this_interval_runs_the_template_and_shows_its_page(
    browser: Any, running: Running
) -> None:
    from selenium.webdriver.common.by import By

    listing = httpx.get(f"{running.base}/api/notebooks", headers=bearer(running.token), timeout=30)
    if listing.status_code == 404:
        pytest.fail(
            "GET /api/notebooks is 404: this test needs the notebook runs API (/api/runs,"
            " /api/notebooks) of the runs branch; merge it, then run this test",
            pytrace=False,
        )
    assert listing.status_code == 200, listing.text
    names = [n["name"] for n in listing.json()["notebooks"]]
    assert any(is_template(n) for n in names), names
    sign_in(browser, running)
    start, stop = "2025-01-01T00:00:00Z", "2025-01-01T06:00:00Z"
    browser.get(f"{running.base}/viz/?panel=demo_mag_l2_1s/B_mag&start={start}&stop={stop}")
    wait_for(lambda: state(browser)["traces"], "the view plotted")
    browser.find_element(By.ID, "analyse-open").click()

    def form() -> dict[str, str] | None:
        fields = browser.find_elements(By.CSS_SELECTOR, "#analyse-fields .analyse-field")
        values = {
            f.find_element(By.TAG_NAME, "label").text: f.find_element(
                By.TAG_NAME, "input"
            ).get_attribute("value")
            for f in fields
        }
        return values if {"dataset", "parameters", "start", "stop"} <= set(values) else None

    values = wait_for(form, "the run form filled in")
    assert values["dataset"] == "demo_mag_l2_1s"
    assert values["parameters"] == "B_mag"
    shown = state(browser)
    assert (values["start"], values["stop"]) == (shown["start"], shown["stop"])
    browser.find_element(By.ID, "analyse-submit").click()
    wait_for(lambda: "Run " in browser.find_element(By.ID, "analyse-status").text, "the run queued")

    def ended() -> str | None:
        text = browser.find_element(By.ID, "analyse-status").text
        return text if any(s in text for s in ("succeeded", "failed", "timed_out")) else None

    status = wait_for(ended, "the run's end", timeout=240)
    assert "succeeded" in status, (status, browser.find_element(By.ID, "analyse-result").text)
    frame = wait_for(lambda: browser.find_element(By.ID, "analyse-frame"), "the run's page")
    assert frame.get_attribute("sandbox") == "", "no scripts, no origin"
    assert "demo_mag_l2_1s" in frame.get_attribute("srcdoc")
    shoot(browser, "analyse")
