"""The HAPI 3.3 server over a real processed archive: every status, time form and format."""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import ASGIApp

from socstack.formats.cdf import read_variables
from socstack.hapi.app import create_app
from socstack.mission.model import Mission
from socstack.runtime import Runtime
from socstack.times import format_times, parse_time, parse_time_any
from tests.conftest import explicit_settings

MAG = "demo_mag_l2_1s"
PLS = "demo_pls_l2"
DATASETS = ("demo_mag_l2_1s", "demo_mag_l2_1m", "demo_pls_l2", "demo_sw_l2")
#: The file listing of the field's L2 (the quicklook listings wait for quicklooks).
LISTINGS = ("demo_mag_l2_files",)
# Levels below L2 are the instruments' teams': shown to them, or on an internal server.
INTERNAL = ("demo_mag_l1a", "demo_mag_l1b", "demo_pls_l1a", "demo_pls_l1b")
SPAN = "start=2025-01-01T00:00:00Z&stop=2025-01-01T00:10:00Z"


def client_for(folder: Path, **overrides: object) -> TestClient:
    runtime = Runtime(explicit_settings(folder, **overrides))
    return TestClient(create_app(runtime), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def client(processed_archive: Path) -> Iterator[TestClient]:
    with client_for(processed_archive) as test_client:
        yield test_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Threaded:
    """An ASGI app served by uvicorn in a thread on a loopback port."""

    def __init__(self, app: ASGIApp, port: int, **config: object):
        self.server = uvicorn.Server(
            uvicorn.Config(app, port=port, log_config=None, lifespan="off", **config)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, what: str) -> None:
        """Serve, and return once the server listens."""
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class LiveServer:
    """uvicorn in a thread, for clients that need real HTTP (hapiclient, aborted streams)."""

    def __init__(self, folder: Path, **overrides: object):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.runtime = Runtime(explicit_settings(folder, **overrides))
        self.app = self.build(self.runtime)
        self.served = Threaded(self.app, self.port)

    def build(self, runtime: Runtime) -> ASGIApp:
        """The app served: the HAPI server alone."""
        return create_app(runtime)

    @property
    def hapi(self) -> str:
        return f"{self.base}/hapi"

    def __enter__(self) -> str:
        self.served.start("server")
        return self.hapi

    def __exit__(self, *exc: object) -> None:
        self.served.stop()
        self.runtime.close()


@pytest.fixture(scope="module")
def live(processed_archive: Path) -> Iterator[str]:
    with LiveServer(processed_archive, hapi_include_unreleased=True) as url:
        yield url


def status_of(response: httpx.Response) -> tuple[int, int]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"HAPI", "status"} and body["HAPI"] == "3.3", body
    return response.status_code, body["status"]["code"]


# -- metadata ---------------------------------------------------------------------------------


def test_catalog_lists_every_public_dataset(client: TestClient) -> None:
    body = client.get("/hapi/catalog").json()
    assert [e["id"] for e in body["catalog"]] == [*DATASETS, *LISTINGS]
    assert all(len(e["title"]) <= 40 for e in body["catalog"])
    deep = client.get("/hapi/catalog?depth=all").json()
    for entry in deep["catalog"]:
        info = client.get(f"/hapi/info?dataset={entry['id']}").json()
        assert entry["info"] == {k: v for k, v in info.items() if k not in ("HAPI", "status")}


def test_info_describes_the_archive(client: TestClient) -> None:
    info = client.get(f"/hapi/info?dataset={PLS}").json()
    assert (info["startDate"], info["stopDate"]) == ("2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z")
    assert info["cadence"] == "PT4S"
    assert info["maxRequestDuration"] == "P366D"
    assert info["parameters"][0] == {
        "name": "Time",
        "type": "isotime",
        "units": "UTC",
        "fill": None,
        "length": 24,
        "description": "Start of the sample interval",
    }
    eflux = next(p for p in info["parameters"] if p["name"] == "eflux")
    assert (
        eflux["size"] == [32]
        and eflux["units"] == "eV/(cm^2 s sr eV)"
        and eflux["fill"] == "-1e+31"
    )
    bins = eflux["bins"][0]
    assert len(bins["centers"]) == 32 and len(bins["ranges"]) == 32
    assert 9.9 < bins["centers"][0] < 10.1 and bins["ranges"][0][0] < 10 < bins["ranges"][0][1]
    quality = next(p for p in info["parameters"] if p["name"] == "quality")
    assert (quality["type"], quality["fill"]) == ("integer", "-2147483648")
    velocity = next(p for p in info["parameters"] if p["name"] == "V_GSE")
    assert (
        velocity["vectorComponents"] == ["x", "y", "z"]
        and velocity["coordinateSystemName"] == "GSE"
    )
    assert info["x_socstack"]["product"] == "pls_l2" and info["x_socstack"]["files"] == 2
    assert "rule pls_l2" in info["provenance"]
    assert info["additionalMetadata"]["name"] == "ISTP"
    subset = client.get(f"/hapi/info?dataset={PLS}&parameters=speed").json()
    assert [p["name"] for p in subset["parameters"]] == ["Time", "speed"]
    assert {k: v for k, v in subset.items() if k != "parameters"} == {
        k: v for k, v in info.items() if k != "parameters"
    }


