"""Random query strings at every HAPI endpoint: never a 5xx, always a HAPI error body."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socstack.hapi.app import create_app
from socstack.runtime import Runtime
from tests.conftest import explicit_settings

ENDPOINTS = ["", "/about", "/capabilities", "/catalog", "/info", "/data", "/x_other", "/info/"]
KEYS = [
    "dataset",
    "id",
    "start",
    "stop",
    "time.min",
    "time.max",
    "parameters",
    "format",
    "include",
    "depth",
    "resolve_references",
]
VALUES = [
    "demo_mag_l2_1s",
    "demo_pls_l2",
    "demo_sw_l2",
    "2025-01-01T00:00:00Z",
    "2025-01-01T00:05Z",
    "2025-001",
    "2025-002T00:00:00.5",
    "2024-366T24:00:00Z",
    "csv",
    "binary",
    "json",
    "header",
    "all",
    "dataset",
    "true",
    "false",
    "B_GSE",
    "B_GSE,B_mag",
    "Time",
    "eflux,quality",
    "",
]


@pytest.fixture(scope="module")
def client(processed_archive: Path) -> Iterator[TestClient]:
    with TestClient(
        create_app(Runtime(explicit_settings(processed_archive))), raise_server_exceptions=False
    ) as test:
        yield test


queries = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(KEYS), st.text(max_size=12)),
        st.one_of(st.sampled_from(VALUES), st.text(max_size=40)),
    ),
    max_size=7,
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(endpoint=st.sampled_from(ENDPOINTS), query=queries, method=st.sampled_from(["GET", "HEAD"]))
def test_random_queries_never_fail_the_server(
    client: TestClient, endpoint: str, query: list[tuple[str, str]], method: str
) -> None:
    url = "/hapi" + endpoint + ("?" + urlencode(query) if query else "")
    response = client.request(method, url, follow_redirects=False)
    assert response.status_code < 500, (url, response.text[:300])
    if 400 <= response.status_code < 500 and method == "GET":
        body = response.json()
        assert body["HAPI"] == "3.3" and body["status"]["code"] in range(1400, 1414)
