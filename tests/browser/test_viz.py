"""The viz in a real browser: Debian's headless Chromium driven by chromedriver.

socstack serves two processed demo days with their quicklooks on a real port (uvicorn
in a thread); the viz in the same server reads that HAPI server over HTTP. Screenshots
of the main views go to ``test-artifacts/screenshots``.
"""

from __future__ import annotations

import csv
import io
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.types import ASGIApp

from socstack.pipeline.planner import Planner
from socstack.pipeline.runner import run_rule
from socstack.runtime import Runtime
from socstack.times import parse_time
from socstack.web import create_web_app
from tests.conftest import PROCESSED_DAYS, REPO, explicit_settings, unavailable
from tests.integration.test_hapi import LiveServer

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def archive(processed_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The processed demo days plus their quicklooks."""
    folder = tmp_path_factory.mktemp("viz") / "data"
    shutil.copytree(processed_archive, folder)
    runtime = Runtime(explicit_settings(folder))
    mission = runtime.missions.mission("demo")
    for day in PROCESSED_DAYS:
        for rule in ("mag_ql", "pls_ql"):
            run_rule(runtime, mission, mission.rules[rule], day)
    # Jobs for the status page: the planner reads the archive's events (nothing runs them).
    planner = Planner(runtime, lambda job: None)
    while planner.plan_events():
        pass
    runtime.close()
    return folder


class Site(LiveServer):
    """All of socstack (API, HAPI, viz) on a real port."""

    def build(self, runtime: Runtime) -> ASGIApp:
        return create_web_app(runtime, lambda: self.base)

    @property
    def viewer(self) -> Any:
        return self.app.prefixed["/viz"].dash.viewer  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def site(archive: Path) -> Iterator[Site]:
    running = Site(archive)
    with running:
        yield running


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        unavailable(
            "Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {"download.default_directory": str(downloads), "download.prompt_for_download": False},
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


# -- helpers ----------------------------------------------------------------------------
def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def traces(browser: Any) -> list[dict[str, Any]]:
    """The plotted traces as the browser holds them: type, name and point count."""
    return browser.execute_script(
        """
        const gd = document.querySelector('#graph .js-plotly-plot');
        if (!gd || !gd._fullData) return [];
        return gd._fullData.map(t => ({type: t.type, name: t.name,
                                       n: t.x ? t.x.length : 0,
                                       x0: t.x && t.x.length ? Number(t.x[0]) : null}));
        """
    )


def message(browser: Any) -> str:
    from selenium.webdriver.common.by import By

    element = browser.find_element(By.ID, "message")
    return "" if element.get_attribute("hidden") else element.text


def choose(browser: Any, dropdown: str, value: str) -> None:
    """Pick ``value`` in a Dash dropdown the way a user does: open, type, click."""
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, dropdown).click()
    search = wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".dash-dropdown-content input[type=search]"),
        f"the {dropdown} search box",
    )
    search.send_keys(value)
    option = wait_for(
        lambda: browser.find_element(
            By.XPATH,
            f"//*[contains(@class,'dash-dropdown-option')][.//input[@value='{value}']]",
        ),
        f"option {value}",
    )
    option.click()
    browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")  # Escape closes it


def type_into(browser: Any, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    field = browser.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text + "\n")


def shoot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def relayout(browser: Any, start: str, stop: str, done: Callable[[], bool]) -> None:
    """Zoom through plotly's own relayout (what a drag emits), until ``done``.

    Plotly may still be drawing the previous window and drop the call: ask again.
    """
    for _ in range(3):
        browser.execute_script(
            "window.Plotly.relayout(document.querySelector('#graph .js-plotly-plot'),"
            " {'xaxis.range[0]': arguments[0], 'xaxis.range[1]': arguments[1]});",
            start,
            stop,
        )
        try:
            wait_for(done, f"the window {start} to {stop}", timeout=8)
            return
        except AssertionError:
            continue


def link(site: Site, dataset: str, parameters: str, start: str, stop: str) -> str:
    return (
        f"{site.base}/viz/?server={quote(site.hapi, safe=':/')}&dataset={dataset}"
        f"&parameters={parameters}&start={start}&stop={stop}"
    )


# -- tests ------------------------------------------------------------------------------
def test_a_shared_link_reopens_the_view_with_a_spectrogram(browser: Any, site: Site) -> None:
    # First in the module: the link is the server's first plot, whose download is the
    # slowest (a relayout event during it once made Dash drop the figure).
    from selenium.webdriver.common.by import By

    browser.get(
        link(site, "demo_pls_l2", "density,eflux", "2025-01-01T06:00Z", "2025-01-01T12:00Z")
    )
    shown = wait_for(
        lambda: {t["type"] for t in traces(browser)} >= {"scatter", "heatmap"} and traces(browser),
        "a line and a spectrogram",
    )
    assert [t["name"] for t in shown if t["type"] == "scatter"] == ["N_p"]
    axis = browser.execute_script(
        "return document.querySelector('#graph .js-plotly-plot').layout.yaxis2.type"
    )
    assert axis == "log"
    assert browser.find_element(By.ID, "start").get_attribute("value") == "2025-01-01T06:00Z"
    first_x = parse_time("2025-01-01T06:00Z") / 1e6
    assert all(t["x0"] >= first_x for t in shown)
    shoot(browser, "spectrogram")


def test_choose_a_dataset_and_plot_then_zoom(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{site.base}/viz/")
    wait_for(
        lambda: browser.find_element(By.ID, "server").get_attribute("value") == site.hapi,
        "the default server (this socstack)",
    )
    choose(browser, "dataset", "demo_mag_l2_1s")
    wait_for(
        lambda: "2025-01-01" in browser.find_element(By.ID, "coverage-text").text,
        "the dataset's coverage",
    )
    # The first parameter is preselected; pick the vector instead, and the first day.
    browser.execute_script(
        "document.querySelector('#parameters .dash-dropdown-clear, #parameters + * .dash-dropdown-clear')?.click()"
    )
    choose(browser, "parameters", "B_GSE")
    type_into(browser, "start", "2025-01-01T00:00:00Z")
    type_into(browser, "stop", "2025-01-02T00:00:00Z")
    browser.find_element(By.ID, "plot").click()
    plotted = wait_for(
        lambda: [t for t in traces(browser) if t["name"] in ("Bx GSE", "Bz GSE")], "traces"
    )
    names = [t["name"] for t in traces(browser)]
    assert {"Bx GSE", "By GSE", "Bz GSE"} <= set(names), names
    # A day of 1 s data is 86,400 samples: the browser gets an envelope, not the samples.
    widest = max(t["n"] for t in plotted)
    assert 200 <= widest <= 2 * 4000 + 50, widest
    assert "reduced" in browser.find_element(By.ID, "stats").text
    assert "server=" in browser.current_url and "demo_mag_l2_1s" in browser.current_url
    shoot(browser, "plot-day")
    fetches = site.viewer.cache.fetches

    # Zoom by dragging across about two hours of the top panel, as a user does.
    from selenium.webdriver.common.action_chains import ActionChains

    drag = browser.find_element(By.CSS_SELECTOR, "#graph .nsewdrag")
    width = drag.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        drag, -width // 2 + 10, 0
    ).click_and_hold().move_by_offset(width // 12, 0).release().perform()

    def records() -> int:
        text = browser.find_element(By.ID, "stats").text
        return int(text.split(" records")[0].replace(",", "")) if " records" in text else 0

    hours = wait_for(lambda: 0 < records() < 86_400 and records(), "the zoomed window's data")
    assert 3_600 <= hours <= 3 * 3_600, hours  # 1 s records: the two hours dragged over
    # Zoom further, to ten minutes, through plotly's own relayout (what a drag emits):
    # ten minutes of 1 s data fit the screen, so every sample is sent, none reduced.
    # (Plotly may still be drawing the previous window: ask again until it takes.)
    relayout(browser, "2025-01-01 01:00:00", "2025-01-01 01:10:00", lambda: records() == 600)
    assert records() == 600, browser.find_element(By.ID, "stats").text
    zoomed = traces(browser)
    assert all(t["n"] == 600 for t in zoomed), zoomed
    assert "reduced" not in browser.find_element(By.ID, "stats").text
    assert site.viewer.cache.fetches == fetches, "zooming must not download again"
    shoot(browser, "plot-zoomed")


def test_a_narrow_plot_of_two_days_is_drawn_from_the_summary(browser: Any, site: Site) -> None:
    # Two days on about 200 pixel columns: 14 minutes a column, so the one-minute
    # summary gives the same envelope as the 1 s data, from 60 times fewer records.
    from selenium.webdriver.common.by import By

    size = browser.get_window_size()
    browser.set_window_size(480, size["height"])
    try:
        browser.get(link(site, "demo_mag_l2_1s", "B_GSE", "2025-01-01", "2025-01-03"))

        def stats() -> str:
            return browser.find_element(By.ID, "stats").text

        wait_for(lambda: "records" in stats(), "the plot's statistics")
        assert stats().startswith("2,880 records of the summary demo_mag_l2_1m"), stats()
        names = {t["name"] for t in traces(browser)}
        assert {"Bx GSE", "By GSE", "Bz GSE"} <= names, names
        assert max(t["n"] for t in traces(browser)) <= 2 * 200 + 50
        shoot(browser, "plot-summary")
        # Two hours need the 1 s data: zooming reads them.
        two_hours = lambda: stats().startswith("7,200 records,")  # noqa: E731
        relayout(browser, "2025-01-01 01:00:00", "2025-01-01 03:00:00", two_hours)
        assert two_hours(), stats()
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_export_csv_holds_the_shown_records(browser: Any, site: Site, downloads: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2025-01-01T00:00Z", "2025-01-01T00:10Z"))
    wait_for(lambda: traces(browser), "the plot")
    before = set(downloads.iterdir())
    browser.find_element(By.ID, "export-csv").click()
    new = wait_for(
        lambda: [p for p in set(downloads.iterdir()) - before if p.suffix == ".csv"],
        "the csv download",
    )
    rows = list(csv.reader(io.StringIO(new[0].read_text())))
    assert rows[0] == ["time", "B_mag"]
    assert len(rows) == 1 + 600
    assert rows[1][0] == "2025-01-01T00:00:00.000Z"
    assert float(rows[1][1]) > 0


def test_errors_are_messages_in_the_page(browser: Any, site: Site) -> None:
    browser.get(f"{site.base}/viz/")
    wait_for(lambda: traces(browser) == [] and True, "the page")
    type_into(browser, "server", "http://127.0.0.1:9/hapi")
    text = wait_for(lambda: message(browser), "a message for a bad server")
    assert "cannot reach http://127.0.0.1:9/hapi" in text
    shoot(browser, "bad-server")

    browser.get(link(site, "no_such_dataset", "x", "2025-01-01Z", "2025-01-02Z"))
    assert "Unknown dataset 'no_such_dataset'" in wait_for(
        lambda: message(browser), "unknown dataset"
    )

    # Inside the coverage but with no records (the server answers 1201): a clear message.
    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2024-12-31T00:00Z", "2025-01-01T00:00Z"))
    text = wait_for(lambda: message(browser), "a message for an empty or refused range")
    assert "HAPI error 1405" in text or "no data" in text
    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2025-01-02T00:00Z", "2025-01-01T00:00Z"))
    assert "stop time must be after" in wait_for(lambda: message(browser), "reversed times")
    page = browser.page_source
    assert "Traceback" not in page


def test_quicklook_gallery_and_pipeline_status(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{site.base}/viz/quicklooks")
    images = wait_for(
        lambda: [
            i
            for i in browser.find_elements(By.CSS_SELECTOR, ".gallery img")
            if browser.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", i
            )
        ],
        "loaded quicklook images",
    )
    assert len(images) == 4  # two days, two instruments
    assert any("demo_mag_ql_daily_20250102" in i.get_attribute("src") for i in images)
    shoot(browser, "quicklooks")

    counts = httpx.get(f"{site.base}/api/jobs?limit=1").json()["counts"]
    assert sum(counts.values()) > 0
    browser.get(f"{site.base}/viz/status")
    tiles = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".tile"), "status tiles")
    shown = {
        t.find_element(By.TAG_NAME, "span").text: t.find_element(By.TAG_NAME, "strong").text
        for t in tiles
    }
    for status, count in counts.items():
        assert shown[status] == f"{count:,}", (status, shown)
    blocked = browser.find_elements(By.CSS_SELECTOR, "#status-blocked tbody tr")
    assert len(blocked) == min(counts.get("blocked", 0), 50)
    shoot(browser, "status")
