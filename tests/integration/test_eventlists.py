"""``/api/eventlists``: download a mission's lists, upload catalogs, find similar intervals.

Round trips go through the real API and archive: a detector's list downloaded in each
format and uploaded back is the same list, field for field (the AMDA TimeTable VOTable
included). The similarity search runs as a job the way a worker runs it, over a day into
which a copy of the query interval was planted (a new version of the L2 file, ingested
through the ingest path like any delivery).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socstack.api.app import create_app
from socstack.catalog.models import File, FileSource, FileStatus
from socstack.formats.cdf import write_cdf
from socstack.mining.catalogs import read_catalog
from socstack.runtime import Runtime
from tests.conftest import drain, explicit_settings
from tests.integration.people import bearer, person
from tests.integration.test_hapi import LiveServer

QUERY = ("2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z")
PLANTED = np.datetime64("2025-01-02T15:20:00", "ns")


@pytest.fixture
def mined(mined_archive: Path, tmp_path: Path) -> Iterator[Runtime]:
    shutil.copytree(mined_archive, tmp_path / "data", dirs_exist_ok=True)
    runtime = Runtime(explicit_settings(tmp_path / "data"))
    yield runtime
    runtime.close()


@pytest.fixture
def api(mined: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(mined), raise_server_exceptions=False) as client:
        yield client


def analyst(runtime: Runtime, name: str = "ana") -> dict[str, str]:
    return bearer(person(runtime, name, ["demo"], ["read", "run"]))


def test_the_missions_lists_are_listed_for_anyone(api: TestClient) -> None:
    body = api.get("/api/eventlists").json()
    names = {e["name"]: e for e in body["lists"]}
    assert {"demo_shocks", "demo_dense_plasma", "demo_speed_changes"} <= set(names)
    assert names["demo_shocks"]["kind"] == "dataset"


@pytest.mark.parametrize("fmt", ["csv", "json", "votable"])
def test_a_detectors_list_round_trips_through_each_format(
    api: TestClient, mined: Runtime, fmt: str
) -> None:
    headers = analyst(mined)
    down = api.get(f"/api/eventlists/demo_dense_plasma?format={fmt}")
    assert down.status_code == 200, down.text
    original = read_catalog(down.content, fmt)
    assert len(original) >= 2
    up = api.post(
        "/api/eventlists",
        files={"file": (f"dense.{ {'votable': 'xml'}.get(fmt, fmt) }", down.content)},
        data={"name": "my dense intervals"},
        headers=headers,
    )
    assert up.status_code == 201, up.text
    made = up.json()
    assert (made["kind"], made["owner"], made["events"]) == ("upload", "ana", len(original))
    again = api.get(f"/api/eventlists/{made['id']}?format={fmt}", headers=headers)
    back = read_catalog(again.content, fmt)
    np.testing.assert_array_equal(back.start, original.start)
    np.testing.assert_array_equal(back.stop, original.stop)
    assert set(back.attributes) == set(original.attributes) == {"peak", "mean", "duration"}
    for key, values in original.attributes.items():
        np.testing.assert_array_equal(back.attributes[key], values)


def test_a_download_is_every_event_overlapping_the_range(api: TestClient) -> None:
    whole = read_catalog(api.get("/api/eventlists/demo_dense_plasma?format=json").content, "json")
    first_start, first_stop = whole.start[0], whole.stop[0]
    inside = str(first_start + (first_stop - first_start) // 2)[:19] + "Z"
    part = api.get(f"/api/eventlists/demo_dense_plasma?format=csv&start={inside}&stop=2025-01-03")
    got = read_catalog(part.content, "csv")
    assert got.start[0] == first_start and len(got) == len(whole)


def test_an_upload_is_its_owners_and_bad_catalogs_are_refused(
    api: TestClient, mined: Runtime
) -> None:
    headers = analyst(mined)
    other = analyst(mined, "bo")
    csv = b"start,stop,score\n2025-01-01T00:00:00Z,2025-01-01T01:00:00Z,1.5\n"
    made = api.post("/api/eventlists", files={"file": ("x.csv", csv)}, headers=headers).json()
    assert api.get(f"/api/eventlists/{made['id']}", headers=other).status_code == 404
    assert api.get(f"/api/eventlists/{made['id']}").status_code == 404
    assert made["name"] not in {
        e["name"] for e in api.get("/api/eventlists", headers=other).json()["lists"]
    }
    bad = b"start,stop\n2025-01-01T02:00:00Z,2025-01-01T01:00:00Z\n"
    refused = api.post("/api/eventlists", files={"file": ("bad.csv", bad)}, headers=headers)
    assert refused.status_code == 422 and "before" in refused.json()["detail"], refused.text
    anonymous = api.post("/api/eventlists", files={"file": ("x.csv", csv)})
    assert anonymous.status_code == 401
    reader = bearer(person(mined, "rita", ["demo"], ["read"]))
    assert (
        api.post("/api/eventlists", files={"file": ("x.csv", csv)}, headers=reader).status_code
        == 403
    )
    gone = api.delete(f"/api/eventlists/{made['id']}", headers=other)
    assert gone.status_code == 404
    assert api.delete(f"/api/eventlists/{made['id']}", headers=headers).status_code == 204


# -- similarity search ------------------------------------------------------------------------------


def plant(runtime: Runtime, tmp_path: Path) -> None:
    """Copy the query hour of |B| and B (scaled and offset) into the next day, as v1.0.1."""
    mission = runtime.missions.mission("demo")
    product = mission.products["mag_l2"]
    with runtime.catalog.session() as session:
        rows = {
            r.partition: r
            for r in session.scalars(
                select(File).where(
                    (File.product == "mag_l2") & (File.status == FileStatus.ARCHIVED)
                )
            )
        }
    day1 = product.reader.read(runtime.archive.local_path(rows["2025-01-01"].uri), product)
    day2 = product.reader.read(runtime.archive.local_path(rows["2025-01-02"].uri), product)
    t1, t2 = day1["epoch"].values, day2["epoch"].values
    src = (t1 >= np.datetime64(QUERY[0][:19])) & (t1 < np.datetime64(QUERY[1][:19]))
    dst = np.flatnonzero(t2 >= PLANTED)[: int(src.sum())]
    for name in ("b_mag", "b_gse"):
        values = day2[name].values.copy()
        values[dst] = day1[name].values[src][: len(dst)] * 1.5 + 2.0
        day2[name].values = values
    options = product.format_options
    version = rows["2025-01-02"].version
    major, minor, patch = (int(x) for x in version.split("."))
    newer = f"v{major}.{minor}.{patch + 1}"
    path = tmp_path / rows["2025-01-02"].name.replace(f"v{version}", newer)
    write_cdf(
        day2,
        path,
        global_attributes=options.global_attributes,
        variable_attributes=options.variable_attributes,
    )
    result = runtime.ingestor.ingest(path, source=FileSource.CLI)
    assert result.outcome.value == "archived", result


def _meta(api: TestClient, list_id: int, headers: dict[str, str]) -> dict[str, Any]:
    response = api.get(f"/api/eventlists/{list_id}?meta=true", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_similarity_search_finds_a_planted_copy_first(
    api: TestClient, mined: Runtime, tmp_path: Path
) -> None:
    plant(mined, tmp_path)
    headers = analyst(mined)
    asked = {
        "dataset": "demo_mag_l2_1s",
        "parameters": ["B_mag", "B_GSE"],
        "query_start": QUERY[0],
        "query_stop": QUERY[1],
        "start": "2025-01-01T00:00:00Z",
        "stop": "2025-01-03T00:00:00Z",
        "k": 5,
    }
    queued = api.post("/api/eventlists/similar", json=asked, headers=headers)
    assert queued.status_code == 202, queued.text
    list_id = queued.json()["id"]
    assert _meta(api, list_id, headers)["status"] == "queued"
    drain(mined)  # as a worker on queue mining does
    meta = _meta(api, list_id, headers)
    assert meta["status"] == "ready" and meta["events"] == 5, meta
    found = read_catalog(
        api.get(f"/api/eventlists/{list_id}?format=json", headers=headers).content, "json"
    )
    best = int(np.argmin(found.attributes["rank"]))
    assert found.attributes["rank"][best] == 1
    assert abs(found.start[best] - PLANTED) <= np.timedelta64(60, "s"), found.start
    assert found.attributes["distance"][best] == found.attributes["distance"].min()
    query = np.datetime64(QUERY[0][:19], "ns")
    assert not np.any((found.start < query + np.timedelta64(3600, "s")) & (found.stop > query))
    # Someone who may not read the L2 field (it is public) sees it; a stranger's token too.
    with mined.catalog.session() as session:
        from socstack.catalog.eventlists import EventListRow

        row = session.get(EventListRow, list_id)
    assert row is not None and any("mag_l2" in r for r in row.reads)


def test_a_bad_search_is_a_clear_422(api: TestClient, mined: Runtime) -> None:
    headers = analyst(mined)
    base = {
        "dataset": "demo_mag_l2_1s",
        "parameters": ["B_mag"],
        "query_start": QUERY[0],
        "query_stop": QUERY[1],
    }
    cases = [
        ({**base, "dataset": "nope"}, "no dataset"),
        ({**base, "parameters": ["B_nope"]}, "no parameter"),
        ({**base, "query_stop": QUERY[0]}, "after"),
        ({**base, "dataset": "demo_shocks", "parameters": ["B_ratio"]}, "event list"),
        ({**base, "k": 0}, "k"),
    ]
    for body, words in cases:
        response = api.post("/api/eventlists/similar", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert words in response.json()["detail"], response.json()
    assert api.post("/api/eventlists/similar", json=base).status_code == 401


class _Site(LiveServer):
    def build(self, runtime: Runtime) -> Any:
        from socstack.web import create_web_app

        return create_web_app(runtime, lambda: self.base)


def test_the_client_reads_exports_uploads_and_searches(mined: Runtime, tmp_path: Path) -> None:
    from socstack.client import Client

    token = person(mined, "ana", ["demo"], ["read", "run"])
    site = _Site(mined.settings.data_dir)
    with site:
        client = Client(site.base, token=token)
        assert "demo_shocks" in {e["name"] for e in client.eventlists.list()}
        shocks = client.eventlists.get("demo_shocks", "2025-01-01", "2025-01-03")
        assert len(shocks) == 1 and set(shocks.attributes) == {
            "B_ratio",
            "N_ratio",
            "dV",
            "T_ratio",
        }
        path = client.eventlists.export("demo_shocks", "votable", tmp_path / "shocks.xml")
        made = client.eventlists.upload(path, name="shocks again")
        again = client.eventlists.get(made["id"])
        np.testing.assert_array_equal(again.start, shocks.start)
        np.testing.assert_array_equal(again.attributes["dV"], shocks.attributes["dV"])
        submitted = client.eventlists.similar(
            "demo_mag_l2_1s", ["B_mag"], QUERY[0], QUERY[1], k=3, wait=False
        )
        assert isinstance(submitted, dict) and submitted["status"] == "queued"
        drain(mined)
        found = client.eventlists.get(submitted["id"])
        assert sorted(found.attributes["rank"].tolist()) == [1, 2, 3]
        client.close()
