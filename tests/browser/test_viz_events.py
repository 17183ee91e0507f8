"""Event lists and *Find similar* on the plot page, in a real browser.

socstack serves the mined demo days (every detector rule run) with a copy of one hour
of the field planted into the second day; the page shades a chosen list's events over
the panels as the API gives them, lists them, zooms to one on a click, and finds the
planted copy first when asked for intervals like the hour. The search runs as a job the
way a mining worker runs it (``drain``), once the page has queued it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from socstack.mining.catalogs import read_catalog
from socstack.runtime import Runtime
from socstack.times import format_time, parse_time
from socstack.viz.events import event_window
from socstack.viz.similar import SIGN_IN
from socstack.viz.window import rounded, short_time
from tests.browser import test_viz
from tests.browser.test_viz import Site, choose, shoot, stack_link, state, wait_for
from tests.conftest import drain, explicit_settings
from tests.integration.people import bearer, person
from tests.integration.test_eventlists import PLANTED, QUERY, plant

pytestmark = pytest.mark.browser

browser = test_viz.browser
downloads = test_viz.downloads

STACK = ["demo_mag_l2_1s/B_mag", "demo_pls_l2/density"]
WHOLE = ("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")

#: The figure's shapes as the browser holds them, and the list view's rows.
_SHADED = """
const gd = document.querySelector('#graph .js-plotly-plot');
const shapes = (gd && gd.layout && gd.layout.shapes) || [];
const rows = [...document.querySelectorAll('#event-table tr.event')];
return {
  shapes: shapes.map(s => ({name: s.name, type: s.type, x0: s.x0, x1: s.x1})),
  rows: rows.map(r => ({list: r.querySelector('.event-list').textContent,
                        start: r.querySelector('.event-start').textContent,
                        stop: r.querySelector('.event-stop').textContent,
                        attributes: r.querySelector('.event-attributes').textContent})),
  similar: (document.getElementById('similar-status') || {}).textContent || '',
  events: (document.getElementById('events-message') || {}).textContent || '',
};
"""


def shaded(browser: Any) -> dict[str, Any]:
    return browser.execute_script(_SHADED)


@pytest.fixture(scope="module")
def archive(mined_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mined days, with the query hour of the field planted into the second day."""
    folder = tmp_path_factory.mktemp("viz-events") / "data"
    shutil.copytree(mined_archive, folder)
    runtime = Runtime(explicit_settings(folder))
    plant(runtime, tmp_path_factory.mktemp("planted"))
    drain(runtime)  # the new version of the day, and what is made from it
    runtime.close()
    return folder


@pytest.fixture(scope="module")
def site(archive: Path) -> Iterator[Site]:
    running = Site(archive)
    with running:
        yield running


@pytest.fixture(scope="module")
def analyst(site: Site) -> str:
    """A demo team member who may run jobs (a search is one)."""
    return person(site.runtime, "ana", ["demo"], ["read", "run"])