def test_a_dataset_names_its_summary_for_long_plots(client: TestClient) -> None:
    info = client.get(f"/hapi/info?dataset={MAG}").json()
    assert info["x_socstack"]["summary"] == {
        "dataset": "demo_mag_l2_1m",
        "cadence": "PT1M",
        "parameters": {
            "B_GSE": {"min": "B_GSE_min", "max": "B_GSE_max"},
            "B_mag": {"min": "B_mag_min", "max": "B_mag_max"},
        },
    }
    for other in ("demo_mag_l2_1m", PLS):
        assert "summary" not in client.get(f"/hapi/info?dataset={other}").json()["x_socstack"]


def test_about_capabilities_and_landing(client: TestClient) -> None:
    assert client.get("/hapi/capabilities").json()["outputFormats"] == ["csv", "binary", "json"]
    about = client.get("/hapi/about").json()
    assert about["HAPI"] == "3.3" and about["id"] == "socstack"
    assert "contactID" not in about and "serverCitation" not in about  # none given
    # dataTest: a request anyone can make, which answers with records
    query = about["dataTest"]["query"]
    assert set(query) == {"dataset", "start", "stop", "parameters"}
    test = client.get("/hapi/data", params=query)
    assert test.status_code == 200 and len(test.text.splitlines()) > 0, test.text
    page = client.get("/hapi")
    assert page.headers["content-type"].startswith("text/html")
    for dataset in DATASETS:
        assert f"<code>{dataset}</code>" in page.text


# -- statuses ---------------------------------------------------------------------------------

