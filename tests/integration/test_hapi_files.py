"""HAPI file listings (``stringType: uri``): the archive's files and quicklooks over HAPI.

A listing's records come from the catalog: one per archived file (the newest version of
each day), its link relative to ``/api/files/``. The links are followed here as a HAPI
client would, base and name, and what they bring back is the file the catalog holds.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import select

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import File, FileStatus
from socstack.mission.datasets import Dataset
from tests.integration.test_hapi import LiveServer

SPAN = {"start": "2025-01-01T00:00:00Z", "stop": "2025-01-03T00:00:00Z"}


class _Site(LiveServer):
    def build(self, runtime):  # type: ignore[no-untyped-def]
        from socstack.web import create_web_app

        return create_web_app(runtime, lambda: self.base)


@pytest.fixture(scope="module")
def site(mined_archive: Path) -> Iterator[_Site]:
    server = _Site(mined_archive)
    upgrade(server.runtime.catalog)
    with server:
        yield server


def archived(site: _Site, product: str) -> list[File]:
    with site.runtime.catalog.session() as session:
        return list(
            session.scalars(
                select(File)
                .where((File.product == product) & (File.status == FileStatus.ARCHIVED))
                .order_by(File.partition)
            )
        )


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("dataset", "product", "media", "magic"),
    [
        ("demo_mag_ql", "mag_ql", "image/png", b"\x89PNG\r\n\x1a\n"),
        ("demo_mag_l2_files", "mag_l2", "application/x-cdf", b"\xcd\xf3\x00\x01"),
    ],
)
def test_a_listing_links_to_each_archived_file(
    site: _Site, dataset: str, product: str, media: str, magic: bytes
) -> None:
    files = archived(site, product)
    assert len(files) == 2, [f.name for f in files]  # the two processed days
    with httpx.Client(base_url=site.base, timeout=60) as http:
        info = http.get("/hapi/info", params={"dataset": dataset}).json()
        uri = next(p for p in info["parameters"] if p["name"] == "URI")
        assert uri["stringType"] == {
            "uri": {"mediaType": media, "scheme": "http", "base": f"{site.base}/api/files/"}
        }
        assert uri["units"] is None  # HAPI: a URI's units are null
        assert [p["name"] for p in info["parameters"]] == [
            "Time",
            "stopTime",
            "URI",
            "version",
            "size",
            "sha256",
        ]
        assert info["x_socstack"]["fileListing"] is True
        assert info["cadence"] == "P1D"  # a file a day
        # A sample of several files (up to ten days), so that it has a cadence to check.
        sample = (info["sampleStartDate"], info["sampleStopDate"])
        assert sample == ("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")
        data = http.get("/hapi/data", params={"dataset": dataset, **SPAN})
        assert data.status_code == 200, data.text
        listed = rows(data.text)
        assert [r[2] for r in listed] == [f.name for f in files]
        assert [r[3] for r in listed] == [f.version for f in files]
        assert [float(r[4]) for r in listed] == [float(f.size) for f in files]
        for record, row in zip(listed, files, strict=True):
            assert record[0] < record[1]  # Time, then stopTime: the file's range
            assert record[0][:10] == row.partition
            body = http.get(uri["stringType"]["uri"]["base"] + record[2])
            assert body.status_code == 200
            assert body.headers["content-type"] == media
            assert body.content.startswith(magic)
            assert hashlib.sha256(body.content).hexdigest() == record[5] == row.sha256
        # One day: only the file of that day.
        one = http.get(
            "/hapi/data",
            params={"dataset": dataset, "start": "2025-01-02T06:00Z", "stop": "2025-01-02T07:00Z"},
        )
        assert [r[2] for r in rows(one.text)] == [files[1].name]


def test_the_three_formats_say_the_same(site: _Site) -> None:
    with httpx.Client(base_url=site.base, timeout=60) as http:
        params = {"dataset": "demo_pls_ql", **SPAN}
        text = rows(http.get("/hapi/data", params={**params, "format": "csv"}).text)
        document = http.get("/hapi/data", params={**params, "format": "json"}).json()
        binary = http.get("/hapi/data", params={**params, "format": "binary"}).content
    assert document["data"] == [[r[0], r[1], r[2], r[3], float(r[4]), r[5]] for r in text]
    length = document["parameters"][0]["length"]
    times = [("Time", f"S{length}"), ("stopTime", f"S{length}")]
    record = np.dtype(
        [*times, ("URI", "S255"), ("version", "S32"), ("size", "<f8"), ("sha256", "S64")]
    )
    decoded = np.frombuffer(binary, dtype=record)
    assert [r["URI"].decode() for r in decoded] == [r[2] for r in text]
    assert [r["sha256"].decode() for r in decoded] == [r[5] for r in text]


def test_no_file_data_outside_the_listing(site: _Site) -> None:
    """A listing is the catalog's: empty days answer 1201 and a range past it 1405."""
    with httpx.Client(base_url=site.base, timeout=60) as http:
        info = http.get("/hapi/info", params={"dataset": "demo_mag_ql"}).json()
        assert info["startDate"].startswith("2025-01-01")
        late = http.get(
            "/hapi/data",
            params={"dataset": "demo_mag_ql", "start": "2025-02-01Z", "stop": "2025-02-02Z"},
        )
        assert late.json()["status"]["code"] == 1405


def test_a_listing_declares_its_own_parameters() -> None:
    listing = Dataset.model_validate({"id": "x_files", "product": "p", "files": True})
    assert [p.name for p in listing.parameters] == ["stopTime", "URI", "version", "size", "sha256"]
    with pytest.raises(ValueError, match="leave out parameters"):
        Dataset.model_validate(
            {"id": "x_files", "product": "p", "files": True, "parameters": [{"name": "a"}]}
        )
    with pytest.raises(ValueError, match="leave out intervals"):
        Dataset.model_validate({"id": "x_files", "product": "p", "files": True, "intervals": True})


def test_the_client_reads_a_listing_both_ways(site: _Site) -> None:
    """socstack.client, over HAPI and straight from the archive, lists the same files."""
    from socstack.client import Client

    names = [f.name for f in archived(site, "mag_ql")]
    remote = Client(site.base, token="")
    direct = Client(runtime=site.runtime, token="")
    for client in (remote, direct):
        ds = client.get("demo_mag_ql", "2025-01-01", "2025-01-03")
        assert [str(v) for v in ds["URI"].values] == names, client.kind
        assert [float(v) for v in ds["size"].values] == [
            float(f.size) for f in archived(site, "mag_ql")
        ]
    remote.close()
