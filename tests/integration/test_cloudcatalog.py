"""The CloudCatalog export: catalog.json and yearly CSV indices of the released files."""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import http.server
import json
import shutil
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy import select

from socstack.access import ANONYMOUS
from socstack.catalog.accounts import ReleaseKind
from socstack.catalog.models import File, FileSource, FileStatus, PlannerState
from socstack.export.cloudcatalog import HEADER, bucket_root, write_cloudcatalog
from socstack.export.follow import CURSOR, CloudCatalogFollower
from socstack.ingest.results import Outcome
from socstack.runtime import Runtime
from tests.conftest import explicit_settings

RESTRICTED_ISO = r"^\d{4}-\d{2}-\d{2}T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?Z$"

# No JSON schema is published with the specification (1.1): this one is written from its
# section 3, the endpoint's items and each catalog entry's required items.
CATALOG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["version", "name", "egress", "status", "contact", "catalog"],
    "properties": {
        "version": {"const": "1.1"},
        "name": {"type": "string", "minLength": 1},
        "egress": {"type": "string"},
        "contact": {"type": "string", "minLength": 1},
        "status": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": {"const": 1200}, "message": {"type": "string"}},
        },
        "catalog": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": [
                    "id",
                    "index",
                    "title",
                    "start",
                    "stop",
                    "modification",
                    "indextype",
                    "filetype",
                ],
                "properties": {
                    "id": {"type": "string", "pattern": r"^[A-Za-z0-9_-]+$"},
                    "index": {"type": "string", "pattern": r"^(s3|https?|file)://.*/$"},
                    "title": {"type": "string", "minLength": 1},
                    "start": {"type": "string", "pattern": RESTRICTED_ISO},
                    "stop": {"type": "string", "pattern": RESTRICTED_ISO},
                    "modification": {"type": "string", "pattern": RESTRICTED_ISO},
                    "indextype": {"enum": ["csv", "csv-zip", "parquet"]},
                    "filetype": {
                        "enum": [
                            "fits",
                            "csv",
                            "cdf",
                            "netcdf3",
                            "netcdf4",
                            "hdf5",
                            "datamap",
                            "txt",
                            "binary",
                            "other",
                        ]
                    },
                    "multiyear": {"type": "boolean"},
                },
            },
        },
    },
}


@pytest.fixture
def runtime(processed_archive: Path, tmp_path: Path) -> Iterator[Runtime]:
    folder = tmp_path / "data"
    shutil.copytree(processed_archive, folder)
    rt = Runtime(explicit_settings(folder))
    yield rt
    rt.close()


def _archive(runtime: Runtime) -> Path:
    return Path(runtime.archive.root)


def _archived(runtime: Runtime) -> list[File]:
    with runtime.catalog.session() as session:
        return list(session.scalars(select(File).where(File.status == FileStatus.ARCHIVED)))


def _public_datasets(runtime: Runtime) -> dict[str, str]:
    """Dataset id -> product, for datasets anonymous readers may see and that hold files."""
    held = {f.product for f in _archived(runtime)}
    return {
        d.id: d.product
        for m, d in runtime.missions.datasets()
        if not d.files  # a file listing is an index already, not data to index
        and d.product in held
        and runtime.access.visible(ANONYMOUS, m.name, d.product)
    }


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == HEADER
        return list(reader)


