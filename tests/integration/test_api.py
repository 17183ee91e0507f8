"""The data-center API on both catalog backends: search, download, upload, events, errors.

These test what the API does, so they ask as an admin (who may do everything); who may
do what is tested in test_api_access.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from socstack.catalog.models import FileSource
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.conftest import archive_listing
from tests.integration.people import admin_token, bearer

MAG1 = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
MAG2 = "demo_mag_l0_raw_20250102_v1.0.0.pkts"
CAL = "demo_mag_anc_cal_20250101_v1.0.0.csv"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(
        create_web_app(runtime),
        raise_server_exceptions=False,
        headers=bearer(admin_token(runtime)),
    ) as test_client:
        yield test_client


@pytest.fixture
def loaded(runtime: Runtime, demo_copy: Path) -> Path:
    for path in sorted(demo_copy.iterdir()):
        runtime.ingestor.ingest(path, source=FileSource.CLI)
    return demo_copy


def names(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["name"] for f in response.json()["files"]]


# -- upload ---------------------------------------------------------------------------------------


def test_multipart_upload_then_the_same_again(client: TestClient, demo_copy: Path) -> None:
    content = (demo_copy / MAG1).read_bytes()
    first = client.post("/api/files", files={"file": (MAG1, content)})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["outcome"], body["product"], body["size"]) == ("archived", "mag_l0", len(content))
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    again = client.post("/api/files", files={"file": (MAG1, content)})
    assert (again.status_code, again.json()["outcome"]) == (200, "unchanged")
    listed = client.get("/api/files").json()
    assert [f["source"] for f in listed["files"]] == ["upload"]


def test_raw_body_upload_takes_the_name_from_the_query_or_header(
    client: TestClient, demo_copy: Path
) -> None:
    one = client.post(f"/api/files?name={MAG1}", content=(demo_copy / MAG1).read_bytes())
    assert one.status_code == 201, one.text
    two = client.post(
        "/api/files",
        content=(demo_copy / CAL).read_bytes(),
        headers={"Content-Disposition": f'attachment; filename="{CAL}"'},
    )
    assert two.status_code == 201, two.text
    nameless = client.post("/api/files", content=b"abc")
    assert nameless.status_code == 422
    assert "name" in nameless.json()["detail"]


def test_rejected_uploads_say_why_and_are_quarantined(
    client: TestClient, runtime: Runtime, demo_copy: Path
) -> None:
    truncated = client.post(
        "/api/files", files={"file": (MAG1, (demo_copy / MAG1).read_bytes()[:-7])}
    )
    assert truncated.status_code == 422
    assert truncated.json()["outcome"] == "quarantined"
    assert "truncated" in truncated.json()["reason"]
    assert archive_listing(runtime) == {}
    good = client.post("/api/files", files={"file": (MAG1, (demo_copy / MAG1).read_bytes())})
    assert good.status_code == 201
    conflict = client.post("/api/files", files={"file": (MAG1, (demo_copy / MAG2).read_bytes())})
    assert conflict.status_code == 409
    assert conflict.json()["kind"] == "conflict"
    unknown = client.post("/api/files", files={"file": ("../../etc/passwd", b"root:x:0:0")})
    assert unknown.status_code == 422
    assert "not a plain file name" in unknown.json()["reason"]
    entries = client.get("/api/quarantine").json()["entries"]
    assert [e["kind"] for e in entries] == ["name", "conflict", "format"]
    content = client.get(f"/api/quarantine/{entries[1]['id']}/content")
    assert content.content == (demo_copy / MAG2).read_bytes()
    assert client.get("/api/quarantine/999999").status_code == 404


def test_uploads_above_the_limit_are_refused_whole(
    client: TestClient, runtime: Runtime, demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime.settings, "upload_max_bytes", 1000)
    response = client.post(f"/api/files?name={MAG1}", content=(demo_copy / MAG1).read_bytes())
    assert response.status_code == 413
    assert archive_listing(runtime) == {}
    assert not any(runtime.settings.spool_dir.iterdir()), "the spooled upload is removed"


def test_a_multipart_form_without_a_file_field(client: TestClient) -> None:
    response = client.post("/api/files", files={"other": ("x.txt", b"x")})
    assert response.status_code == 422
    assert "form field named 'file'" in response.json()["detail"]


# -- search ---------------------------------------------------------------------------------------


@pytest.mark.usefixtures("loaded")
def test_filters(client: TestClient) -> None:
    every = names(client.get("/api/files"))
    assert len(every) == 6
    assert names(client.get("/api/files?instrument=mag&level=l0")) == [MAG1, MAG2]
    assert names(client.get("/api/files?product=pls_cal")) == [
        "demo_pls_anc_cal_20250101_v1.0.0.csv"
    ]
    assert names(client.get("/api/files?mission=demo&level=l0&instrument=pls")) == [
        "demo_pls_l0_raw_20250101_v1.0.0.pkts",
        "demo_pls_l0_raw_20250102_v1.0.0.pkts",
    ]
    assert names(client.get("/api/files?level=l2")) == [], "a level no file has yet"
    day2 = names(client.get("/api/files?start=2025-01-02T00:00:00Z&stop=2025-01-03T00:00:00Z"))
    assert MAG2 in day2 and MAG1 not in day2
    assert CAL in day2, "a calibration stays valid after its first day"
    naive = names(client.get("/api/files?start=2025-01-02T00:00:00&stop=2025-01-03"))
    assert naive == day2, "times without a zone are UTC"
    page = client.get("/api/files?limit=2&offset=2").json()
    assert (page["total"], len(page["files"]), page["offset"]) == (6, 2, 2)
    assert [f["name"] for f in page["files"]] == every[2:4]


@pytest.mark.usefixtures("loaded")
def test_versions_and_ingest_time(
    client: TestClient, runtime: Runtime, tmp_path: Path, demo_copy: Path
) -> None:
    newer = tmp_path / "demo_mag_l0_raw_20250101_v1.0.1.pkts"
    newer.write_bytes((demo_copy / MAG1).read_bytes())
    cutoff = client.get("/api/events").json()["events"][-1]["at"]
    runtime.ingestor.ingest(newer, source=FileSource.CLI)
    latest = names(client.get("/api/files?product=mag_l0"))
    assert sorted(latest) == sorted([MAG2, newer.name])
    assert MAG1 not in latest
    assert MAG1 in names(client.get("/api/files?product=mag_l0&version=all"))
    assert names(client.get("/api/files?product=mag_l0&version=1.0.1")) == [newer.name]
    since = names(client.get("/api/files", params={"ingested_since": cutoff}))
    assert newer.name in since and MAG2 not in since
    meta = client.get(f"/api/files/{MAG1}/metadata").json()
    assert meta["status"] == "superseded"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("start=yesterday", "start"),
        ("stop=2025-13-01", "stop"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("limit=100000", "limit"),
        ("offset=-1", "offset"),
        ("version=newest", "version"),
        ("mission=bad%20name!", "mission"),
        ("start=2025-01-03&stop=2025-01-02", "start must be before stop"),
        ("ingested_since=x", "ingested_since"),
    ],
)
def test_invalid_queries_are_4xx_with_a_message(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/api/files?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in response.json()["detail"]


DEMO_LEVELS = ["anc", "l0", "l1a", "l1b", "l2", "l3", "ql"]
DEMO_RULES = ["mag_l1a", "mag_l1b", "mag_l2", "mag_l2_1m", "mag_ql"]
DEMO_RULES += ["pls_l1a", "pls_l1b", "pls_l2", "pls_ql", "sw_l2"]
DEMO_RULES = sorted([*DEMO_RULES, "shocks", "dense_plasma", "speed_changes"])


@pytest.mark.parametrize(
    ("path", "field", "allowed"),
    [
        ("/api/files?level=xx", "level", DEMO_LEVELS),
        ("/api/files?level=L2", "level", DEMO_LEVELS),
        ("/api/files?mission=other", "mission", ["demo"]),
        ("/api/files?instrument=xx&level=l0", "instrument", ["mag", "pls", "sw"]),
        ("/api/files?product=mag_l9", "product", None),
        ("/api/jobs?mission=other", "mission", ["demo"]),
        ("/api/jobs?rule=mag_l9", "rule", DEMO_RULES),
    ],
)
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_filter_values_no_mission_declares_are_refused_with_the_allowed_ones(
    client: TestClient, path: str, field: str, allowed: list[str] | None
) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    value = path.split(f"{field}=")[1].split("&", maxsplit=1)[0]
    assert body["detail"].startswith(f"{field}: '{value}' is not "), body["detail"]
    (error,) = body["errors"]
    assert error["field"] == field
    if allowed is not None:
        assert error["allowed"] == allowed
        assert ", ".join(allowed) in body["detail"]
    else:
        assert "mag_l0" in error["allowed"] and "pls_cal" in error["allowed"]


# -- download and events --------------------------------------------------------------------------


@pytest.mark.usefixtures("loaded")
def test_download_streams_the_archived_bytes(client: TestClient, demo_copy: Path) -> None:
    response = client.get(f"/api/files/{MAG1}")
    assert response.status_code == 200
    assert response.content == (demo_copy / MAG1).read_bytes()
    etag = response.headers["etag"]
    assert etag == f'"{hashlib.sha256(response.content).hexdigest()}"'
    assert int(response.headers["content-length"]) == len(response.content)
    assert client.get(f"/api/files/{MAG1}", headers={"If-None-Match": etag}).status_code == 304
    assert client.get(f"/api/files/{CAL}").headers["content-type"].startswith("text/csv")
    missing = client.get("/api/files/nothing_here.cdf")
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no file named 'nothing_here.cdf'"


@pytest.mark.usefixtures("loaded")
def test_head_answers_like_get_without_the_bytes(client: TestClient, demo_copy: Path) -> None:
    get = client.get(f"/api/files/{MAG1}")
    head = client.head(f"/api/files/{MAG1}")
    assert head.status_code == 200, head.text
    assert head.content == b""
    assert int(head.headers["content-length"]) == (demo_copy / MAG1).stat().st_size
    for header in ("content-length", "etag", "content-type", "content-disposition"):
        assert head.headers[header] == get.headers[header], header
    cached = client.head(f"/api/files/{MAG1}", headers={"If-None-Match": get.headers["etag"]})
    assert (cached.status_code, cached.headers["etag"]) == (304, get.headers["etag"])
    assert client.head(f"/api/files/{CAL}").headers["content-type"].startswith("text/csv")
    assert client.head("/api/files/nothing_here.cdf").status_code == 404


@pytest.mark.usefixtures("loaded")
def test_events_page_by_id(client: TestClient) -> None:
    first = client.get("/api/events?limit=4").json()
    assert [e["id"] for e in first["events"]] == [1, 2, 3, 4]
    rest = client.get(f"/api/events?after={first['last_id']}").json()
    assert [e["id"] for e in rest["events"]] == [5, 6]
    assert rest["events"][0]["kind"] == "file.archived"
    assert rest["events"][0]["payload"]["sha256"]
    done = client.get(f"/api/events?after={rest['last_id']}").json()
    assert done == {"events": [], "last_id": 6}
    assert client.get("/api/events?after=-1").status_code == 422
    assert client.get("/api/events?kind=file.archived&limit=1").json()["events"][0]["id"] == 1


def test_docs_health_and_home(client: TestClient) -> None:
    assert "swagger" in client.get("/api/docs").text.lower()
    spec = client.get("/api/openapi.json").json()
    assert {"/api/files", "/api/files/{name}", "/api/events", "/api/quarantine"} <= set(
        spec["paths"]
    )
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.get("/api/ready").json() == {"status": "ok"}
    assert client.get("/", follow_redirects=False).headers["location"] == "/hapi"
    assert client.get("/api/nothing").status_code == 404


# -- the index and the docs -----------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_api_is_an_index_of_the_api(client: TestClient, runtime: Runtime) -> None:
    # The embedded broker lives in the data folder (/metrics asks it for queue depths).
    runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
    response = client.get("/api")
    assert response.status_code == 200, response.text
    index = response.json()
    assert index["links"] == {
        "docs": "/api/docs",
        "openapi": "/api/openapi.json",
        "metrics": "/metrics",
        "hapi": "/hapi",
    }
    for link in ("docs", "openapi", "metrics"):
        assert client.get(index["links"][link]).status_code == 200, link
    spec = client.get("/api/openapi.json").json()
    listed = {r["path"]: r["methods"] for r in index["resources"]}
    assert set(listed) == set(spec["paths"]) - {"/api"}
    assert listed["/api/files"] == {"GET": "Search files", "POST": "Upload a file"}
    assert set(listed["/api/files/{name}"]) == {"GET", "HEAD"}
    assert {"/api/jobs", "/api/events", "/api/quarantine", "/api/reprocess"} <= set(listed)
    for path, methods in listed.items():
        if "{" not in path and "GET" in methods:
            assert client.get(path).status_code == 200, path


class _References(HTMLParser):
    """Every URL an HTML page makes the browser load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._in_script = tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "action", "data") and v]

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)


ASSET_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_api_docs_need_no_network(client: TestClient) -> None:
    """An air-gapped data center: the docs page and everything it loads come from here."""
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "//" not in page.text.replace("<!DOCTYPE html>", ""), "no absolute URL anywhere"
    references = _References()
    references.feed(page.text)
    urls = references.urls + re.findall(
        r"""\burl:\s*['"]([^'"]+)['"]""", " ".join(references.scripts)
    )
    assert "/api/openapi.json" in urls
    assert {Path(urlsplit(u).path).suffix for u in urls} >= {".js", ".css", ".png", ".json"}
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("", "") and url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        expected = ASSET_TYPES[Path(parts.path).suffix]
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert asset.content, url
    bundle = next(u for u in urls if u.endswith(".js"))
    assert "SwaggerUIBundle" in client.get(bundle).text
    # Swagger UI 5 reads OpenAPI 3.1, which FastAPI writes (Swagger UI 4 shows an error).
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.1")
