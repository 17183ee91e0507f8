"""The viz in a real browser: Debian's headless Chromium driven by chromedriver.

socstack serves two processed demo days with their quicklooks on a real port (uvicorn
in a thread); the viz in the same server reads that HAPI server over HTTP. One test
starts ``socstack up --port N`` as a process of its own. Screenshots of the main views
go to ``test-artifacts/screenshots``.

Every wait is for the exact state the test then asserts (the figure of this request,
all four images loaded), never for a first sign of it: a busy machine draws the
default view, or the first image, long before the rest.
"""

from __future__ import annotations

import csv
import io
import itertools
import shutil
import signal
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import pytest
from starlette.types import ASGIApp

from socstack.pipeline.planner import Planner
from socstack.pipeline.runner import run_rule
from socstack.runtime import Runtime
from socstack.times import parse_time
from socstack.web import create_web_app
from tests.conftest import PROCESSED_DAYS, REPO, explicit_settings, unavailable
from tests.integration.people import bearer, person
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
        # /viz is the Dash app inside its usage meter (socstack.usage.Metered).
        return self.app.prefixed["/viz"].app.dash.viewer  # type: ignore[attr-defined]


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


#: What the page shows, read in one go: the figure (traces, axes, in ms since 1970 for
#: times), the time fields, the statistics line, the message and the URL.
_STATE = """
const gd = document.querySelector('#graph .js-plotly-plot');
const graph = document.getElementById('graph');
const text = id => { const e = document.getElementById(id); return e ? e.textContent : ''; };
const value = id => { const e = document.getElementById(id); return e ? e.value : null; };
const message = document.getElementById('message');
const state = {
  url: location.href, start: value('start'), stop: value('stop'), stats: text('stats'),
  message: message && !message.hidden ? message.textContent : '',
  shown: !!graph && graph.style.display !== 'none', traces: [], x: [], y: [], height: 0,
};
if (!gd || !gd._fullLayout || !gd._fullData || !state.shown) return state;
const L = gd._fullLayout;
const sorted = re => Object.keys(L).filter(k => re.test(k))
  .sort((a, b) => Number(a.slice(5) || 1) - Number(b.slice(5) || 1));
state.traces = gd._fullData.map(t => ({
  type: t.type, name: t.name, n: t.x ? t.x.length : 0, axis: t.yaxis,
  x0: t.x && t.x.length ? Number(t.x[0]) : null}));
state.x = sorted(/^xaxis\\d*$/).map(k => ({
  range: L[k].range.map(L[k].r2l), matches: L[k].matches || null}));
state.y = sorted(/^yaxis\\d*$/).map(k => ({
  type: L[k].type, range: L[k].range, autorange: L[k].autorange, domain: L[k].domain,
  title: L[k].title.text}));
state.height = L.height;
state.box = graph.getBoundingClientRect().height;
return state;
"""


def state(browser: Any) -> dict[str, Any]:
    return browser.execute_script(_STATE)


def traces(browser: Any) -> list[dict[str, Any]]:
    """The plotted traces as the browser holds them: type, name and point count."""
    return state(browser)["traces"]


def panel_names(page: dict[str, Any]) -> list[set[str]]:
    """The trace names of each panel, top to bottom (heatmaps by parameter name)."""
    panels: list[set[str]] = [set() for _ in page["y"]]
    for t in page["traces"]:
        panels[int(t["axis"][1:] or 1) - 1].add(t["name"])
    return panels


def window(page: dict[str, Any]) -> list[tuple[float, float]]:
    """Each panel's time axis range, as ms since 1970."""
    return [tuple(x["range"]) for x in page["x"]]


def ms(text: str) -> float:
    return parse_time(text) / 1e6


def message(browser: Any) -> str:
    return state(browser)["message"]


