"""The viz's HAPI client against socstack's own HAPI server on a real port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from socstack.client.hapi import HapiClientError, HapiServer
from socstack.times import parse_time
from socstack.viz.cache import TableCache
from socstack.viz.figures import PanelData, build_figure, parameter_specs
from socstack.viz.links import Endpoints, Panel, View
from socstack.viz.reduce import envelope
from socstack.viz.traces import with_gaps
from socstack.viz.viewer import Viewer
from tests.integration.test_hapi import LiveServer

DAY = (parse_time("2025-01-01"), parse_time("2025-01-02"))


@pytest.fixture(scope="module")
def hapi(processed_archive: Path) -> Iterator[str]:
    with LiveServer(processed_archive) as url:
        yield url


def test_catalog_lists_titles_and_coverage(hapi: str) -> None:
    datasets = {d.id: d for d in HapiServer(hapi).catalog()}
    mag = datasets["demo_mag_l2_1s"]
    assert mag.title == "Magnetic field, GSE, 1 s"
    assert (mag.start, mag.stop) == ("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")


def test_the_catalog_is_one_request_where_the_server_serves_depth_all(hapi: str) -> None:
    asked: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda r: asked.append(str(r.url))]})
    datasets = HapiServer(hapi, client=client).catalog()
    assert asked == [f"{hapi}/catalog?depth=all"]
    assert all(d.start and d.stop for d in datasets), "coverage from the one response"


def test_binary_and_csv_give_the_same_columns(hapi: str) -> None:
    parameters = ["density", "V_GSE", "eflux", "quality"]
    binary = HapiServer(hapi).data("demo_pls_l2", parameters, *DAY)
    csv = HapiServer(hapi, binary=False).data("demo_pls_l2", parameters, *DAY)
    assert 20_000 < len(binary.time) <= 86_400 // 4  # the simulated day has a data gap
    assert (binary.time == csv.time).all()
    assert binary.time[0] == DAY[0] and (np.diff(binary.time) > 0).all()
    for name in parameters:
        assert binary.values[name].shape == csv.values[name].shape, name
        np.testing.assert_array_equal(binary.values[name], csv.values[name])
    assert binary.values["V_GSE"].flags.f_contiguous


def test_errors_name_the_server_and_the_reason(hapi: str) -> None:
    server = HapiServer(hapi)
    with pytest.raises(HapiClientError, match=r"HAPI error 1406.*no_such"):
        server.info("no_such")
    with pytest.raises(HapiClientError, match=r"unknown parameter.*nope"):
        server.data("demo_mag_l2_1s", ["nope"], *DAY)
    with pytest.raises(HapiClientError, match="HAPI error 1405"):
        server.data("demo_mag_l2_1s", ["B_mag"], parse_time("2030-01-01"), parse_time("2030-01-02"))
    with pytest.raises(HapiClientError, match=r"cannot reach http://127\.0\.0\.1:9/hapi"):
        HapiServer("http://127.0.0.1:9/hapi").catalog()
    with pytest.raises(HapiClientError, match="not an http"):
        HapiServer("ftp://example.org/hapi")


def test_long_windows_are_drawn_from_the_summary_with_the_same_envelope(hapi: str) -> None:
    viewer = Viewer(Endpoints(hapi=lambda: hapi, api=lambda: ""), TableCache(1 << 28), 30.0)
    start, stop = parse_time("2025-01-01"), parse_time("2025-01-03")
    dataset, parameters = "demo_mag_l2_1s", ["B_GSE", "B_mag"]
    info = viewer.server(hapi).info(dataset)
    assert viewer.summary(hapi, dataset, parameters, (start, stop), 1200) is None, "144 s"
    summary = viewer.summary(hapi, dataset, parameters, (start, stop), 96)  # 30 minutes
    assert summary is not None and summary.dataset == "demo_mag_l2_1m"
    assert len(summary.low.time) == 2 * 1440

    raw = viewer.table(hapi, dataset, parameters, start, stop)
    assert len(raw.time) == 2 * 86_400
    specs = parameter_specs(info)
    for name in parameters:
        exact = envelope(
            raw.time, with_gaps(raw.values[name], specs[name]), start, stop, columns=96
        )
        drawn = envelope(
            summary.low.time,
            summary.low.values[name],
            start,
            stop,
            columns=96,
            upper=summary.high[name],
        )
        np.testing.assert_array_equal(_points(drawn.y), _points(exact.y), err_msg=name)

    panels = [
        PanelData(Panel(dataset, name), specs[name], summary.low, summary.high[name])
        for name in parameters
    ]
    figure, stats = build_figure(panels, (start, stop), columns=96)
    assert stats.records == {dataset: 2880} and stats.reduced and len(figure.data) == 4


def _points(y: np.ndarray) -> np.ndarray:
    """The envelope's points without the rows that break it at gaps."""
    rows = y.reshape(len(y), -1)
    return rows[~np.isnan(rows).all(axis=1)]