def api_events(site: Site, name: str, token: str | None = None, **times: str) -> Any:
    response = httpx.get(
        f"{site.base}/api/eventlists/{name}",
        params={"format": "json", **times},
        headers=bearer(token),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return read_catalog(response.content, "json")


def spans(events: Any) -> list[tuple[int, int]]:
    starts = events.start.astype("datetime64[ns]").astype(np.int64)
    stops = events.stop.astype("datetime64[ns]").astype(np.int64)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def drawn(browser: Any, start: str, stop: str) -> bool:
    """Whether the figure shows exactly [start, stop) and the time fields say so."""
    page = state(browser)
    if not page["x"] or page["start"] != start or page["stop"] != stop:
        return False
    return tuple(page["x"][0]["range"]) == (parse_time(start) / 1e6, parse_time(stop) / 1e6)


def sign_in(browser: Any, site: Site, token: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{site.base}/viz/signin")
    field = wait_for(lambda: browser.find_element(By.ID, "signin-token"), "the sign-in form")
    field.send_keys(token + "\n")
    wait_for(lambda: "ana" in browser.find_element(By.ID, "who").text, "signed in")


def test_a_list_is_shaded_over_the_panels_listed_and_zoomed_to(browser: Any, site: Site) -> None:
    from selenium.webdriver.common.by import By

    # the list with the most events over the two days, as the API gives them to anyone
    lists = ("demo_shocks", "demo_dense_plasma", "demo_speed_changes")
    found = {n: spans(api_events(site, n, start=WHOLE[0], stop=WHOLE[1])) for n in lists}
    name = max(lists, key=lambda n: len(found[n]))
    events = found[name]
    assert events, f"no list has events over {WHOLE}: {found}"
    browser.delete_all_cookies()
    browser.get(stack_link(site, STACK, "2025-01-01", "2025-01-03"))
    wait_for(lambda: drawn(browser, "2025-01-01", "2025-01-03"), "the two days drawn")
    choose(browser, "eventlists", name)
    whole = (parse_time(WHOLE[0]), parse_time(WHOLE[1]))

    def bands() -> list[tuple[int, int]] | None:
        shapes = [s for s in shaded(browser)["shapes"] if s["name"].startswith(name + "#")]
        got = [(parse_time(s["x0"]), parse_time(s["x1"])) for s in shapes]
        return got if len(got) == len(events) else None

    got = wait_for(bands, f"{len(events)} events of {name} shaded")
    assert got == [(max(a, whole[0]), min(b, whole[1])) for a, b in events]
    rows = wait_for(lambda: shaded(browser)["rows"], "the list view")
    assert [(parse_time(r["start"]), parse_time(r["stop"])) for r in rows] == events
    shoot(browser, "eventlists")

    # Zoom on the last event: the event with its own length each side, still shaded,
    # and the list still holds every event of the window first asked for.
    a, b = events[-1]
    target = rounded(event_window(a, b), 10**9)  # the stack's finest cadence: 1 s
    start, stop = short_time(target[0]), short_time(target[1])
    buttons = browser.find_elements(By.CSS_SELECTOR, "#event-table tr.event button")
    buttons[-1].click()
    wait_for(lambda: drawn(browser, start, stop), f"the zoom to {start} to {stop}")
    assert f"start={start}" in browser.current_url and f"stop={stop}" in browser.current_url

    def zoomed_band() -> list[tuple[int, int]] | None:
        shapes = [s for s in shaded(browser)["shapes"] if s["name"].startswith(name + "#")]
        got = [(parse_time(s["x0"]), parse_time(s["x1"])) for s in shapes]
        return got if (max(a, target[0]), min(b, target[1])) in got else None

    wait_for(zoomed_band, "the event shaded in the zoomed window")
    assert len(shaded(browser)["rows"]) == len(events)


def test_find_similar_finds_the_planted_copy_and_zooms_to_it(
    browser: Any, site: Site, analyst: str
) -> None:
    from selenium.webdriver.common.by import By

    stack = ["demo_mag_l2_1s/B_mag", "demo_mag_l2_1s/B_GSE"]
    link = stack_link(site, stack, QUERY[0], QUERY[1])
    hour = QUERY  # the time fields hold the link's times as written
    # Anonymous may look, not search: the page says how to.
    browser.delete_all_cookies()
    browser.get(link)
    wait_for(lambda: drawn(browser, *hour), "the query hour drawn")
    browser.find_element(By.ID, "similar-find").click()
    wait_for(lambda: SIGN_IN in shaded(browser)["similar"], "anonymous asked to sign in")

    sign_in(browser, site, analyst)
    browser.get(link)
    wait_for(lambda: drawn(browser, *hour), "the query hour drawn, signed in")
    browser.find_element(By.ID, "similar-find").click()
    wait_for(lambda: "queued" in shaded(browser)["similar"], "the search queued")
    drain(site.runtime)  # as a worker on queue mining does
    wait_for(lambda: "Found 5 intervals" in shaded(browser)["similar"], "the search's result")
    listed = httpx.get(f"{site.base}/api/eventlists", headers=bearer(analyst)).json()["lists"]
    search = next(e for e in listed if e["kind"] == "search")
    matches = api_events(site, search["name"], analyst)
    rows = wait_for(
        lambda: [r for r in shaded(browser)["rows"] if r["list"] == search["title"]],
        "the matches listed",
    )
    assert len(rows) == 5 == len(matches.start)
    assert "rank=1" in rows[0]["attributes"] and "distance=" in rows[0]["attributes"]
    best = parse_time(rows[0]["start"])
    assert abs(best - int(PLANTED.astype(np.int64))) <= 60 * 10**9, rows[0]
    shoot(browser, "find-similar")

    # Zoom to the best match: there it is shaded.
    first = next(k for k, r in enumerate(shaded(browser)["rows"]) if r["list"] == search["title"])
    browser.find_elements(By.CSS_SELECTOR, "#event-table tr.event button")[first].click()
    stop = parse_time(rows[0]["stop"])
    target = rounded(event_window(best, stop), 10**9)
    wait_for(lambda: drawn(browser, short_time(target[0]), short_time(target[1])), "the best match")

    def band() -> bool:
        return any(
            (parse_time(s["x0"]), parse_time(s["x1"])) == (best, stop)
            for s in shaded(browser)["shapes"]
            if s["name"].startswith(f"{search['name']}#")
        )

    wait_for(band, "the best match shaded")


def test_a_persons_list_is_offered_to_them_only(browser: Any, site: Site, analyst: str) -> None:
    from selenium.webdriver.common.by import By

    catalog = b"start,stop,note\n2025-01-01T03:00:00Z,2025-01-01T04:00:00Z,mine\n"
    made = httpx.post(
        f"{site.base}/api/eventlists",
        files={"file": ("mine.csv", catalog)},
        data={"name": "ana's intervals"},
        headers=bearer(analyst),
    )
    assert made.status_code == 201, made.text

    def offered() -> list[str] | None:
        browser.find_element(By.ID, "eventlists").click()
        options = browser.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
        texts = [o.text for o in options]
        browser.find_element(By.TAG_NAME, "body").send_keys("\ue00c")
        return texts or None

    browser.delete_all_cookies()
    browser.get(stack_link(site, STACK, "2025-01-01", "2025-01-03"))
    wait_for(lambda: drawn(browser, "2025-01-01", "2025-01-03"), "the page, anonymous")
    anonymous = wait_for(offered, "the lists offered to anonymous")
    assert any("demo_shocks" in t for t in anonymous)
    assert not any("ana's intervals" in t for t in anonymous), anonymous
    sign_in(browser, site, analyst)
    browser.get(stack_link(site, STACK, "2025-01-01", "2025-01-03"))
    wait_for(lambda: drawn(browser, "2025-01-01", "2025-01-03"), "the page, signed in")
    mine = wait_for(
        lambda: [t for t in offered() or [] if "ana's intervals" in t], "ana's list offered"
    )
    assert mine == [f"ana's intervals (your upload {made.json()['id']})"]
    choose(browser, "eventlists", str(made.json()["id"]), typed="ana")
    rows = wait_for(lambda: shaded(browser)["rows"], "ana's event listed")
    got = [
        (format_time(parse_time(r["start"]), 0), format_time(parse_time(r["stop"]), 0))
        for r in rows
    ]
    assert got == [("2025-01-01T03:00:00Z", "2025-01-01T04:00:00Z")]