def choose(browser: Any, dropdown: str, value: str, typed: str | None = None) -> None:
    """Pick ``value`` in a Dash dropdown the way a user does: open, type, click.

    ``typed`` is what goes in the search box (the value itself by default): a few
    letters of the label that only the option wanted has, when its value is as short
    as a number (typing "2" keeps every option that has a 2 in it, and the list moves).
    """
    from selenium.webdriver.common.by import By

    browser.find_element(By.ID, dropdown).click()
    search = wait_for(
        lambda: browser.find_element(By.CSS_SELECTOR, ".dash-dropdown-content input[type=search]"),
        f"the {dropdown} search box",
    )
    search.send_keys(typed or value)
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


def panel_rows(browser: Any) -> list[Any]:
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, "#panel-list .panel")


def listed(browser: Any) -> list[str]:
    """The stack editor's rows as ``dataset/parameter``, top to bottom."""
    return browser.execute_script(
        "return [...document.querySelectorAll('#panel-list .panel-parameter')].map(e => e.title);"
    )


def stacked(browser: Any, panels: list[str]) -> bool:
    """Whether the link and the stack editor both hold ``panels`` (options aside)."""
    return stack_in_url(browser) == panels and listed(browser) == [p.split(";")[0] for p in panels]


def in_panel(browser: Any, index: int, selector: str) -> Any:
    """An element of the stack editor's row ``index`` (0 is the top panel)."""
    from selenium.webdriver.common.by import By

    return panel_rows(browser)[index].find_element(By.CSS_SELECTOR, selector)


def stack_in_url(browser: Any) -> list[str]:
    """The ``panel=`` values of the page's URL, in order."""
    return parse_qs(urlsplit(browser.current_url).query).get("panel", [])


def shoot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def relayout(browser: Any, update: dict[str, Any], done: Callable[[], Any], what: str) -> Any:
    """Zoom through plotly's own relayout (what a drag emits), until ``done``.

    Plotly may still be drawing the previous window and drop the call: ask again, up to
    three times, then fail.
    """
    for attempt in range(3):
        browser.execute_script(
            "window.Plotly.relayout(document.querySelector('#graph .js-plotly-plot'),"
            " arguments[0]);",
            update,
        )
        try:
            return wait_for(done, what, timeout=8)
        except AssertionError:
            if attempt == 2:
                raise
    return None


def link(site: Site, dataset: str, parameters: str, start: str, stop: str) -> str:
    """A link of before stacks: one dataset and its parameters (shared links keep working)."""
    return (
        f"{site.base}/viz/?server={quote(site.hapi, safe=':/')}&dataset={dataset}"
        f"&parameters={parameters}&start={start}&stop={stop}"
    )


def stack_link(site: Site, panels: list[str], start: str, stop: str) -> str:
    query = [("server", site.hapi), *(("panel", p) for p in panels)]
    query += [("start", start), ("stop", stop)]
    return f"{site.base}/viz/?{urlencode(query, safe=':/;=')}"


#: Where each element of the figure is on the page, for the geometry checks.
_BOXES = """
const gd = document.querySelector('#graph .js-plotly-plot');
const L = gd._fullLayout, size = L._size, top = gd.getBoundingClientRect().top;
const box = e => { const r = e.getBoundingClientRect();
                   return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
const keys = Object.keys(L).filter(k => /^yaxis\\d*$/.test(k))
  .sort((a, b) => Number(a.slice(5) || 1) - Number(b.slice(5) || 1));
return {
  panels: keys.map(k => ({top: top + size.t + (1 - L[k].domain[1]) * size.h,
                          bottom: top + size.t + (1 - L[k].domain[0]) * size.h})),
  titles: keys.map(k => { const e = gd.querySelector('.g-' + k.replace('axis', '') + 'title');
                          return e ? box(e) : null; }),
  colorbars: [...gd.querySelectorAll('.colorbar')].map(box),
  legends: [...gd.querySelectorAll('.legend')].map(box),
  labels: [...gd.querySelectorAll('.annotation')].map(e => ({text: e.textContent, ...box(e)})),
};
"""


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["top"] < b["bottom"] - 1
        and b["top"] < a["bottom"] - 1
        and a["left"] < b["right"] - 1
        and b["left"] < a["right"] - 1
    )