STATUS_CASES = [
    ("/hapi/nothing", 400, 1400),
    ("/hapi/x_custom", 400, 1400),
    (f"/hapi/data?{SPAN}", 400, 1400),
    (f"/hapi/data?dataset={MAG}&stop=2025-01-02", 400, 1400),
    (f"/hapi/data?dataset={MAG}&start=2025-01-01", 400, 1400),
    (f"/hapi/data?dataset={MAG}&id={MAG}&{SPAN}", 400, 1400),
    (f"/hapi/info?dataset={MAG}&dataset={MAG}", 400, 1400),
    (f"/hapi/info?dataset={MAG}&color=red", 400, 1401),
    ("/hapi/capabilities?x=1", 400, 1401),
    ("/hapi/catalog?dataset=x", 400, 1401),
    (f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-02&time=1", 400, 1401),
    (f"/hapi/data?dataset={MAG}&start=yesterday&stop=2025-01-02", 400, 1402),
    (f"/hapi/data?dataset={MAG}&start=2025-02-30&stop=2025-03-02", 400, 1402),
    (f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-01T25:00", 400, 1403),
    (f"/hapi/data?dataset={MAG}&start=2025-01-02&stop=2025-01-02", 400, 1404),
    (f"/hapi/data?dataset={MAG}&start=2025-01-02&stop=2025-01-01", 400, 1404),
    (f"/hapi/data?dataset={MAG}&start=2024-12-31&stop=2025-01-02", 400, 1405),
    (f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-04", 400, 1405),
    # valid times beyond 64-bit nanoseconds are outside the coverage, not bad syntax
    (f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2999-01-01Z", 400, 1408),
    (f"/hapi/data?dataset={MAG}&start=2999-01-01Z&stop=2999-01-02Z", 400, 1405),
    (f"/hapi/data?dataset={MAG}&start=1600-001Z&stop=1600-002Z", 400, 1405),
    (f"/hapi/data?dataset={MAG}&start=0000-01-01Z&stop=2025-01-02", 400, 1402),
    (f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2999-02-30Z", 400, 1403),
    # longer than the dataset's maxRequestDuration (P366D), inside or not: 1408
    (f"/hapi/data?dataset={MAG}&start=2024-01-01&stop=2025-01-02", 400, 1408),
    ("/hapi/info?dataset=nothing_here", 404, 1406),
    (f"/hapi/data?dataset=nothing_here&{SPAN}", 404, 1406),
    (f"/hapi/info?dataset={MAG}&parameters=Bz", 404, 1407),
    (f"/hapi/data?dataset={MAG}&parameters=B_GSE,nope&{SPAN}", 404, 1407),
    (f"/hapi/data?dataset={MAG}&{SPAN}&format=xml", 400, 1409),
    (f"/hapi/data?dataset={MAG}&{SPAN}&include=everything", 400, 1410),
    (f"/hapi/data?dataset={MAG}&{SPAN}&parameters=B_mag,B_GSE", 400, 1411),
    (f"/hapi/data?dataset={MAG}&{SPAN}&parameters=B_GSE,B_GSE", 400, 1411),
    (f"/hapi/info?dataset={MAG}&parameters=B_GSE,Time", 400, 1411),
    ("/hapi/catalog?resolve_references=maybe", 400, 1412),
    (f"/hapi/info?dataset={MAG}&resolve_references=1", 400, 1412),
    ("/hapi/catalog?depth=deep", 400, 1413),
]


@pytest.mark.parametrize(
    ("url", "http", "code"), STATUS_CASES, ids=[f"{c[2]}-{c[0][6:40]}" for c in STATUS_CASES]
)
def test_status_codes(client: TestClient, url: str, http: int, code: int) -> None:
    response = client.get(url)
    assert status_of(response) == (http, code)
    message = response.json()["status"]["message"]
    assert message.startswith(f"HAPI error {code}: ")
    assert response.headers["access-control-allow-origin"] == "*"


def test_too_long_a_request_is_1408(processed_archive: Path) -> None:
    from socstack.hapi.source import ArchiveSource

    runtime = Runtime(explicit_settings(processed_archive))
    source = ArchiveSource(runtime)
    dataset = source.dataset(MAG)
    assert dataset is not None
    dataset.config.max_request_duration = "PT1H"
    with TestClient(create_app(runtime, source)) as local:
        response = local.get(f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-01T01:00:01Z")
        assert status_of(response) == (400, 1408)
        assert "PT1H" in response.json()["status"]["message"]
        assert (
            local.get(
                f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-01T01:00:00Z"
            ).status_code
            == 200
        )


def test_messages_never_echo_raw_input(client: TestClient) -> None:
    response = client.get("/hapi/info?dataset=%3Cscript%3Ealert(1)%3C/script%3E")
    assert status_of(response) == (404, 1406)
    assert "<script>" not in response.text
    response = client.get("/hapi/%3Cimg%20src=x%3E")
    assert "<img" not in response.text and response.headers["content-type"] == "application/json"


def test_a_broken_file_is_1500_before_streaming_and_an_abort_after(processed_copy: Path) -> None:
    day2 = next(
        (processed_copy / "archive/demo/mag/l2/2025/01").glob("demo_mag_l2_1s-gse_20250102_*")
    )
    day2.write_bytes(day2.read_bytes()[:5000])
    with client_for(processed_copy) as local:
        response = local.get(f"/hapi/data?dataset={MAG}&start=2025-01-02&stop=2025-01-02T01:00Z")
        assert status_of(response) == (500, 1500)
        assert "Traceback" not in response.text
    with LiveServer(processed_copy) as url, httpx.Client() as http:
        query = f"{url}/data?dataset={MAG}&start=2025-01-01T23:00Z&stop=2025-01-02T01:00Z"
        with http.stream("GET", query) as stream:
            assert stream.status_code == 200, "the first day streams before the second fails"
            with pytest.raises(httpx.HTTPError):
                _drain(stream)


def _drain(stream: httpx.Response) -> int:
    return sum(len(chunk) for chunk in stream.iter_bytes())


# -- times and names --------------------------------------------------------------------------

TIME_FORMS = [
    ("2025-01-01T00:00:00.000Z", "2025-01-01T00:10:00.000Z"),
    ("2025-01-01T00:00:00Z", "2025-01-01T00:10:00Z"),
    ("2025-01-01T00:00:00", "2025-01-01T00:10"),
    ("2025-01-01T00:00Z", "2025-01-01T00:10Z"),
    ("2025-01-01T00Z", "2025-01-01T00:10:00.000000000Z"),
    ("2025-01-01Z", "2025-001T00:10Z"),
    ("2025-01-01", "2025-001T00:10:00.000Z"),
    ("2025Z", "2025-01-01T00:10:00"),
    ("2025-001", "2025-001T00:10"),
    ("2025-01Z", "2025-001T00:10:00.0Z"),
    ("2024-366T24:00:00Z", "2025-01-01T00:10:00Z"),
    ("2024-12-31T24:00:00.000Z", "2025-01-01T00:10:00Z"),
]


@pytest.mark.parametrize(("start", "stop"), TIME_FORMS)
def test_every_time_form_gives_the_same_bytes(client: TestClient, start: str, stop: str) -> None:
    expected = client.get(
        f"/hapi/data?dataset={MAG}&start=2025-01-01T00:00:00Z&stop=2025-01-01T00:10:00Z"
    )
    response = client.get(f"/hapi/data?dataset={MAG}&start={start}&stop={stop}")
    assert response.status_code == 200, response.text
    assert response.content == expected.content
    lines = response.text.splitlines()
    assert len(lines) == 600
    assert lines[0].startswith("2025-01-01T00:00:00.000Z,") and lines[-1].startswith(
        "2025-01-01T00:09:59.000Z,"
    )


def test_nanosecond_bounds_are_start_inclusive_stop_exclusive(client: TestClient) -> None:
    one = client.get(
        f"/hapi/data?dataset={MAG}&start=2025-01-01T00:00:00.999999999Z&stop=2025-01-01T00:00:02.000000001Z"
    )
    assert [line[:24] for line in one.text.splitlines()] == [
        "2025-01-01T00:00:01.000Z",
        "2025-01-01T00:00:02.000Z",
    ]


def test_old_and_new_parameter_names_are_the_same(client: TestClient) -> None:
    new = client.get(
        f"/hapi/data?dataset={PLS}&start=2025-01-01T00:00Z&stop=2025-01-01T00:05Z&parameters=speed"
    )
    old = client.get(
        f"/hapi/data?id={PLS}&time.min=2025-01-01T00:00Z&time.max=2025-01-01T00:05Z&parameters=speed"
    )
    assert new.status_code == old.status_code == 200
    assert new.content == old.content and len(new.text.splitlines()) == 75
    assert (
        client.get(f"/hapi/info?id={PLS}").json() == client.get(f"/hapi/info?dataset={PLS}").json()
    )


def test_parameters_select_columns_in_order(client: TestClient) -> None:
    every = client.get(f"/hapi/data?dataset={MAG}&{SPAN}").text.splitlines()
    empty = client.get(f"/hapi/data?dataset={MAG}&{SPAN}&parameters=").text.splitlines()
    assert every == empty and len(every[0].split(",")) == 5
    only_b = client.get(f"/hapi/data?dataset={MAG}&{SPAN}&parameters=Time,B_GSE").text.splitlines()
    assert [row.split(",")[:4] for row in every] == [row.split(",") for row in only_b]
    only_time = client.get(f"/hapi/data?dataset={MAG}&{SPAN}&parameters=Time").text.splitlines()
    assert only_time == [row.split(",")[0] for row in every]


# -- formats ----------------------------------------------------------------------------------


def _archived(folder: Path, product: str, variables: list[str]) -> dict[str, np.ndarray]:
    spec = _mission().products[product]
    name = f"demo_{spec.instrument}_{spec.level}_{spec.descriptor}_*.cdf"
    files = sorted((folder / "archive/demo").glob(f"*/*/2025/01/{name}"))
    parts = [read_variables(f, ["epoch", *variables]) for f in files]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def test_binary_and_csv_carry_the_same_values(client: TestClient, processed_archive: Path) -> None:
    url = f"/hapi/data?dataset={PLS}&start=2025-01-01T23:00Z&stop=2025-01-02T01:00Z"
    csv_rows = client.get(url).text.splitlines()
    binary = client.get(url + "&format=binary")
    assert binary.headers["content-type"] == "application/octet-stream"
    record = np.dtype(
        [
            ("t", "S24"),
            ("n", "<f8"),
            ("v", "<f8", (3,)),
            ("s", "<f8"),
            ("T", "<f8"),
            ("e", "<f8", (32,)),
            ("q", "<i4"),
        ]
    )
    decoded = np.frombuffer(binary.content, dtype=record)
    assert len(decoded) == len(csv_rows) == 1800
    for row, rec in zip(csv_rows[::97], decoded[::97], strict=True):
        fields = row.split(",")
        assert fields[0] == rec["t"].decode()
        values = [rec["n"], *rec["v"], rec["s"], rec["T"], *rec["e"]]
        assert [float(x) for x in fields[1:-1]] == values, (
            "csv prints doubles that read back exactly"
        )
        assert int(fields[-1]) == rec["q"]
    truth = _archived(processed_archive, "pls_l2", ["eflux", "density"])
    mask = (truth["epoch"] >= np.datetime64("2025-01-01T23:00")) & (
        truth["epoch"] < np.datetime64("2025-01-02T01:00")
    )
    assert np.array_equal(decoded["e"], truth["eflux"][mask])
    assert np.array_equal(decoded["t"], format_times(truth["epoch"][mask].astype(np.int64), 3))


def test_json_nests_arrays_and_carries_the_header(client: TestClient) -> None:
    body = client.get(
        f"/hapi/data?dataset={PLS}&start=2025-01-01T00:00Z&stop=2025-01-01T00:00:08Z&format=json"
    ).json()
    assert body["format"] == "json" and body["status"]["code"] == 1200
    assert [p["name"] for p in body["parameters"]][:2] == ["Time", "density"]
    first = body["data"][0]
    assert first[0] == "2025-01-01T00:00:00.000Z"
    assert (
        isinstance(first[1], float)
        and len(first[2]) == 3
        and len(first[5]) == 32
        and isinstance(first[6], int)
    )
    assert len(body["data"]) == 2


def test_include_header(client: TestClient) -> None:
    text = client.get(f"/hapi/data?dataset={MAG}&{SPAN}&include=header").text
    header = "".join(line[1:] + "\n" for line in text.splitlines() if line.startswith("#"))
    document = json.loads(header)
    info = client.get(f"/hapi/info?dataset={MAG}").json()
    assert document.pop("format") == "csv"
    assert document == info
    data = [line for line in text.splitlines() if not line.startswith("#")]
    assert data == client.get(f"/hapi/data?dataset={MAG}&{SPAN}").text.splitlines()


@pytest.mark.parametrize("fmt", ["csv", "binary", "json"])
def test_no_data_is_http_200_status_1201(client: TestClient, fmt: str) -> None:
    url = f"/hapi/data?dataset={MAG}&start=2025-01-01T00:00:00.001Z&stop=2025-01-01T00:00:00.003Z&format={fmt}"
    response = client.get(url)
    assert response.status_code == 200
    if fmt == "json":
        body = response.json()
        assert body["status"]["code"] == 1201 and body["data"] == []
    else:
        assert response.content == b""
        header = client.get(url + "&include=header").text
        assert (
            json.loads("".join(line[1:] for line in header.splitlines()))["status"]["code"] == 1201
        )


# -- HTTP behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/hapi",
        "/hapi/about",
        "/hapi/capabilities",
        "/hapi/catalog",
        f"/hapi/info?dataset={MAG}",
        f"/hapi/data?dataset={MAG}&{SPAN}",
        f"/hapi/data?dataset={MAG}&{SPAN}&format=binary&include=header",
        f"/hapi/data?dataset={MAG}&start=2025-01-01T00:00:00.5Z&stop=2025-01-01T00:00:00.6Z",
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "identity"])
def test_head_answers_like_get_without_a_body(client: TestClient, path: str, encoding: str) -> None:
    asked = {"Accept-Encoding": encoding}
    get, head = client.get(path, headers=asked), client.head(path, headers=asked)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    # every header GET sends, as GET sends it: a document's length, a stream's none
    assert dict(head.headers) == dict(get.headers)
    assert head.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/hapi/", "/hapi"),
        ("/hapi/catalog/", "/hapi/catalog"),
        (f"/hapi/info/?dataset={MAG}", f"/hapi/info?dataset={MAG}"),
    ],
)
def test_trailing_slash_redirects_permanently(client: TestClient, path: str, target: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 301
    assert response.headers["location"].endswith(target)


@pytest.mark.parametrize(
    "path",
    [
        "/hapi/about",
        "/hapi/capabilities",
        "/hapi/catalog",
        f"/hapi/info?dataset={MAG}",
        f"/hapi/data?dataset={MAG}&{SPAN}",
    ],
)
def test_if_modified_since(client: TestClient, path: str) -> None:
    first = client.get(path)
    modified = first.headers["last-modified"]
    assert email.utils.parsedate_to_datetime(modified) <= dt.datetime.now(dt.UTC)
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    earlier = email.utils.format_datetime(
        email.utils.parsedate_to_datetime(modified) - dt.timedelta(seconds=1), usegmt=True
    )
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def test_gzip_when_asked(client: TestClient) -> None:
    plain = client.get(f"/hapi/data?dataset={MAG}&{SPAN}", headers={"Accept-Encoding": "identity"})
    zipped = client.get(f"/hapi/data?dataset={MAG}&{SPAN}", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == plain.content  # httpx decompresses
    raw = client.get(f"/hapi/info?dataset={MAG}", headers={"Accept-Encoding": "gzip"})
    assert raw.headers.get("content-encoding") == "gzip"
    assert gzip.compress(b"x")[:2] == b"\x1f\x8b"


def test_cors_everywhere(client: TestClient) -> None:
    for path in (
        "/hapi",
        "/hapi/catalog",
        "/hapi/info?dataset=x",
        f"/hapi/data?dataset={MAG}&{SPAN}",
        "/hapi/nothing",
    ):
        response = client.get(path)
        assert response.headers["access-control-allow-origin"] == "*", path
        assert "GET" in response.headers["access-control-allow-methods"]


# -- the archive behind it --------------------------------------------------------------------


def test_only_the_newest_version_of_a_day_is_served(processed_copy: Path) -> None:
    import xarray as xr

    from socstack.catalog.models import FileSource
    from socstack.formats.cdf import write_cdf

    runtime = Runtime(explicit_settings(processed_copy))
    original = next(
        (processed_copy / "archive/demo/mag/l2/2025/01").glob("demo_mag_l2_1s-gse_20250102_*")
    )
    values = read_variables(original, ["epoch", "b_gse", "b_mag"])
    shifted = xr.Dataset(
        {
            "b_gse": (("epoch", "axis"), values["b_gse"] + 1000.0),
            "b_mag": (("epoch",), values["b_mag"]),
        },
        coords={"epoch": values["epoch"]},
    )
    newer = processed_copy / "demo_mag_l2_1s-gse_20250102_v1.0.1.cdf"
    write_cdf(shifted, newer)
    assert runtime.ingestor.ingest(newer, source=FileSource.CLI).outcome.value == "archived"
    with TestClient(create_app(runtime)) as local:
        rows = local.get(
            f"/hapi/data?dataset={MAG}&start=2025-01-01T23:59:58Z&stop=2025-01-02T00:00:02Z&parameters=B_GSE"
        ).text.splitlines()
    x = [float(r.split(",")[1]) for r in rows]
    assert abs(x[0]) < 100 and abs(x[1]) < 100, "day 1 untouched"
    assert x[2] > 900 and x[3] > 900, "day 2 from v1.0.1 only"


def test_coverage_follows_new_files(processed_copy: Path, demo_files: Path) -> None:
    runtime = Runtime(explicit_settings(processed_copy))
    with TestClient(create_app(runtime)) as local:
        before = local.get(f"/hapi/info?dataset={MAG}").json()
        from socstack.mission import load_callable

        mission = runtime.missions.mission("demo")
        simulate = load_callable(mission, mission.simulator or "", field="simulator")
        from socstack.catalog.models import FileSource
        from socstack.pipeline.runner import run_rule

        for path in simulate(dt.date(2025, 1, 3), 1, processed_copy / "new", mission=mission):
            runtime.ingestor.ingest(path, source=FileSource.CLI)
        for rule in ("mag_l1a", "mag_l1b", "mag_l2"):
            run_rule(runtime, mission, mission.rules[rule], dt.date(2025, 1, 3))
        after = local.get(f"/hapi/info?dataset={MAG}").json()
    assert (
        before["stopDate"] == "2025-01-03T00:00:00Z" and after["stopDate"] == "2025-01-04T00:00:00Z"
    )
    assert after["modificationDate"] >= before["modificationDate"]


def test_private_levels_are_hidden(processed_archive: Path) -> None:
    with client_for(processed_archive) as default:
        ids = [e["id"] for e in default.get("/hapi/catalog").json()["catalog"]]
        assert not set(INTERNAL) & set(ids)
        assert status_of(default.get("/hapi/info?dataset=demo_mag_l1a")) == (404, 1406)
    with client_for(processed_archive, hapi_include_unreleased=True) as internal:
        ids = [e["id"] for e in internal.get("/hapi/catalog").json()["catalog"]]
        assert set(INTERNAL) <= set(ids)
    runtime = Runtime(explicit_settings(processed_archive))
    runtime.missions.mission("demo").release.public_levels = ["l2"]
    with TestClient(create_app(runtime)) as local:
        ids = [e["id"] for e in local.get("/hapi/catalog").json()["catalog"]]
        assert "demo_mag_l1b" not in ids and MAG in ids
        assert status_of(local.get("/hapi/info?dataset=demo_mag_l1b")) == (404, 1406)
    shown = Runtime(explicit_settings(processed_archive, hapi_include_unreleased=True))
    shown.missions.mission("demo").release.public_levels = ["l2"]
    with TestClient(create_app(shown)) as local:
        assert "demo_mag_l1b" in [e["id"] for e in local.get("/hapi/catalog").json()["catalog"]]


# -- the public client -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "binary"])
@pytest.mark.parametrize("dataset", DATASETS + INTERNAL)
def test_hapiclient_reads_every_parameter_as_archived(
    live: str, processed_archive: Path, dataset: str, fmt: str
) -> None:
    from hapiclient import hapi

    options = {"format": fmt, "usecache": False, "cache": False, "logging": False}
    data, meta = hapi(live, dataset, "", "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z", **options)
    info = httpx.get(f"{live}/info?dataset={dataset}").json()
    product = info["x_socstack"]["product"]
    variables = {p.name: p.variable for p in _dataset_parameters(dataset)}
    truth = _archived(processed_archive, product, list(variables.values()))
    assert len(data) == len(truth["epoch"])
    assert np.array_equal(data["Time"], format_times(truth["epoch"].astype(np.int64), 3))
    for name, variable in variables.items():
        expected = truth[variable]
        got = data[name]
        assert got.shape == expected.shape, name
        assert np.array_equal(got, expected.astype(got.dtype)), f"{dataset}.{name} ({fmt})"
    assert [p["name"] for p in meta["parameters"]] == ["Time", *variables]


def _mission() -> Mission:
    from socstack.mission import load_missions
    from tests.conftest import DEMO_MISSION

    return load_missions([DEMO_MISSION]).mission("demo")


def _dataset_parameters(dataset: str):
    return _mission().datasets[dataset].parameters


def test_time_parsing_table() -> None:
    def ns(text: str) -> int:
        return int(np.datetime64(text, "ns").astype(np.int64))

    assert parse_time("2025-03-04T05:06:07.123456789Z") == ns("2025-03-04T05:06:07.123456789")
    assert parse_time("2025-063T05:06:07.1Z") == ns("2025-03-04T05:06:07.1")
    assert parse_time("2024-060") == ns("2024-02-29")
    # beyond 64-bit nanoseconds: refused by parse_time, exact in parse_time_any
    for text in ("2999-01-01Z", "1600-001T12:00Z", "0001-01-01", "9999-12-31T23:59:59.999999999Z"):
        with pytest.raises(ValueError, match=r"1678\.\.2261"):
            parse_time(text)
    day = 86_400 * 10**9
    assert parse_time_any("2999-01-01Z") == (dt.date(2999, 1, 1) - dt.date(1970, 1, 1)).days * day
    assert parse_time_any("1600-061T12Z") == (
        (dt.date(1600, 3, 1) - dt.date(1970, 1, 1)).days * day + 12 * 3600 * 10**9
    )
    for text in ("1678-01-01", "2261-12-31T23:59:59.999999999Z", "2025-063T05:06:07.1Z"):
        assert parse_time_any(text) == parse_time(text)
    with pytest.raises(ValueError, match=r"1678\.\.2261"):
        parse_time("2261-12-31T24:00Z")  # the first instant of 2262
    for bad, says in (("0000-01-01", "year 0000"), ("2999-02-29", "day 29"), ("1900-366", "366")):
        with pytest.raises(ValueError, match=says):
            parse_time_any(bad)


def test_an_unexpected_error_is_1500_with_cors(
    processed_archive: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from socstack.hapi.source import ArchiveSource

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(ArchiveSource, "records", broken)
    with client_for(processed_archive) as local:
        response = local.get(f"/hapi/data?dataset={MAG}&start=2025-01-01&stop=2025-01-01T01:00Z")
    assert status_of(response) == (500, 1500)
    assert response.headers["access-control-allow-origin"] == "*"
    assert "a defect" not in response.text and "Traceback" not in response.text
    assert any("a defect" in (r.exc_text or "") for r in caplog.records), "logged, with why"


def test_about_says_whose_server_it_is(processed_archive: Path) -> None:
    given = {
        "hapi_id": "mymission-soc",
        "hapi_title": "MyMission science data center",
        "hapi_contact": "soc@mymission.example",
        "hapi_contact_id": "https://orcid.org/0000-0002-1825-0097",
        "hapi_server_citation": "MyMission SOC (2026), doi:10.5281/zenodo.0000000",
    }
    with client_for(processed_archive, **given) as local:
        about = local.get("/hapi/about").json()
    assert about["id"] == "mymission-soc" and about["title"] == given["hapi_title"]
    assert about["contact"] == given["hapi_contact"]
    assert about["contactID"] == given["hapi_contact_id"]
    assert about["serverCitation"] == given["hapi_server_citation"]


def _edited_demo(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    from tests.unit.test_mission_detectors import _mission_with

    return _mission_with(tmp_path, edit)


def test_info_carries_the_datasets_citation_license_and_time_stamps(
    processed_archive: Path, tmp_path: Path
) -> None:
    given = {
        "contact_id": "https://orcid.org/0000-0002-1825-0097",
        "dataset_citation": "Demo team (2026), the demo magnetometer, doi:10.0000/demo",
        "license_url": "https://creativecommons.org/licenses/by/4.0/",
        "resource_id": "spase://Demo/NumericalData/MAG/PT1S",
        "creation_date": "2025-01-03T00:00:00Z",
        "note": ["Calibrated with the 2025-01 offsets."],
        "warning": ["Spin-tone residuals near 0.05 Hz."],
        "units_schema": "udunits2",
        "coordinate_system_schema": "spase2.4.1",
        "time_stamp_location": "center",
    }

    def edit(config: dict[str, Any]) -> None:
        config["datasets"][MAG].update(given)
        config["datasets"][PLS]["time_description"] = "Start of the 4 s sweep"
        # bins given by their ranges alone: HAPI's centers null
        eflux = next(p for p in config["datasets"][PLS]["parameters"] if p["name"] == "eflux")
        eflux["bins"][0].pop("centers_variable")

    folder = _edited_demo(tmp_path, edit)
    with client_for(processed_archive, missions=[folder]) as local:
        mag = local.get(f"/hapi/info?dataset={MAG}").json()
        pls = local.get(f"/hapi/info?dataset={PLS}").json()
    hapi_names = {
        "contact_id": "contactID",
        "dataset_citation": "datasetCitation",
        "license_url": "licenseURL",
        "resource_id": "resourceID",
        "creation_date": "creationDate",
        "note": "note",
        "warning": "warning",
        "units_schema": "unitsSchema",
        "coordinate_system_schema": "coordinateSystemSchema",
        "time_stamp_location": "timeStampLocation",
    }
    assert {hapi_names[k]: mag[hapi_names[k]] for k in given} == {
        hapi_names[k]: v for k, v in given.items()
    }
    assert mag["parameters"][0]["description"] == "Middle of the sample interval"
    assert pls["timeStampLocation"] == "begin" and "datasetCitation" not in pls
    assert pls["parameters"][0]["description"] == "Start of the 4 s sweep"
    eflux = next(p for p in pls["parameters"] if p["name"] == "eflux")
    assert eflux["bins"][0]["centers"] is None and len(eflux["bins"][0]["ranges"]) > 0


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (lambda d: d[MAG]["parameters"][0].update(units=["nT", "nT"]), "units has 2 values"),
        (lambda d: d[MAG]["parameters"][0].update(label=["x", "y"]), "label has 2 values"),
        (lambda d: d[MAG].update(creation_date="last week"), "not a HAPI time"),
        (lambda d: d[MAG].update(time_stamp_location="middle"), "'begin', 'center'"),
    ],
)
def test_a_datasets_metadata_mistake_fails_at_load(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], says: str
) -> None:
    from socstack._exceptions import ConfigError
    from socstack.mission import load_mission

    folder = _edited_demo(tmp_path, lambda config: edit(config["datasets"]))
    with pytest.raises(ConfigError, match=says):
        load_mission(folder)
