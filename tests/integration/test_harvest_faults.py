"""Harvest from peers that misbehave, on loopback: none of them corrupts the archive.

A proxy in front of a real peer (a second socstack) passes requests through, except
what the test tells it to break: a 500 for one day, a response cut off mid-way, a stall,
a units change in the info between passes, an extra column in the data, a coverage
that claims days the peer has no data for, a 429 with Retry-After. Each fault ends as
its day's status and reason; a later pass with the peer healed fetches only what is
missing.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from socstack.api.app import create_app as create_api_app
from socstack.catalog.harvests import HarvestDay
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import File, FileStatus
from socstack.harvest.harvester import HarvestReport, harvest, harvested_products
from socstack.runtime import Runtime
from tests.conftest import explicit_settings
from tests.integration.people import bearer, person
from tests.integration.test_hapi import LiveServer, Threaded, free_port
from tests.integration.test_harvest import PEERTEST

Fault = Callable[[Request, httpx.Response], Response | None]


@dataclass
class Proxy:
    """A HAPI peer in front of ``target`` that breaks what ``faults`` say."""

    target: str
    faults: list[Fault] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hapi"
        self.served = Threaded(self.app, self.port, interface="asgi3")
        self.http = httpx.AsyncClient(timeout=60)

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        self.seen.append(f"{request.url.path}?{request.url.query}")
        upstream = await self.http.get(
            self.target + request.url.path.removeprefix("/hapi"),
            params=list(request.query_params.multi_items()),
            headers={"Accept-Encoding": "identity"},
        )
        for fault in self.faults:
            broken = fault(request, upstream)
            if broken is not None:
                await broken(scope, receive, send)
                return
        keep = {"content-type": upstream.headers.get("content-type", "text/plain")}
        await Response(upstream.content, upstream.status_code, keep)(scope, receive, send)

    def __enter__(self) -> Proxy:
        self.served.start("proxy")
        return self

    def __exit__(self, *exc: object) -> None:
        self.served.stop()


def _day_of(request: Request) -> str:
    return request.query_params.get("start", "")[:10]


@pytest.fixture(scope="module")
def peer_url(processed_archive: Path) -> Iterator[str]:
    running = LiveServer(processed_archive)
    with running as url:
        yield url


@pytest.fixture
def proxy(peer_url: str) -> Iterator[Proxy]:
    with Proxy(peer_url) as running:
        yield running


@pytest.fixture
def ours(proxy: Proxy, tmp_path: Path) -> Iterator[Runtime]:
    settings = explicit_settings(
        tmp_path / "ours", missions=[PEERTEST], peers={"demo_soc": proxy.url}
    )
    runtime = Runtime(settings)
    upgrade(runtime.catalog)
    yield runtime
    runtime.close()


def _pass(runtime: Runtime) -> HarvestReport:
    [(mission, product)] = harvested_products(runtime)
    return harvest(runtime, mission, product)


def _days(runtime: Runtime) -> dict[str, HarvestDay]:
    with runtime.catalog.session() as session:
        return {d.partition: d for d in session.scalars(select(HarvestDay))}


def _archived(runtime: Runtime) -> dict[str, str]:
    with runtime.catalog.session() as session:
        rows = session.scalars(
            select(File).where((File.product == "mag") & (File.status == FileStatus.ARCHIVED))
        )
        return {f.partition: f.name for f in rows}


def _data_for(day: str) -> Callable[[Request], bool]:
    return lambda r: r.url.path.endswith("/data") and _day_of(r) == day


def test_a_500_mid_history_fails_that_day_and_the_next_pass_fetches_it(
    proxy: Proxy, ours: Runtime
) -> None:
    broken = _data_for("2025-01-02")
    proxy.faults.append(lambda r, _: Response("oops", 500) if broken(r) else None)
    first = _pass(ours)
    assert first.archived == ["2025-01-01"], first
    assert "HTTP 500" in first.failed["2025-01-02"]
    assert _days(ours)["2025-01-02"].status == "failed"
    assert set(_archived(ours)) == {"2025-01-01"}
    # What failed, and why, is in the API for the mission's team and the operators.
    token = person(ours, "ops", ["operators"], ["read"])
    with TestClient(create_api_app(ours)) as api:
        assert api.get("/api/harvest").status_code == 401
        [shown] = api.get("/api/harvest", headers=bearer(token)).json()["sources"]
    assert (shown["product"], shown["peer"], shown["url"]) == ("mag", "demo_soc", proxy.url)
    assert shown["days"] == {"archived": 1, "failed": 1}
    assert shown["failed"][0]["day"] == "2025-01-02" and "HTTP 500" in shown["failed"][0]["error"]
    tries = [s for s in proxy.seen if "/data" in s and "start=2025-01-02" in s]
    assert len(tries) == 3, "the first try and the mission's two retries"
    proxy.faults.clear()
    proxy.seen.clear()
    healed = _pass(ours)
    assert healed.archived == ["2025-01-02"] and healed.skipped == 1, healed
    assert [s for s in proxy.seen if "/data" in s] == [
        s for s in proxy.seen if "/data" in s and "start=2025-01-02" in s
    ]


def test_a_response_cut_off_or_with_an_extra_column_archives_nothing(
    proxy: Proxy, ours: Runtime
) -> None:
    def cut(request: Request, upstream: httpx.Response) -> Response | None:
        if not _data_for("2025-01-01")(request):
            return None

        async def body() -> Any:
            yield upstream.content[: len(upstream.content) // 2]
            raise RuntimeError("the peer went away")

        return StreamingResponse(body(), media_type="application/octet-stream")

    def extra_column(request: Request, upstream: httpx.Response) -> Response | None:
        if not _data_for("2025-01-02")(request):
            return None
        # binary is asked for: its records do not fit the info once a column is added
        return Response(upstream.content + upstream.content[:7], media_type="text/csv")

    proxy.faults += [cut, extra_column]
    report = _pass(ours)
    assert report.archived == [], report
    assert "broke off" in report.failed["2025-01-01"]
    assert "does not match the dataset's info" in report.failed["2025-01-02"]
    assert _archived(ours) == {}


def test_a_stall_is_a_time_out_and_a_429_is_waited_out(proxy: Proxy, ours: Runtime) -> None:
    [(_, product)] = harvested_products(ours)
    assert product.harvest is not None
    product.harvest.timeout = 2.0  # a stall is found in seconds, not the mission's 10
    stalls = {"left": 3}  # longer than the first try and both retries

    def stall(request: Request, upstream: httpx.Response) -> Response | None:
        if not _data_for("2025-01-01")(request) or stalls["left"] == 0:
            return None
        stalls["left"] -= 1

        async def body() -> Any:
            yield upstream.content[:100]
            await asyncio.sleep(5)  # the timeout here is 2 s
            yield upstream.content[100:]

        return StreamingResponse(body(), media_type="application/octet-stream")

    asked = {"once": True}

    def busy(request: Request, _: httpx.Response) -> Response | None:
        if _data_for("2025-01-02")(request) and asked["once"]:
            asked["once"] = False
            return Response("slow down", 429, {"Retry-After": "1"})
        return None

    proxy.faults += [stall, busy]
    started = time.monotonic()
    report = _pass(ours)
    assert (
        "did not answer" in report.failed["2025-01-01"]
        or "broke off" in report.failed["2025-01-01"]
    ), report.failed
    assert report.archived == ["2025-01-02"], report  # after waiting the second it asked
    assert time.monotonic() - started >= 1.0
    assert _days(ours)["2025-01-01"].status == "failed"


def test_a_changed_info_is_a_new_interface_and_a_lying_coverage_empty_days(
    proxy: Proxy, ours: Runtime
) -> None:
    first = _pass(ours)
    assert first.archived == ["2025-01-01", "2025-01-02"] and first.interface == 1

    def units_and_coverage(request: Request, upstream: httpx.Response) -> Response | None:
        path = request.url.path
        if path.endswith("/info"):
            info = upstream.json()
            info["stopDate"] = "2025-01-04T00:00:00Z"  # a day it has no data for
            info["modificationDate"] = "2026-12-03T00:00:00Z"
            for p in info["parameters"]:
                if p["name"] == "B_mag":
                    p["units"] = "gauss"
            return Response(json.dumps(info), media_type="application/json")
        if path.endswith("/data") and _day_of(request) == "2025-01-03":
            return Response(b"", media_type="application/octet-stream")
        return None

    proxy.faults.append(units_and_coverage)
    second = _pass(ours)
    assert second.interface == 2, second
    assert second.archived == ["2025-01-01", "2025-01-02"] and second.empty == ["2025-01-03"]
    names = _archived(ours)
    assert set(names) == {"2025-01-01", "2025-01-02"}
    assert all(n.endswith("_v2.0.0.cdf") for n in names.values()), names
    assert _days(ours)["2025-01-03"].status == "empty"