def within(inner: dict[str, float], panel: dict[str, float]) -> bool:
    return panel["top"] - 2 <= inner["top"] and inner["bottom"] <= panel["bottom"] + 2


def panel_of(element: dict[str, float], panels: list[dict[str, float]]) -> int:
    middle = (element["top"] + element["bottom"]) / 2
    return min(
        range(len(panels)), key=lambda k: abs(middle - (panels[k]["top"] + panels[k]["bottom"]) / 2)
    )


STACK = ["demo_mag_l2_1s/B_GSE", "demo_pls_l2/density", "demo_pls_l2/eflux"]
STACK_TRACES = [{"Bx GSE", "By GSE", "Bz GSE"}, {"N_p"}, {"eflux"}]


# -- tests ------------------------------------------------------------------------------
def test_a_shared_link_reopens_the_view_with_a_spectrogram(browser: Any, site: Site) -> None:
    # First in the module: the link is the server's first plot, whose download is the
    # slowest (a relayout event during it once made Dash drop the figure). A link of
    # one dataset from before stacks: one panel per parameter.
    browser.get(
        link(site, "demo_pls_l2", "density,eflux", "2025-01-01T06:00Z", "2025-01-01T12:00Z")
    )
    first_x = ms("2025-01-01T06:00Z")

    def shown() -> dict[str, Any] | None:
        page = state(browser)
        ok = (
            panel_names(page) == [{"N_p"}, {"eflux"}]
            and page["y"][1]["type"] == "log"
            and page["start"] == "2025-01-01T06:00Z"
            and all(t["x0"] >= first_x for t in page["traces"])
        )
        return page if ok else None

    page = wait_for(shown, "a line above a log spectrogram, from 06:00")
    assert [t["type"] for t in page["traces"]][:1] == ["scatter"]
    assert {t["type"] for t in page["traces"][1:]} == {"heatmap"}
    shoot(browser, "spectrogram")


def test_the_page_opens_with_a_default_view(browser: Any, site: Site) -> None:
    # No link: the first dataset's first parameters over its last day of coverage.
    browser.get(f"{site.base}/viz/")

    def shown() -> dict[str, Any] | None:
        page = state(browser)
        ok = (
            panel_names(page) == [{"Bx GSE", "By GSE", "Bz GSE"}, {"|B|"}]
            and window(page)[0] == (ms("2025-01-02"), ms("2025-01-03"))
            and (page["start"], page["stop"]) == ("2025-01-02Z", "2025-01-03Z")
            and listed(browser) == ["demo_mag_l2_1s/B_GSE", "demo_mag_l2_1s/B_mag"]
        )
        return page if ok else None

    wait_for(shown, "the default view: demo_mag_l2_1s B_GSE and B_mag on 2025-01-02")
    assert message(browser) == ""
    shoot(browser, "default-view")