def test_catalog_and_indices_match_the_archive(runtime: Runtime) -> None:
    result = write_cloudcatalog(runtime)
    root = _archive(runtime)
    catalog = json.loads((root / "catalog.json").read_text())

    expected = _public_datasets(runtime)
    assert expected, "the processed archive holds public datasets"
    assert "demo_mag_l1a" not in expected  # level 1a is never public: not exported
    assert {e["id"] for e in catalog["catalog"]} == set(expected) == set(result.datasets)

    by_product: dict[str, list[File]] = {}
    for f in _archived(runtime):
        by_product.setdefault(f.product, []).append(f)
    for entry in catalog["catalog"]:
        ident = entry["id"]
        files = by_product[expected[ident]]
        assert entry["index"] == f"{runtime.settings.archive_url}/{ident}/"
        assert entry["filetype"] == "cdf" and entry["indextype"] == "csv"
        years = {int(f.partition[:4]) for f in files}
        found = sorted((root / ident).glob(f"{ident}_*.csv"))
        assert [p.name for p in found] == [f"{ident}_{y}.csv" for y in sorted(years)]
        assert (root / ident / f"{ident}.json").is_file()
        rows = [row for p in found for row in _read_csv(p)]
        assert len(rows) == len({f.partition for f in files})
        assert [r["start"] for r in rows] == sorted(r["start"] for r in rows)
        assert entry["start"] == rows[0]["start"] and entry["stop"] == rows[-1]["stop"]
        for row in rows:
            path = Path(urlparse(row["datakey"]).path)
            assert path.is_file(), row["datakey"]
            data = path.read_bytes()
            assert int(row["filesize"]) == len(data)
            assert row["checksum"] == hashlib.sha256(data).hexdigest()
            assert row["checksum_algorithm"] == "SHA-256"
            day = row["start"][:10]
            assert row["start"] == f"{day}T00:00:00Z" and path.name.count(day.replace("-", ""))


def test_catalog_json_follows_the_specification(runtime: Runtime) -> None:
    import jsonschema

    write_cloudcatalog(runtime)
    catalog = json.loads((_archive(runtime) / "catalog.json").read_text())
    jsonschema.validate(catalog, CATALOG_SCHEMA)
    for entry in catalog["catalog"]:
        assert entry["start"] < entry["stop"]
        info = json.loads((_archive(runtime) / entry["id"] / f"{entry['id']}.json").read_text())
        assert info["id"] == entry["id"]
        # Columns past filesize are defined in the dataset's info file, in order.
        assert [p["name"] for p in info["parameters"]] == list(HEADER[4:])


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def served(runtime: Runtime) -> Iterator[str]:
    """The archive folder over HTTP, as a bucket's https:// endpoint would serve it."""
    handler = functools.partial(_Quiet, directory=str(_archive(runtime)))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_cloudcatalog_client_reads_it(
    runtime: Runtime, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cloudcatalog

    # The client tries S3 before HTTP: keep it away from real AWS credentials and network.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    result = write_cloudcatalog(runtime, public_url=served)
    assert result.url == f"{served}/catalog.json"

    client = cloudcatalog.CloudCatalog(served)
    ids = {ident for ident, _title in client.get_entries_id_title()}
    assert ids == set(result.datasets)
    ident = "demo_mag_l2_1s"
    frame = client.request_cloud_catalog(ident, "2025-01-01T00Z", "2025-01-02T00Z")
    assert len(frame) == 1
    row = frame.iloc[0]
    assert row["datakey"].startswith(f"{served}/demo/mag/l2/2025/01/")
    with urllib.request.urlopen(row["datakey"]) as response:
        data = response.read()
    assert int(row["filesize"]) == len(data)
    assert row["checksum"] == hashlib.sha256(data).hexdigest()
    both = client.request_cloud_catalog(ident, "2025-01-01T00Z", "2026-01-01T00Z")
    assert len(both) == 2


def test_writing_again_changes_only_what_changed(runtime: Runtime) -> None:
    first = write_cloudcatalog(runtime)
    assert "catalog.json" in first.written and len(first.written) > 1
    root = _archive(runtime)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}

    again = write_cloudcatalog(runtime)
    assert again.written == () and again.removed == ()
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps

    lost = root / "demo_mag_l2_1s" / "demo_mag_l2_1s_2025.csv"
    content = lost.read_bytes()
    lost.unlink()
    repaired = write_cloudcatalog(runtime)
    assert repaired.written == ("demo_mag_l2_1s/demo_mag_l2_1s_2025.csv",)
    assert lost.read_bytes() == content


def test_a_stale_year_is_removed(runtime: Runtime) -> None:
    write_cloudcatalog(runtime)
    stale = _archive(runtime) / "demo_mag_l2_1s" / "demo_mag_l2_1s_1999.csv"
    stale.write_text(",".join(HEADER) + "\n")
    result = write_cloudcatalog(runtime)
    assert result.removed == ("demo_mag_l2_1s/demo_mag_l2_1s_1999.csv",)
    assert result.written == () and not stale.exists()


