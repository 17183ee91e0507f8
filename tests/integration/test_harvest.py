"""Harvest: a second socstack on loopback as the peer, its field pulled into our archive.

The peer serves the processed demo days; the ``peertest`` mission harvests the peer's
``demo_mag_l2_1s`` as its product ``mag`` (daily CDF), serves it over its own HAPI and
makes an hourly product of it by a rule. A second pass fetches nothing; a day changed at
the peer (a new version of its L2 file) is the only one fetched again, and becomes the
next revision here; the unchanged day is asked with If-Modified-Since and answers 304.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.catalog.harvests import HarvestDay
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import FileSource
from socstack.client.hapi import HapiServer
from socstack.hapi.app import create_app
from socstack.harvest.harvester import HarvestError, harvest, harvested_products
from socstack.runtime import Runtime
from socstack.times import parse_time
from tests.conftest import REPO, drain, explicit_settings
from tests.integration.people import person
from tests.integration.test_eventlists import plant
from tests.integration.test_hapi import LiveServer
from tests.integration.test_mining import lists

PEERTEST = REPO / "tests" / "data" / "missions" / "peertest"
DAYS = ["2025-01-01", "2025-01-02"]


@pytest.fixture
def peer(processed_copy: Path) -> Iterator[LiveServer]:
    running = LiveServer(processed_copy)
    with running:
        yield running


@pytest.fixture
def ours(peer: LiveServer, tmp_path: Path) -> Iterator[Runtime]:
    settings = explicit_settings(
        tmp_path / "ours",
        missions=[PEERTEST],
        peers={"demo_soc": peer.hapi},
        hapi_include_unreleased=True,
        harvest_contact="soc@peertest.example",
    )
    runtime = Runtime(settings)
    upgrade(runtime.catalog)
    yield runtime
    runtime.close()


def _pass(runtime: Runtime):  # type: ignore[no-untyped-def]
    [(mission, product)] = harvested_products(runtime)
    return harvest(runtime, mission, product)


def test_a_peers_dataset_is_harvested_served_and_processed(
    peer: LiveServer, ours: Runtime, tmp_path: Path
) -> None:
    report = _pass(ours)
    assert report.archived == DAYS and not report.failed, report
    files = lists(ours, "mag")
    assert [f.name for f in files] == [
        f"peertest_peer_l2_mag_{d.replace('-', '')}_v1.0.0.cdf" for d in DAYS
    ]
    assert {f.source for f in files} == {FileSource.HARVEST}
    # Served over our HAPI, record for record what the peer serves.
    theirs = HapiServer(peer.hapi)
    with TestClient(create_app(ours)) as hapi:
        info = hapi.get("/hapi/info?dataset=peertest_mag").json()
        assert (info["startDate"], info["stopDate"]) == (
            "2025-01-01T00:00:00Z",
            "2025-01-03T00:00:00Z",
        )
        for a, b in (("2025-01-01T23:00Z", "2025-01-02T01:00Z"),):
            mine = hapi.get(f"/hapi/data?dataset=peertest_mag&start={a}&stop={b}").text
            peer_text = httpx.get(
                f"{peer.hapi}/data",
                params={"dataset": "demo_mag_l2_1s", "parameters": "B_GSE,B_mag", "start": a,
                        "stop": b},
            ).text  # fmt: skip
            assert mine.splitlines() == peer_text.splitlines()
    table = theirs.data("demo_mag_l2_1s", ["B_mag"], parse_time(DAYS[0]), parse_time("2025-01-03"))
    with ours.catalog.session() as session:
        days = {d.partition: d for d in session.scalars(select(HarvestDay))}
    assert sum(d.records for d in days.values()) == len(table.time)
    # The harvested product triggers the rules that take it.
    drain(ours)
    assert [f.partition for f in lists(ours, "hourly")] == DAYS
    # Nothing changed at the peer: nothing fetched but its info.
    again = _pass(ours)
    assert again.archived == [] and again.skipped == 2 and again.requests <= 2, again
    # A day changed at the peer: the peer's modificationDate moved, each day is asked
    # with If-Modified-Since, the unchanged one answers 304 (no records), the changed
    # one is fetched and archived as the next revision.
    plant(peer.runtime, tmp_path)
    changed = _pass(ours)
    assert changed.archived == ["2025-01-02"] and changed.skipped == 1, changed
    assert changed.requests == 2 + 2, "capabilities, info, a 304 and one day's records"
    newest = {f.partition: f.name for f in lists(ours, "mag")}
    assert newest["2025-01-02"].endswith("_v1.0.1.cdf")
    assert newest["2025-01-01"].endswith("_v1.0.0.cdf")
    with TestClient(create_app(ours)) as hapi:
        url = "/hapi/data?dataset=peertest_mag&parameters=B_mag"
        mine = hapi.get(url + "&start=2025-01-02T15:20Z&stop=2025-01-02T15:21Z").text
    peer_now = httpx.get(
        f"{peer.hapi}/data",
        params={"dataset": "demo_mag_l2_1s", "parameters": "B_mag",
                "start": "2025-01-02T15:20Z", "stop": "2025-01-02T15:21Z"},
    ).text  # fmt: skip
    assert mine.splitlines() == peer_now.splitlines()
    assert np.isfinite([float(line.split(",")[1]) for line in mine.splitlines()]).all()


def test_the_peer_learns_who_asks(peer: LiveServer, ours: Runtime) -> None:
    seen: list[str] = []

    class Recording(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.headers.get("User-Agent", ""))
            return super().handle_request(request)

    [(mission, product)] = harvested_products(ours)
    harvest(ours, mission, product, transport=Recording())
    assert seen and all(a.startswith("socstack/") and "soc@peertest.example" in a for a in seen)


def test_a_copy_of_the_peers_archive_is_not_needed(processed_copy: Path) -> None:
    """The mission names a peer; without its URL the pass says what to set, and stops."""
    runtime = Runtime(explicit_settings(processed_copy, missions=[PEERTEST]))
    upgrade(runtime.catalog)
    try:
        [(mission, product)] = harvested_products(runtime)
        with pytest.raises(Exception, match="SOC_PEERS"):
            harvest(runtime, mission, product)
    finally:
        runtime.close()
    shutil.rmtree(processed_copy / "archive" / "peertest", ignore_errors=True)


def test_a_team_only_dataset_is_harvested_with_the_peers_token_only(
    peer: LiveServer, tmp_path: Path
) -> None:
    """Through the peer's access rule: its team's token sees the L1B field, anonymous not."""
    folder = tmp_path / "peertest"
    shutil.copytree(PEERTEST, folder)
    text = (folder / "mission.yaml").read_text()
    text = text.replace("dataset: demo_mag_l2_1s", "dataset: demo_mag_l1b")
    text = text.replace("parameters: [B_GSE, B_mag]", "parameters: [B_sensor]")
    text = text.replace("{B_GSE: [3], B_mag: []}", "{B_sensor: [3]}")
    (folder / "mission.yaml").write_text(text.split("\ndatasets:")[0] + "\n")
    token = person(peer.runtime, "partner", ["demo:mag"], ["read"])

    def runtime(**overrides: object) -> Runtime:
        settings = explicit_settings(
            tmp_path / f"ours{len(overrides)}",
            missions=[folder],
            peers={"demo_soc": peer.hapi},
            **overrides,
        )
        made = Runtime(settings)
        upgrade(made.catalog)
        return made

    anonymous = runtime()
    try:
        [(mission, product)] = harvested_products(anonymous)
        with pytest.raises(HarvestError, match="1406"):
            harvest(anonymous, mission, product)
    finally:
        anonymous.close()
    partner = runtime(peer_tokens={"demo_soc": token})
    try:
        [(mission, product)] = harvested_products(partner)
        report = harvest(partner, mission, product)
        assert report.archived == DAYS, report
    finally:
        partner.close()