def test_choose_a_dataset_and_plot_then_zoom(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{site.base}/viz/")
    default = ["demo_mag_l2_1s/B_GSE", "demo_mag_l2_1s/B_mag"]
    wait_for(lambda: listed(browser) == default, "the default view's two panels")
    assert browser.find_element(By.ID, "server").get_attribute("value") == site.hapi
    for left in (default[1:], []):  # remove the default panels: the stack starts empty
        in_panel(browser, 0, ".panel-remove").click()
        wait_for(lambda: listed(browser) == left, f"the panels {left}")  # noqa: B023
    choose(browser, "dataset", "demo_mag_l2_1s")
    wait_for(
        lambda: "2025-01-01" in browser.find_element(By.ID, "coverage-text").text,
        "the dataset's coverage",
    )
    choose(browser, "parameters", "B_GSE")
    browser.find_element(By.ID, "add-panels").click()
    wait_for(lambda: listed(browser) == ["demo_mag_l2_1s/B_GSE"], "the B_GSE panel")
    type_into(browser, "start", "2025-01-01T00:00:00Z")
    type_into(browser, "stop", "2025-01-02T00:00:00Z")
    browser.find_element(By.ID, "plot").click()

    def day() -> dict[str, Any] | None:
        page = state(browser)
        ok = (
            panel_names(page) == [{"Bx GSE", "By GSE", "Bz GSE"}]
            and window(page)[0] == (ms("2025-01-01"), ms("2025-01-02"))
            and "reduced" in page["stats"]
            and stack_in_url(browser) == ["demo_mag_l2_1s/B_GSE"]
        )
        return page if ok else None

    page = wait_for(day, "the day of B_GSE, reduced, and its link")
    # A day of 1 s data is 86,400 samples: the browser gets an envelope, not the samples.
    widest = max(t["n"] for t in page["traces"])
    assert 200 <= widest <= 2 * 4000 + 50, widest
    assert "server=" in browser.current_url
    shoot(browser, "plot-day")
    fetches = site.viewer.cache.fetches

    # Zoom by dragging across about two hours of the panel, as a user does.
    from selenium.webdriver.common.action_chains import ActionChains

    drag = browser.find_element(By.CSS_SELECTOR, "#graph .nsewdrag")
    width = drag.size["width"]
    ActionChains(browser).move_to_element_with_offset(
        drag, -width // 2 + 10, 0
    ).click_and_hold().move_by_offset(width // 12, 0).release().perform()

    def records() -> int:
        text = state(browser)["stats"]
        return int(text.split(" records")[0].replace(",", "")) if " records" in text else 0

    def dragged() -> dict[str, Any] | None:
        page = state(browser)
        query = parse_qs(urlsplit(page["url"]).query)
        start, stop = query.get("start", [""])[0], query.get("stop", [""])[0]
        ok = (
            3_600 <= records() <= 3 * 3_600  # 1 s records: the two hours dragged over
            and (page["start"], page["stop"]) == (start, stop)
            and window(page)[0] == (ms(start), ms(stop))
        )
        return page if ok else None

    page = wait_for(dragged, "the dragged window in the data, the time fields and the link")
    # The zoom's times are rounded to the dataset's 1 s cadence.
    assert ms(page["start"]) % 1000 == 0 and ms(page["stop"]) % 1000 == 0, page
    # Zoom further, to ten minutes, through plotly's own relayout (what a drag emits):
    # ten minutes of 1 s data fit the screen, so every sample is sent, none reduced.
    relayout(
        browser,
        {"xaxis.range[0]": "2025-01-01 01:00:00", "xaxis.range[1]": "2025-01-01 01:10:00"},
        lambda: records() == 600 and all(t["n"] == 600 for t in traces(browser)),
        "the ten minutes, every sample",
    )
    assert "reduced" not in state(browser)["stats"]
    assert site.viewer.cache.fetches == fetches, "zooming must not download again"
    shoot(browser, "plot-zoomed")


def test_a_stack_of_datasets_shares_one_time_axis_without_overlaps(
    browser: Any, site: Site
) -> None:
    """Panels from several datasets, added, moved, removed and set in the page."""
    from selenium.webdriver.common.by import By

    browser.get(link(site, "demo_mag_l2_1s", "B_GSE", "2025-01-01T06:00Z", "2025-01-01T12:00Z"))
    wait_for(lambda: panel_names(state(browser)) == [STACK_TRACES[0]], "the B_GSE panel")
    choose(browser, "dataset", "demo_pls_l2")
    choose(browser, "parameters", "density")
    choose(browser, "parameters", "eflux")
    browser.find_element(By.ID, "add-panels").click()
    # Once a plot is shown, every edit of the stack redraws it and goes into the link.
    three = lambda: stacked(browser, STACK) and panel_names(state(browser)) == STACK_TRACES  # noqa: E731
    wait_for(three, "three panels of two datasets, listed, drawn and in the link")

    # A fourth panel from a third dataset, moved up one, then removed.
    choose(browser, "dataset", "demo_sw_l2")
    choose(browser, "parameters", "beta")
    browser.find_element(By.ID, "add-panels").click()
    wait_for(lambda: stacked(browser, [*STACK, "demo_sw_l2/beta"]), "the beta panel")
    in_panel(browser, 3, ".panel-up").click()
    moved = [*STACK[:2], "demo_sw_l2/beta", STACK[2]]
    wait_for(
        lambda: stacked(browser, moved) and len(state(browser)["y"]) == 4,
        "beta above the spectrogram",
    )
    in_panel(browser, 2, ".panel-remove").click()
    wait_for(three, "the three panels again")

    # The density panel on a log axis from 1 to 100 cm^-3.
    in_panel(browser, 1, ".panel-scale input[value=log]").click()
    density = "demo_pls_l2/density;scale=log"
    wait_for(lambda: stack_in_url(browser)[1] == density, "the log scale in the link")
    for selector, value, written in (
        (".panel-low input", "1", f"{density};range=1:"),
        (".panel-high input", "100", f"{density};range=1:100"),
    ):
        field = in_panel(browser, 1, selector)
        field.clear()
        field.send_keys(value + "\n")
        wait_for(lambda: stack_in_url(browser)[1] == written, f"{written} in the link")  # noqa: B023

    def logged() -> dict[str, Any] | None:
        page = state(browser)
        density = page["y"][1]
        ok = (
            stack_in_url(browser)[1] == "demo_pls_l2/density;scale=log;range=1:100"
            and density["type"] == "log"
            and [round(v, 6) for v in density["range"]] == [0, 2]
            and panel_names(page) == STACK_TRACES
        )
        return page if ok else None

    wait_for(logged, "the density panel on a log axis from 1 to 100")

    # A third dataset at the bottom: field, density, spectrogram and beta on one axis.
    choose(browser, "dataset", "demo_sw_l2")
    choose(browser, "parameters", "beta")
    browser.find_element(By.ID, "add-panels").click()
    final = [*STACK[:1], "demo_pls_l2/density;scale=log;range=1:100", STACK[2], "demo_sw_l2/beta"]

    def four() -> dict[str, Any] | None:
        page = state(browser)
        ok = stacked(browser, final) and panel_names(page)[:3] == STACK_TRACES
        return page if ok and len(page["y"]) == 4 else None

    page = wait_for(four, "four panels of three datasets")

    # One time axis: every panel's the same range; only the bottom one labelled.
    assert len(set(window(page))) == 1, window(page)
    assert window(page)[0] == (ms("2025-01-01T06:00Z"), ms("2025-01-01T12:00Z"))
    assert [x["matches"] for x in page["x"]] == ["x4", "x4", "x4", None]
    # The figure is as tall as its four panels need, not plotly's 450 px.
    assert page["height"] >= 4 * 180 + 100 and abs(page["box"] - page["height"]) <= 2, page
    boxes = browser.execute_script(_BOXES)
    panels = boxes["panels"]
    assert len(panels) == 4 and all(p["bottom"] - p["top"] >= 180 for p in panels), panels
    assert all(panels[k]["bottom"] < panels[k + 1]["top"] for k in range(3)), panels
    # Each axis title beside its own panel; nothing of one panel over another's.
    for k, title in enumerate(boxes["titles"]):
        assert title is not None and within(title, panels[k]), (k, title, panels[k])
    assert len(boxes["colorbars"]) == 1 and within(boxes["colorbars"][0], panels[2])
    assert len(boxes["legends"]) == 1 and within(boxes["legends"][0], panels[0])
    datasets = ("demo_mag_l2_1s", "demo_pls_l2", "demo_sw_l2")
    labels = sorted((b for b in boxes["labels"] if b["text"] in datasets), key=lambda b: b["top"])
    expected = ["demo_mag_l2_1s", "demo_pls_l2", "demo_pls_l2", "demo_sw_l2"]
    assert [b["text"] for b in labels] == expected, labels
    for k, label in enumerate(labels):  # each panel says which dataset it shows
        assert panel_of(label, panels) == k, (k, label, panels)
    elements = [*boxes["titles"], *boxes["colorbars"], *boxes["legends"], *labels]
    for a, b in itertools.combinations(elements, 2):
        assert not overlap(a, b), (a, b)
    shoot(browser, "stack")


def test_a_zoom_is_kept_in_the_link_and_a_fresh_page_restores_it(browser: Any, site: Site) -> None:
    panels = [STACK[0], "demo_pls_l2/density;scale=log", STACK[2]]
    browser.get(stack_link(site, panels, "2025-01-01", "2025-01-02"))
    day = (ms("2025-01-01"), ms("2025-01-02"))

    def drawn(expected: tuple[float, float]) -> Callable[[], dict[str, Any] | None]:
        def check() -> dict[str, Any] | None:
            page = state(browser)
            ok = (
                panel_names(page) == STACK_TRACES
                and page["y"][1]["type"] == "log"
                and set(window(page)) == {expected}
                and (ms(page["start"]), ms(page["stop"])) == expected
            )
            return page if ok else None

        return check

    wait_for(drawn(day), "the stack over the day")
    # A zoom between two records of the 1 s field: rounded outwards to whole seconds.
    relayout(
        browser,
        {"xaxis.range[0]": "2025-01-01 06:00:00.3", "xaxis.range[1]": "2025-01-01 08:30:00.7"},
        lambda: "stop=2025-01-01T08:30:01Z" in browser.current_url,
        "the zoom in the link",
    )
    zoom = (ms("2025-01-01T06:00Z"), ms("2025-01-01T08:30:01Z"))
    wait_for(drawn(zoom), "the zoomed stack")
    query = parse_qs(urlsplit(browser.current_url).query)
    assert (query["start"], query["stop"]) == (["2025-01-01T06:00Z"], ["2025-01-01T08:30:01Z"])
    assert query["panel"] == panels
    shared = browser.current_url

    # The link in a fresh page (a new tab: nothing of this one's state) reopens the same.
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    try:
        browser.get(shared)
        wait_for(drawn(zoom), "the stack and the zoom from the link alone")
        assert stack_in_url(browser) == panels
        shoot(browser, "stack-zoom-reopened")
    finally:
        browser.close()
        browser.switch_to.window(first)
    # A double click (plotly's autorange) goes back to the window the link opened with.
    relayout(browser, {"xaxis.autorange": True}, drawn(day), "the day again")
    assert "stop=2025-01-02" in browser.current_url
    # Each zoom is a step of the browser's history: Back returns to the zoom.
    browser.back()
    wait_for(drawn(zoom), "the zoom again, after Back")


def test_a_narrow_plot_of_two_days_is_drawn_from_the_summary(browser: Any, site: Site) -> None:
    # Two days on about 200 pixel columns: 14 minutes a column, so the one-minute
    # summary gives the same envelope as the 1 s data, from 60 times fewer records.
    size = browser.get_window_size()
    browser.set_window_size(480, size["height"])
    try:
        browser.get(link(site, "demo_mag_l2_1s", "B_GSE", "2025-01-01", "2025-01-03"))
        summary = "2,880 records of the summary demo_mag_l2_1m"

        def from_summary() -> dict[str, Any] | None:
            page = state(browser)
            ok = page["stats"].startswith(summary) and panel_names(page) == [STACK_TRACES[0]]
            return page if ok else None

        page = wait_for(from_summary, "the two days drawn from the summary")
        assert max(t["n"] for t in page["traces"]) <= 2 * 200 + 50
        shoot(browser, "plot-summary")
        # Two hours need the 1 s data: zooming reads them.
        relayout(
            browser,
            {"xaxis.range[0]": "2025-01-01 01:00:00", "xaxis.range[1]": "2025-01-01 03:00:00"},
            lambda: state(browser)["stats"].startswith("7,200 records,"),
            "the two hours from the 1 s data",
        )
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_export_csv_holds_the_shown_records(browser: Any, site: Site, downloads: Path) -> None:
    from selenium.webdriver.common.by import By

    def export(suffix: str) -> Path:
        before = set(downloads.iterdir())
        browser.find_element(By.ID, "export-csv").click()
        (new,) = wait_for(
            lambda: [p for p in set(downloads.iterdir()) - before if p.suffix == suffix],
            f"the {suffix} download",
        )
        return new

    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2025-01-01T00:00Z", "2025-01-01T00:10Z"))
    wait_for(lambda: state(browser)["stats"].startswith("600 records,"), "the ten minutes")
    rows = list(csv.reader(io.StringIO(export(".csv").read_text())))
    assert rows[0] == ["time", "B_mag"]
    assert len(rows) == 1 + 600
    assert rows[1][0] == "2025-01-01T00:00:00.000Z"
    assert float(rows[1][1]) > 0

    # A stack of two datasets: a zip of one csv per dataset, each with its own times.
    browser.get(
        stack_link(
            site,
            ["demo_mag_l2_1s/B_mag", "demo_pls_l2/density", "demo_mag_l2_1s/B_GSE"],
            "2025-01-01T00:00Z",
            "2025-01-01T00:10Z",
        )
    )
    wait_for(
        lambda: state(browser)["stats"].startswith("demo_mag_l2_1s: 600 records, demo_pls_l2:"),
        "the stack's ten minutes",
    )
    with zipfile.ZipFile(export(".zip")) as archive:
        tables = {
            name.split("_2025")[0]: list(csv.reader(io.StringIO(archive.read(name).decode())))
            for name in archive.namelist()
        }
    assert tables["demo_mag_l2_1s"][0] == ["time", "B_mag", "B_GSE_0", "B_GSE_1", "B_GSE_2"]
    assert len(tables["demo_mag_l2_1s"]) == 1 + 600
    assert tables["demo_pls_l2"][0] == ["time", "density"]
    assert len(tables["demo_pls_l2"]) == 1 + 150  # a 4 s cadence


def test_errors_are_messages_in_the_page(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    def says(text: str) -> Callable[[], str]:
        return lambda: text in message(browser) and message(browser)

    browser.get(f"{site.base}/viz/")
    # The default view drawn first: nothing of it still on its way to override a message.
    wait_for(
        lambda: (
            panel_names(state(browser)) == [STACK_TRACES[0], {"|B|"}]
            and browser.find_element(By.ID, "server").get_attribute("value") == site.hapi
        ),
        "the page with its server and default view",
    )
    type_into(browser, "server", "http://127.0.0.1:9/hapi")
    wait_for(says("cannot reach http://127.0.0.1:9/hapi"), "a message for a bad server")
    shoot(browser, "bad-server")

    browser.get(link(site, "no_such_dataset", "x", "2025-01-01Z", "2025-01-02Z"))
    wait_for(says("Unknown dataset 'no_such_dataset'"), "unknown dataset")
    browser.get(stack_link(site, ["demo_pls_l2/nope"], "2025-01-01Z", "2025-01-02Z"))
    wait_for(says("Unknown parameter(s) of demo_pls_l2: nope"), "unknown parameter")
    browser.get(stack_link(site, ["demo_pls_l2"], "2025-01-01Z", "2025-01-02Z"))
    wait_for(says("write it as dataset/parameter"), "a malformed panel")

    # Before the coverage (the server answers 1405): a clear message.
    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2024-12-31T00:00Z", "2025-01-01T00:00Z"))
    wait_for(says("HAPI error 1405"), "a message for a range outside the coverage")
    browser.get(link(site, "demo_mag_l2_1s", "B_mag", "2025-01-02T00:00Z", "2025-01-01T00:00Z"))
    wait_for(says("stop time must be after"), "reversed times")
    assert "Traceback" not in browser.page_source


def test_quicklook_gallery(browser: Any, site: Site) -> None:
    """The gallery reads /api/files without credentials: the quicklooks are public."""
    browser.get(f"{site.base}/viz/quicklooks")
    images = wait_for(lambda: loaded_images(browser, 4), "four loaded quicklook images")
    assert any("demo_mag_ql_daily_20250102" in i.get_attribute("src") for i in images)
    shoot(browser, "quicklooks")


@pytest.fixture(scope="module")
def operator(archive: Path) -> str:
    """An operator's token in the site's catalog (the jobs are the operators')."""
    runtime = Runtime(explicit_settings(archive))
    token = person(runtime, "ops", ["operators"], ["read", "run"])
    runtime.close()
    return token


def test_pipeline_status_after_signing_in(browser: Any, site: Site, operator: str) -> None:
    """Anonymous is asked to sign in; signed in with a token, the operator sees the jobs."""
    from selenium.webdriver.common.by import By

    counts = httpx.get(f"{site.base}/api/jobs?limit=1", headers=bearer(operator)).json()["counts"]
    assert sum(counts.values()) > 0
    blocked = min(counts.get("blocked", 0), 50)
    browser.delete_all_cookies()
    browser.get(f"{site.base}/viz/status")
    wait_for(
        lambda: (
            "Sign in as a mission's team member or an operator"
            in browser.find_element(By.ID, "status-message").text
        ),
        "the page asking anonymous to sign in",
    )
    browser.get(f"{site.base}/viz/signin")
    field = wait_for(lambda: browser.find_element(By.ID, "signin-token"), "the sign-in form")
    field.send_keys("soc_0123456789abcdef_" + "w" * 43 + "\n")  # not a token of this site
    wait_for(
        lambda: "not valid here" in browser.find_element(By.ID, "signin-message").text,
        "a wrong token refused in the page",
    )
    field = wait_for(lambda: browser.find_element(By.ID, "signin-token"), "the form again")
    field.send_keys(operator + "\n")
    wait_for(lambda: "ops (operators)" in browser.find_element(By.ID, "who").text, "signed in")
    cookie = browser.get_cookie("socstack_token")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert operator not in browser.current_url, "the token never goes in a URL"
    browser.get(f"{site.base}/viz/status")

    def status() -> dict[str, str] | None:
        tiles = browser.find_elements(By.CSS_SELECTOR, ".tile")
        shown = {
            t.find_element(By.TAG_NAME, "span").text: t.find_element(By.TAG_NAME, "strong").text
            for t in tiles
        }
        rows = browser.find_elements(By.CSS_SELECTOR, "#status-blocked tbody tr")
        ok = all(shown.get(s) == f"{n:,}" for s, n in counts.items()) and len(rows) == blocked
        harvest = browser.find_element(By.ID, "status-harvest").text
        ok = ok and "No product here is harvested from a peer." in harvest
        return shown if ok else None

    wait_for(status, f"the tiles showing {counts} and {blocked} blocked jobs")
    shoot(browser, "status")
    browser.find_element(By.ID, "signout").click()
    wait_for(lambda: browser.get_cookie("socstack_token") is None, "signed out")


def loaded_images(browser: Any, count: int) -> list[Any] | None:
    """The gallery's images once exactly ``count`` are there and every one has loaded."""
    from selenium.webdriver.common.by import By

    images = browser.find_elements(By.CSS_SELECTOR, ".gallery img")
    done = browser.execute_script(
        "return arguments[0].every(i => i.complete && i.naturalWidth > 0);", images
    )
    return images if len(images) == count and done else None


def test_up_on_another_port_serves_its_viz_and_hapi_there(
    browser: Any, archive: Path, tmp_path: Path
) -> None:
    """`socstack up --port N` as a user runs it: the viz reads the catalog at N, not 8000."""
    from tests.integration.test_up import free_port, start, wait_for_json

    folder = tmp_path / "data"
    shutil.copytree(archive, folder)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(["up", "--port", str(port), "--no-demo", "--no-watch", "--no-process"], folder)
    try:
        assert wait_for_json(f"{base}/hapi/about", process)["x_url"] == base
        browser.get(f"{base}/viz/")

        def plotted() -> dict[str, Any] | None:
            page = state(browser)
            ok = panel_names(page) == [STACK_TRACES[0], {"|B|"}] and not page["message"]
            return page if ok else None

        wait_for(plotted, "the default view, from the catalog at this port", timeout=30)
        from selenium.webdriver.common.by import By

        assert browser.find_element(By.ID, "server").get_attribute("value") == f"{base}/hapi"
        browser.get(f"{base}/viz/quicklooks")
        wait_for(lambda: loaded_images(browser, 4), "the four quicklooks, listed at this port")
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
