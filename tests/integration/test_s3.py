"""The archive on S3, for real: ingest, processing, the API and HAPI against an S3 server.

The server is moto's standalone server (``moto_server``, from ``moto[server]``) on a free
loopback port, spoken to over HTTP by s3fs exactly as MinIO or AWS would be, so every
request crosses the S3 protocol; nothing in socstack is patched. What the tests look at
in the bucket they list with a client of their own, not through socstack's store.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from s3fs import S3FileSystem

from socstack.catalog.migrate import upgrade
from socstack.catalog.models import FileSource
from socstack.config import get_settings
from socstack.export.follow import CloudCatalogFollower
from socstack.formats.cdf import read_variables
from socstack.pipeline.runner import run_rule
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.conftest import CHAIN
from tests.deploy.tools import tool
from tests.integration.people import admin_token, bearer

pytestmark = pytest.mark.integration

DAY = dt.date(2025, 1, 1)
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "socstack-test",
    "AWS_SECRET_ACCESS_KEY": "socstack-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on a free loopback port, for this module."""
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto_server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3FileSystem:
    """The test's own S3 client (not the store's), without caches; credentials for the
    fake server only, and no profile or credentials file of the developer's."""
    for key, value in CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    return S3FileSystem(
        endpoint_url=s3_endpoint, skip_instance_cache=True, use_listings_cache=False
    )


@pytest.fixture
def bucket(s3: S3FileSystem) -> str:
    """A new, empty bucket."""
    name = f"socstack-{uuid.uuid4().hex[:12]}"
    s3.mkdir(name)
    return name


@pytest.fixture
def s3_runtime(
    bucket: str, s3_endpoint: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Runtime]:
    """A data center whose archive and quarantine are in the bucket."""
    monkeypatch.setenv("SOC_DATABASE_URL", database_url)
    monkeypatch.setenv("SOC_ARCHIVE_URL", f"s3://{bucket}/archive")
    monkeypatch.setenv("SOC_QUARANTINE_URL", f"s3://{bucket}/quarantine")
    monkeypatch.setenv("SOC_S3_ENDPOINT_URL", s3_endpoint)
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    upgrade(runtime.catalog)
    yield runtime
    runtime.close()


def stored(s3: S3FileSystem, bucket: str, prefix: str) -> dict[str, str]:
    """Every object under ``prefix`` in the bucket, with its sha256, read over S3."""
    return {
        path.removeprefix(f"{bucket}/{prefix}/"): hashlib.sha256(s3.cat_file(path)).hexdigest()
        for path in s3.find(f"{bucket}/{prefix}")
    }


def test_ingest_archives_into_the_bucket(
    s3_runtime: Runtime, s3: S3FileSystem, bucket: str, demo_copy: Path
) -> None:
    files = sorted(demo_copy.iterdir())
    results = [s3_runtime.ingestor.ingest(p, source=FileSource.CLI) for p in files]
    assert [r.outcome.value for r in results] == ["archived"] * len(files)
    objects = stored(s3, bucket, "archive")
    assert len(objects) == len(files)
    for path, result in zip(files, results, strict=True):
        (key,) = [k for k in objects if k.endswith("/" + path.name)]
        assert key.startswith("demo/")
        assert objects[key] == result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    # Nothing was kept on the local disk instead.
    assert not (s3_runtime.settings.data_dir / "archive").exists()
    # The store lists what is there, as a new process would see it.
    assert sorted(s3_runtime.archive.keys()) == sorted(objects)

    again = s3_runtime.ingestor.ingest(files[0], source=FileSource.CLI)
    assert again.outcome.value == "unchanged"


def test_an_upload_lands_in_the_bucket(
    s3_runtime: Runtime, s3: S3FileSystem, bucket: str, demo_copy: Path
) -> None:
    path = sorted(demo_copy.iterdir())[0]
    with TestClient(create_web_app(s3_runtime), headers=bearer(admin_token(s3_runtime))) as client:
        with path.open("rb") as handle:
            answer = client.post("/api/files", files={"file": (path.name, handle)})
        assert answer.status_code == 201, answer.text
    (digest,) = stored(s3, bucket, "archive").values()
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_conflict_is_quarantined_in_the_bucket(
    s3_runtime: Runtime, s3: S3FileSystem, bucket: str, demo_copy: Path, tmp_path: Path
) -> None:
    original = next(p for p in sorted(demo_copy.iterdir()) if p.suffix == ".pkts")
    assert s3_runtime.ingestor.ingest(original, source=FileSource.CLI).outcome.value == "archived"
    changed = tmp_path / "changed" / original.name
    changed.parent.mkdir()
    changed.write_bytes(original.read_bytes()[:-1] + b"\x00")
    result = s3_runtime.ingestor.ingest(changed, source=FileSource.CLI)
    assert result.outcome.value == "quarantined"
    assert result.kind == "conflict"
    (kept,) = stored(s3, bucket, "quarantine").values()
    assert kept == hashlib.sha256(changed.read_bytes()).hexdigest()
    with TestClient(create_web_app(s3_runtime), headers=bearer(admin_token(s3_runtime))) as client:
        answer = client.get(f"/api/quarantine/{result.quarantine_id}/content")
        assert answer.status_code == 200
        assert answer.content == changed.read_bytes()