def test_new_files_reach_the_viz_without_a_restart(processed_copy: Path) -> None:
    import xarray as xr

    from socstack.catalog.models import FileSource
    from socstack.formats.cdf import read_variables, write_cdf
    from socstack.mission import load_callable
    from socstack.pipeline.runner import run_rule
    from socstack.runtime import Runtime
    from tests.conftest import explicit_settings

    runtime = Runtime(explicit_settings(processed_copy))
    mission = runtime.missions.mission("demo")
    start, stop = parse_time("2025-01-01"), parse_time("2025-01-03")
    with LiveServer(processed_copy) as url:
        dataset = "demo_mag_l2_1s"
        viewer = Viewer(Endpoints(hapi=lambda: url, api=lambda: ""), TableCache(1 << 28), 30.0)
        server = viewer.server(url)
        server.info_ttl = 0.0  # as if the default 30 s had passed before each request
        before = viewer.table(url, dataset, ["B_mag"], start, stop).values["B_mag"].copy()
        assert len(before) == 2 * 86_400

        # A new version of day 2 (say, reprocessed): the same window, new values.
        folder = processed_copy / "archive/demo/mag/l2/2025/01"
        values = read_variables(
            next(folder.glob("demo_mag_l2_1s-gse_20250102_*")), ["epoch", "b_gse", "b_mag"]
        )
        newer = xr.Dataset(
            {
                "b_gse": (("epoch", "axis"), values["b_gse"]),
                "b_mag": (
                    ("epoch",),
                    np.where(values["b_mag"] > -1e30, values["b_mag"] + 1000, values["b_mag"]),
                ),
            },
            coords={"epoch": values["epoch"]},
        )
        path = processed_copy / "demo_mag_l2_1s-gse_20250102_v1.0.1.cdf"
        write_cdf(newer, path)
        assert runtime.ingestor.ingest(path, source=FileSource.CLI).outcome.value == "archived"
        after = viewer.table(url, dataset, ["B_mag"], start, stop).values["B_mag"]
        assert viewer.cache.fetches == 2, "downloaded again, not the cached window"
        np.testing.assert_array_equal(after[:86_400], before[:86_400])
        good = before[86_400:] > -1e30
        np.testing.assert_allclose(after[86_400:][good], before[86_400:][good] + 1000)

        # A new day: the coverage (and the presets built on it) grows.
        day = dt.date(2025, 1, 3)
        simulate = load_callable(mission, mission.simulator or "", field="simulator")
        for new in simulate(day, 1, processed_copy / "new", mission=mission):
            runtime.ingestor.ingest(new, source=FileSource.CLI)
        for rule in ("mag_l1a", "mag_l1b", "mag_l2"):
            run_rule(runtime, mission, mission.rules[rule], day)
        assert server.info(dataset)["stopDate"] == "2025-01-04T00:00:00Z"
    runtime.close()