def test_a_new_version_rewrites_its_year_and_the_catalog(runtime: Runtime, tmp_path: Path) -> None:
    write_cloudcatalog(runtime)
    root = _archive(runtime)
    old = next((root / "demo/mag/l2/2025/01").glob("demo_mag_l2_1s-gse_20250102_v1.0.0.cdf"))
    delivered = tmp_path / old.name.replace("_v1.0.0", "_v1.0.1")
    shutil.copyfile(old, delivered)
    assert runtime.ingestor.ingest(delivered, source=FileSource.CLI).outcome == Outcome.ARCHIVED

    result = write_cloudcatalog(runtime)
    assert set(result.written) == {"demo_mag_l2_1s/demo_mag_l2_1s_2025.csv", "catalog.json"}
    rows = _read_csv(root / "demo_mag_l2_1s" / "demo_mag_l2_1s_2025.csv")
    names = [r["datakey"].rsplit("/", 1)[1] for r in rows]
    assert len(names) == 2 and names[1] == delivered.name  # the newest version of the day


def test_an_unreleased_day_leaves_the_index(runtime: Runtime) -> None:
    write_cloudcatalog(runtime)
    accounts = runtime.access.accounts
    accounts.add_user("mag", ["demo", "demo:mag"], actor="test")
    mag = accounts.identify(accounts.create_token("mag", ["read", "release"], actor="test")[1])
    runtime.access.releases.request(
        mag,
        mission="demo",
        product="mag_l2",
        start=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        stop=dt.datetime(2025, 1, 3, tzinfo=dt.UTC),
        reason="a bad calibration",
        kind=ReleaseKind.UNRELEASE,
    )
    runtime.access.releases.forget()

    result = write_cloudcatalog(runtime)
    root = _archive(runtime)
    # The 1 s field, and what is made from it (no more public than its input), lose the day.
    for ident in ("demo_mag_l2_1s", "demo_mag_l2_1m", "demo_sw_l2"):
        assert f"{ident}/{ident}_2025.csv" in result.written
        rows = _read_csv(root / ident / f"{ident}_2025.csv")
        assert [r["start"] for r in rows] == ["2025-01-01T00:00:00Z"]
    assert "demo_pls_l2/demo_pls_l2_2025.csv" not in result.written
    catalog = json.loads((root / "catalog.json").read_text())
    stops = {e["id"]: e["stop"] for e in catalog["catalog"]}
    assert stops["demo_mag_l2_1s"] == "2025-01-02T00:00:00Z"
    assert stops["demo_pls_l2"] == "2025-01-03T00:00:00Z"


def test_bucket_root() -> None:
    assert bucket_root("s3://bucket/archive/prefix") == "s3://bucket"
    assert bucket_root("s3://bucket") == "s3://bucket"
    assert bucket_root("file:///data/archive") == "file:///data/archive"


def test_the_follower_rewrites_after_an_arrival_and_resumes_from_its_cursor(
    runtime: Runtime, tmp_path: Path
) -> None:
    first = CloudCatalogFollower(runtime, refresh=3600).step()
    assert first is not None and "catalog.json" in first.written
    follower = CloudCatalogFollower(runtime, refresh=3600)
    assert follower.step() is not None  # a new follower writes once (nothing changed)
    assert follower.step() is None  # no event since, refresh not due: nothing to do

    root = _archive(runtime)
    old = next((root / "demo/mag/l2/2025/01").glob("demo_mag_l2_1s-gse_20250102_v1.0.0.cdf"))
    delivered = tmp_path / old.name.replace("_v1.0.0", "_v1.0.1")
    shutil.copyfile(old, delivered)
    assert runtime.ingestor.ingest(delivered, source=FileSource.CLI).outcome == Outcome.ARCHIVED
    result = follower.step()
    assert result is not None
    assert set(result.written) == {"demo_mag_l2_1s/demo_mag_l2_1s_2025.csv", "catalog.json"}
    assert delivered.name in (root / "demo_mag_l2_1s" / "demo_mag_l2_1s_2025.csv").read_text()
    assert follower.step() is None  # the arrival was read once
    with runtime.catalog.session() as session:
        assert session.get(PlannerState, CURSOR) is not None  # a restart resumes here