def test_processing_api_and_hapi_read_the_bucket(
    s3_runtime: Runtime, s3: S3FileSystem, bucket: str, demo_copy: Path, tmp_path: Path
) -> None:
    for path in sorted(demo_copy.iterdir()):
        s3_runtime.ingestor.ingest(path, source=FileSource.CLI)
    mission = s3_runtime.missions.mission("demo")
    for rule in CHAIN:  # each rule fetches its inputs from S3 and archives its outputs there
        result = run_rule(s3_runtime, mission, mission.rules[rule], DAY)
        assert [r.outcome.value for r in result.archived] == ["archived"], rule
    objects = stored(s3, bucket, "archive")
    (l2_key,) = [k for k in objects if "/demo_mag_l2_1s-gse_20250101_" in k]
    assert not (s3_runtime.settings.data_dir / "archive").exists()

    local = tmp_path / "l2.cdf"
    s3.get_file(f"{bucket}/archive/{l2_key}", str(local))
    expected = read_variables(local, ["epoch", "b_gse"])
    start, stop = np.datetime64("2025-01-01T06:00:00"), np.datetime64("2025-01-01T06:10:00")
    epochs = np.asarray(expected["epoch"]).astype("datetime64[ns]")
    inside = (epochs >= start) & (epochs < stop)

    with TestClient(create_web_app(s3_runtime), headers=bearer(admin_token(s3_runtime))) as client:
        name = l2_key.rsplit("/", 1)[1]
        download = client.get(f"/api/files/{name}")
        assert download.status_code == 200
        assert hashlib.sha256(download.content).hexdigest() == objects[l2_key]

        answer = client.get(
            "/hapi/data?dataset=demo_mag_l2_1s&parameters=B_GSE"
            "&start=2025-01-01T06:00:00Z&stop=2025-01-01T06:10:00Z"
        )
        assert answer.status_code == 200, answer.text
        rows = list(csv.reader(io.StringIO(answer.text)))
    assert len(rows) == int(inside.sum()) > 0
    values = np.array([[float(v) for v in row[1:]] for row in rows])
    np.testing.assert_allclose(values, np.asarray(expected["b_gse"])[inside], rtol=1e-6)

    # The CloudCatalog goes to the bucket's root (where a reader who knows only the bucket
    # looks), its datakeys into the archive's prefix; the follower writes it at once.
    follower = CloudCatalogFollower(s3_runtime, refresh=3600)
    result = follower.step()
    assert result is not None and result.url == f"s3://{bucket}/catalog.json"
    catalog = json.loads(s3.cat_file(f"{bucket}/catalog.json"))
    assert "demo_mag_l2_1s" in [e["id"] for e in catalog["catalog"]]
    index = s3.cat_file(f"{bucket}/demo_mag_l2_1s/demo_mag_l2_1s_2025.csv").decode()
    assert f"s3://{bucket}/archive/{l2_key}" in index
    assert not s3.exists(f"{bucket}/archive/catalog.json")
    assert follower.step() is None  # no arrival since, and the refresh is an hour away


def test_a_listing_sees_what_another_process_stored_since(
    s3_runtime: Runtime, s3: S3FileSystem, bucket: str, demo_copy: Path
) -> None:
    """Several processes write one archive: no process may answer from an old listing."""
    first, second = sorted(demo_copy.iterdir())[:2]
    s3_runtime.ingestor.ingest(first, source=FileSource.CLI)
    assert len(s3_runtime.archive.keys()) == 1
    assert not s3_runtime.archive.exists("demo/elsewhere/" + second.name)
    # Another process (here: another client) stores two objects meanwhile.
    s3.put_file(str(second), f"{bucket}/archive/demo/elsewhere/{second.name}")
    s3.put_file(str(second), f"{bucket}/archive/{second.name}")
    assert len(s3_runtime.archive.keys()) == 3
    assert s3_runtime.archive.exists("demo/elsewhere/" + second.name)
    assert s3_runtime.archive.exists(second.name)