def test_a_stack_reads_each_panel_from_its_own_dataset(hapi: str) -> None:
    viewer = Viewer(Endpoints(hapi=lambda: hapi, api=lambda: ""), TableCache(1 << 28), 30.0)
    view = View(
        hapi,
        [
            Panel("demo_mag_l2_1s", "B_GSE"),
            Panel("demo_pls_l2", "density"),
            Panel("demo_pls_l2", "eflux"),
        ],
        "2025-01-01T06:00Z",
        "2025-01-01T12:00Z",
    )
    window = (parse_time(view.start), parse_time(view.stop))
    data, summaries = viewer.panels(view, window, columns=1000)
    assert [len(d.table.time) for d in data] == [6 * 3600, 6 * 900, 6 * 900]
    assert summaries == {}, "1000 columns of 21.6 s: the 1 s data"
    assert viewer.cache.fetches == 3, "one download per panel"
    figure, stats = build_figure(data, window, columns=1000)
    assert stats.records == {"demo_mag_l2_1s": 21_600, "demo_pls_l2": 5_400}
    assert {t.yaxis for t in figure.data} == {"y", "y2", "y3"}
    # The same stack again, zoomed: from the cache. A fourth panel: one download more.
    viewer.panels(view, (window[0], window[0] + 3600 * 10**9), columns=1000)
    assert viewer.cache.fetches == 3
    bigger = View(view.server, [*view.panels, Panel("demo_sw_l2", "beta")], view.start, view.stop)
    viewer.panels(bigger, window, columns=1000)
    assert viewer.cache.fetches == 4


def test_a_panel_asks_for_the_part_of_the_window_its_dataset_covers(hapi: str) -> None:
    # The server refuses a request reaching outside the coverage (HAPI 1405).
    asked: list[httpx.URL] = []
    client = httpx.Client(event_hooks={"request": [lambda r: asked.append(r.url)]})
    viewer = Viewer(Endpoints(hapi=lambda: hapi, api=lambda: ""), TableCache(1 << 28), 30.0)
    viewer._servers[(hapi, "anonymous")] = HapiServer(hapi, client=client)
    view = View(hapi, [Panel("demo_mag_l2_1s", "B_mag")])
    across = (parse_time("2024-12-31T23:00Z"), parse_time("2025-01-01T01:00Z"))
    data, _ = viewer.panels(view, across, 100)
    assert len(data[0].table.time) == 3600, "the hour inside the coverage"
    (request,) = [u for u in asked if u.path.endswith("/data")]
    assert request.params["start"].startswith("2025-01-01T00:00:00")
    figure, _ = build_figure(data, across)
    assert figure.layout.xaxis.range[0].startswith("2024-12-31T23:00"), "the window asked for"
    # Wholly outside: nothing to draw, and the server's answer says why.
    late = (parse_time("2025-01-03T00:00Z"), parse_time("2025-01-03T01:00Z"))
    with pytest.raises(HapiClientError, match="HAPI error 1405"):
        viewer.panels(view, late, 100)


class _WebServer(LiveServer):
    """The whole web app (API, HAPI, viz) on a real port, the viz reading it over HTTP."""

    def build(self, runtime):  # type: ignore[no-untyped-def]
        from socstack.web import create_web_app

        return create_web_app(runtime, lambda: self.base)


def _callback(
    base: str,
    output_starts: str,
    inputs: list[dict],
    *,
    state: list[dict] | None = None,
    cookies: dict[str, str] | None = None,
) -> dict:
    """Run one of the viz's Dash callbacks as the browser would, over HTTP.

    ``cookies`` are the browser's (``socstack_token``: signed in).
    """
    dependencies = httpx.get(f"{base}/viz/_dash-dependencies", timeout=30).json()
    spec = next(c for c in dependencies if c["output"].startswith(output_starts))
    outputs = [
        {"id": part.split(".")[0], "property": part.split(".")[1].split("@")[0]}
        for part in spec["output"].strip(".").split("...")
    ]
    body = {
        "output": spec["output"],
        # a callback of one output is sent that output, not a list of one
        "outputs": outputs if spec["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
        "state": state or [],
    }
    response = httpx.post(
        f"{base}/viz/_dash-update-component", json=body, timeout=60, cookies=cookies
    )
    assert response.status_code == 200, response.text
    return response.json()["response"]


def test_the_gallery_of_a_mission_without_quicklooks_says_so(tmp_path: Path) -> None:
    from socstack.catalog.migrate import upgrade
    from tests.integration.test_polar_mission import POLAR

    server = _WebServer(tmp_path / "data", missions=[POLAR])
    upgrade(server.runtime.catalog)
    with server:
        answer = _callback(
            server.base,
            "..ql-instrument.options",
            [{"id": "url", "property": "pathname", "value": "/viz/quicklooks"}],
        )
    assert answer["ql-message"] == {
        "children": "No mission here makes quicklooks (products of level ql).",
        "hidden": False,
    }
    assert answer["ql-instrument"] == {"options": []}
