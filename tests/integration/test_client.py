"""socstack.client on both transports: the same Datasets, through the same access rule.

The HAPI transport reads a real uvicorn server on loopback; the direct transport reads
the same archive through its catalog. Every demo dataset must come out identical.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from sqlalchemy import update

from socstack.catalog.accounts import Token
from socstack.client import Client, ClientError
from socstack.runtime import Runtime
from tests.conftest import explicit_settings
from tests.integration.test_hapi import LiveServer
from tests.integration.test_hapi_access import (  # noqa: F401 (_noon_clock: autouse here too)
    EMBARGOED,
    RELEASED,
    _noon_clock,
    boundary,
    person,
    set_policy,
)

DATASETS = (
    "demo_mag_l2_1s",
    "demo_mag_l2_1m",
    "demo_mag_l1b",
    "demo_pls_l2",
    "demo_pls_l1b",
    "demo_sw_l2",
    "demo_mag_l1a",
    "demo_pls_l1a",
)
START, STOP = "2025-01-01T00:00:00Z", "2025-01-03T00:00:00Z"


def same(a: xr.Dataset, b: xr.Dataset) -> None:
    """Identical but for the ``server`` attribute, which names each transport's source."""
    assert a.attrs["server"] != b.attrs["server"]
    xr.testing.assert_identical(a.assign_attrs(server=""), b.assign_attrs(server=""))


@pytest.fixture(scope="module")
def everything(processed_archive: Path) -> Iterator[tuple[Client, Client]]:
    """Both transports over the processed demo archive, on a server that shows all."""
    runtime = Runtime(explicit_settings(processed_archive, hapi_include_unreleased=True))
    with LiveServer(processed_archive, hapi_include_unreleased=True) as url:
        direct, hapi = Client(runtime=runtime), Client(url)
        yield direct, hapi
        direct.close()
        hapi.close()
    runtime.close()


@pytest.mark.parametrize("dataset", DATASETS)
def test_direct_and_hapi_give_the_same_dataset(
    everything: tuple[Client, Client], dataset: str
) -> None:
    direct, hapi = everything
    assert (direct.kind, hapi.kind) == ("direct", "hapi")
    a, b = direct.get(dataset, START, STOP), hapi.get(dataset, START, STOP)
    same(a, b)
    assert a.indexes["time"].dtype == np.dtype("datetime64[ns]")
    assert a.sizes["time"] > 1000 and a.indexes["time"].is_monotonic_increasing
    assert a.attrs["dataset"] == dataset and "startDate" in a.attrs
    assert not any(k.startswith("x_") for k in a.attrs)
    info = hapi.info(dataset)
    assert list(a.data_vars) == [p["name"] for p in info["parameters"][1:]]


def test_a_spectrogram_has_its_energy_bins_as_a_coordinate(
    everything: tuple[Client, Client],
) -> None:
    direct, _ = everything
    ds = direct.get("demo_pls_l2", "2025-01-01T06:00Z", "2025-01-01T07:00Z", ["eflux"])
    assert ds["eflux"].dims == ("time", "energy")
    assert ds["energy"].attrs["units"] == "eV" and ds.sizes["energy"] == 32
    assert ds["energy_ranges"].dims == ("energy", "bound")
    assert (np.diff(ds["energy"].values) > 0).all()
    assert ds.sizes["time"] == 900 and list(ds.data_vars) == ["eflux"]


def test_fill_values_are_nan_and_units_are_attributes(everything: tuple[Client, Client]) -> None:
    direct, hapi = everything
    ds = direct.get("demo_mag_l2_1s", START, STOP, ["B_mag"])
    fill = float(hapi.info("demo_mag_l2_1s")["parameters"][2]["fill"])
    assert not (ds["B_mag"].values == fill).any()
    assert np.isnan(ds["B_mag"].values).any(), "the simulation has gaps"
    assert ds["B_mag"].attrs["units"] == "nT" and ds["B_mag"].attrs["label"] == "|B|"


def test_a_day_a_chunk_gives_the_same_values(everything: tuple[Client, Client]) -> None:
    for client in everything:
        whole = client.get("demo_pls_l2", "2025-01-01T12:00Z", STOP)
        lazy = client.get("demo_pls_l2", "2025-01-01T12:00Z", STOP, chunks="1D")
        assert lazy["eflux"].chunks is not None and len(lazy["eflux"].chunks[0]) == 2
        xr.testing.assert_identical(lazy.compute(), whole)


def test_a_window_is_cut_to_the_coverage(everything: tuple[Client, Client]) -> None:
    direct, hapi = everything
    for client in everything:
        ds = client.get("demo_mag_l2_1s", "2024-12-31T23:00Z", "2025-01-01T01:00Z")
        assert ds.sizes["time"] == 3600
        empty = client.get("demo_mag_l2_1s", "2030-01-01", "2030-01-02")
        assert empty.sizes["time"] == 0 and empty["B_GSE"].shape == (0, 3)
    same(
        direct.get("demo_mag_l2_1s", "2030-01-01", "2030-01-02"),
        hapi.get("demo_mag_l2_1s", "2030-01-01", "2030-01-02"),
    )


def test_mistakes_are_one_clear_line(everything: tuple[Client, Client]) -> None:
    for client in everything:
        with pytest.raises(ClientError, match="no_such") as caught:
            client.get("no_such", START, STOP)
        assert "\n" not in str(caught.value)
        with pytest.raises(ClientError, match="has no parameter 'nope'"):
            client.get("demo_mag_l2_1s", START, STOP, ["nope"])
        with pytest.raises(ClientError, match="bad start time 'yesterday'"):
            client.get("demo_mag_l2_1s", "yesterday", STOP)
        with pytest.raises(ClientError, match="must be before stop"):
            client.get("demo_mag_l2_1s", STOP, START)
    with pytest.raises(ClientError, match=r"cannot reach http://127\.0\.0\.1:9/hapi"):
        Client("http://127.0.0.1:9").datasets()


def test_the_catalogs_agree(everything: tuple[Client, Client]) -> None:
    direct, hapi = everything
    assert direct.datasets() == hapi.datasets()
    assert set(DATASETS) <= set(direct.datasets())


# -- access ---------------------------------------------------------------------------------


@pytest.fixture
def guarded(processed_copy: Path) -> Iterator[tuple[Runtime, str]]:
    """The demo archive under the access tests' policy (embargoed field, public plasma)."""
    runtime = Runtime(explicit_settings(processed_copy))
    set_policy(runtime)
    server = LiveServer(processed_copy)
    set_policy(server.runtime)
    with server as url:
        yield runtime, url
    runtime.close()


def test_anonymous_sees_released_data_only_on_either_transport(
    guarded: tuple[Runtime, str],
) -> None:
    runtime, url = guarded
    for client in (Client(runtime=runtime), Client(url)):
        assert EMBARGOED in client.datasets() and "demo_mag_l1b" not in client.datasets()
        released = client.get(RELEASED, START, STOP, ["density"])
        assert released.sizes["time"] > 40_000
        field = client.get(EMBARGOED, START, STOP, ["B_mag"])
        edge = np.datetime64(boundary(), "ns")  # it moves on as the test runs
        assert field.indexes["time"][-1] < edge, "nothing after the embargo's boundary"
        assert field.sizes["time"] > 86_400 / 2
        with pytest.raises(ClientError, match="demo_mag_l1b"):
            client.get("demo_mag_l1b", START, STOP)
        client.close()


def test_a_team_token_sees_its_instruments_embargoed_data(guarded: tuple[Runtime, str]) -> None:
    runtime, url = guarded
    token = person(runtime, "mag")
    edge = np.datetime64(boundary(), "ns")
    direct, hapi = Client(runtime=runtime, token=token), Client(url, token=token)
    a = direct.get(EMBARGOED, START, STOP, ["B_mag"])
    b = hapi.get(EMBARGOED, START, STOP, ["B_mag"])
    assert a.sizes["time"] == 2 * 86_400 and a.indexes["time"][-1] > edge
    xr.testing.assert_identical(a["B_mag"], b["B_mag"])
    assert "demo_mag_l1b" in direct.datasets() and "demo_mag_l1b" in hapi.datasets()
    pls = person(runtime, "pls")
    for client in (Client(runtime=runtime, token=pls), Client(url, token=pls)):
        last = client.get(EMBARGOED, START, STOP, ["B_mag"]).indexes["time"][-1]
        assert last < np.datetime64(boundary(), "ns")


def test_an_expired_or_revoked_token_is_refused_naming_it(guarded: tuple[Runtime, str]) -> None:
    runtime, url = guarded
    accounts = runtime.access.accounts
    accounts.add_user("gone", ["demo", "demo:mag"], actor="test")
    info, revoked = accounts.create_token("gone", ["read"], actor="test")
    accounts.revoke(info.id, actor="test")
    _, expired = accounts.create_token("gone", ["read"], actor="test")
    expired_id = expired.split("_")[1]
    with runtime.catalog.transaction() as session:
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
        session.execute(update(Token).where(Token.id == expired_id).values(expires_at=past))
    for token, reason, token_id in (
        (revoked, "revoked", info.id),
        (expired, "expired", expired_id),
    ):
        with pytest.raises(ClientError, match=reason) as direct:
            Client(runtime=runtime, token=token)
        with pytest.raises(ClientError, match=f"refused token {token_id}") as hapi:
            Client(url, token=token).get(RELEASED, START, STOP)
        for caught in (direct, hapi):
            assert token not in str(caught.value) and caught.value.status == 401
            assert f"token {token_id} (given to Client)" in str(caught.value)


# -- notebook runs ---------------------------------------------------------------------------


def test_reads_are_recorded_in_a_run(
    everything: tuple[Client, Client], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socstack.config import get_settings

    monkeypatch.setenv("SOC_RUN_DIR", str(tmp_path / "run"))
    get_settings.cache_clear()
    direct, hapi = everything
    direct.get("demo_mag_l2_1s", "2025-01-01T23:00Z", "2025-01-02T01:00Z", ["B_mag"])
    hapi.get("demo_pls_l2", "2025-01-01T06:00Z", "2025-01-01T07:00Z", ["density"])
    lines = [json.loads(x) for x in (tmp_path / "run/reads.jsonl").read_text().splitlines()]
    files = [x for x in lines if x["dataset"] == "demo_mag_l2_1s"]
    days = sorted(x["name"].split("_v")[0] for x in files)  # read in threads: any order
    assert days == ["demo_mag_l2_1s-gse_20250101", "demo_mag_l2_1s-gse_20250102"]
    assert all(len(x["sha256"]) == 64 and x["product"] == "mag_l2" for x in files)
    (remote,) = [x for x in lines if x["dataset"] == "demo_pls_l2"]
    assert remote["name"] == "demo_pls_l2" and remote["url"] == hapi.transport.server
    assert remote["start"].startswith("2025-01-01T06:00:00") and "sha256" in remote


# -- another mission's HAPI server: time-varying bins --------------------------------------

POLAR_DAYS = [dt.date(2025, 3, 1) + dt.timedelta(days=n) for n in range(6)]


@pytest.fixture(scope="module")
def polar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Client, Client]]:
    """The polar test mission's analyzer, processed, read directly and over its HAPI URL.

    Its energy table changes on 2025-03-05, and the bins of ``eflux`` name the parameter
    ``energy_centers``: bins that move with time. The HAPI client is given the URL
    ending in ``/hapi``, as for any other server.
    """
    from socstack.catalog.migrate import upgrade
    from socstack.catalog.models import FileSource
    from socstack.mission import load_callable
    from socstack.pipeline.runner import MissingInputsError, run_rule
    from tests.integration.test_polar_mission import POLAR

    folder = tmp_path_factory.mktemp("polar")
    runtime = Runtime(explicit_settings(folder, missions=[POLAR]))
    upgrade(runtime.catalog)
    mission = runtime.missions.mission("polar")
    simulate = load_callable(mission, mission.simulator or "", field="simulator")
    for path in sorted(simulate(POLAR_DAYS[0], len(POLAR_DAYS), folder / "new", mission=mission)):
        runtime.ingestor.ingest(path, source=FileSource.CLI)
    for day in POLAR_DAYS:
        try:
            run_rule(runtime, mission, mission.rules["esa_l1"], day)
        except MissingInputsError:
            continue  # before the analyzer starts, or its day in safe mode
    with LiveServer(folder, missions=[POLAR]) as url:
        direct, hapi = Client(runtime=runtime), Client(url)
        yield direct, hapi
        direct.close()
        hapi.close()
    runtime.close()


def test_time_varying_bins_are_a_two_dimensional_coordinate(
    polar: tuple[Client, Client],
) -> None:
    direct, hapi = polar
    a = direct.get("polar_esa_l1", "2025-03-01", "2025-03-07", ["eflux"])
    b = hapi.get("polar_esa_l1", "2025-03-01", "2025-03-07", ["eflux"])
    same(a, b)
    assert a["eflux"].dims == ("time", "energy")
    centers = a["energy_centers"]
    assert centers.dims == ("time", "energy") and centers.attrs["units"] == "eV"
    assert "energy_centers" not in a.data_vars, "a coordinate, not also a variable"
    before = centers.sel(time="2025-03-04").values
    after = centers.sel(time="2025-03-05").values
    assert (before == before[0]).all() and (after == after[0]).all()
    assert not np.array_equal(before[0], after[0]), "the new table moved the channels"
    with pytest.raises(ClientError, match="HAPI server only"):
        hapi.files()


def test_a_hapi_server_of_another_mission_lists_its_own_datasets(
    polar: tuple[Client, Client],
) -> None:
    direct, hapi = polar
    assert hapi.datasets() == direct.datasets() == ["polar_esa_l1"]
    same(
        direct.get("polar_esa_l1", "2025-03-03", "2025-03-04"),
        hapi.get("polar_esa_l1", "2025-03-03", "2025-03-04"),
    )


# -- the REST API: files, downloads, jobs, events; runs -------------------------------------


class WebServer(LiveServer):
    """The whole web app (API and HAPI) on a real port."""

    def build(self, runtime):  # type: ignore[no-untyped-def]
        from socstack.web import create_web_app

        return create_web_app(runtime, lambda: self.base)


@pytest.fixture
def web(processed_copy: Path) -> Iterator[tuple[Runtime, str]]:
    """The web app over the demo archive under the access tests' policy."""
    server = WebServer(processed_copy)
    set_policy(server.runtime)
    with server:
        yield server.runtime, server.base


def test_files_and_downloads_follow_the_token(web: tuple[Runtime, str], tmp_path: Path) -> None:
    runtime, base = web
    anonymous, team = Client(base), Client(base, token=person(runtime, "mag"))
    public = anonymous.files(product="pls_l2")
    assert [f["partition"] for f in public] == ["2025-01-01", "2025-01-02"]
    held = team.files(product="mag_l2")
    assert len(held) == 2 and len(anonymous.files(product="mag_l2")) == 1, "day 2 embargoed"
    path = anonymous.download(public[0]["name"], tmp_path)
    assert path == tmp_path / public[0]["name"] and path.stat().st_size == public[0]["size"]
    assert not list(tmp_path.glob("*.part"))
    day2 = next(f["name"] for f in held if f["partition"] == "2025-01-02")
    with pytest.raises(ClientError, match="wants a token for this") as caught:
        anonymous.download(day2, tmp_path)
    assert caught.value.status == 401 and not (tmp_path / day2).exists()
    assert team.download(day2, tmp_path / "day2.cdf").stat().st_size > 0
    assert team.jobs(mission="demo") == [], "the archive was made without the planner"
    with pytest.raises(ClientError, match="wants a token"):
        anonymous.jobs()
    events = team.events(limit=5)
    assert len(events) == 5 and [e["id"] for e in events] == sorted(e["id"] for e in events)
    later = team.events(after=events[-1]["id"], limit=5)
    assert later[0]["id"] > events[-1]["id"]


def test_direct_inside_the_data_center_with_soc_token(
    processed_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socstack.config import get_settings

    runtime = Runtime(explicit_settings(processed_copy))
    token = person(runtime, "mag")
    runtime.close()
    monkeypatch.setenv("SOC_DATABASE_URL", f"sqlite:///{processed_copy / 'catalog.sqlite'}")
    monkeypatch.setenv("SOC_ARCHIVE_URL", (processed_copy / "archive").as_uri())
    monkeypatch.setenv("SOC_TOKEN", token)
    get_settings.cache_clear()
    with Client() as client:
        assert client.kind == "direct" and "from SOC_TOKEN" in repr(client)
        assert "demo_mag_l1a" in client.datasets(), "the team's own raw level"
    monkeypatch.setenv("SOC_TOKEN", token[:-4] + "AAAA")
    get_settings.cache_clear()
    with pytest.raises(ClientError, match=r"token \w+ \(from SOC_TOKEN\) was refused"):
        Client()
    monkeypatch.setenv("SOC_DATABASE_URL", f"sqlite:///{processed_copy / 'elsewhere.sqlite'}")
    monkeypatch.setenv("SOC_PUBLIC_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    client = Client()
    assert client.kind == "hapi", "no catalog here: the data center's public URL"
    with pytest.raises(ClientError, match=r"cannot reach http://127\.0\.0\.1:9"):
        client.datasets()


class RunsServer(LiveServer):
    """A stand-in of ``/api/runs`` as its contract says (the runs API is built elsewhere):
    a run is queued, then running with progress, then succeeded, one step per look."""

    def build(self, runtime):  # type: ignore[no-untyped-def]
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        runs: dict[str, dict] = {}
        self.bodies: list[dict] = []
        steps = ["queued", "running", "running", "succeeded"]

        async def submit(request: Request) -> JSONResponse:
            body = await request.json()
            self.bodies.append({"body": body, "auth": request.headers.get("authorization")})
            run = {"id": f"r{len(runs) + 1}", "status": "queued", "looks": 0}
            runs[run["id"]] = run
            return JSONResponse({"id": run["id"], "status": "queued"}, status_code=202)

        async def one(request: Request) -> JSONResponse:
            run = runs.get(request.path_params["id"])
            if run is None:
                return JSONResponse({"detail": "no such run"}, status_code=404)
            run["looks"] += 1
            status = steps[min(run["looks"], len(steps) - 1)]
            return JSONResponse(
                {
                    "id": run["id"],
                    "status": status,
                    "progress": {"done": run["looks"], "total": 3},
                    "log_tail": "",
                    "outputs": [],
                    "error": None,
                }
            )

        async def listing(request: Request) -> JSONResponse:
            return JSONResponse({"runs": [{"id": k, **v} for k, v in runs.items()]})

        return Starlette(
            routes=[
                Route("/api/runs", submit, methods=["POST"]),
                Route("/api/runs", listing, methods=["GET"]),
                Route("/api/runs/{id}", one, methods=["GET"]),
            ]
        )


def test_runs_are_submitted_and_waited_for(tmp_path: Path) -> None:
    server = RunsServer(tmp_path / "data")
    with server:
        client = Client(server.base, token="soc_0123456789abcdef_" + "x" * 43)
        run = client.runs.submit("daily_means", {"day": "2025-01-01"})
        assert run == {"id": "r1", "status": "queued"}
        assert server.bodies == [
            {
                "body": {
                    "notebook": "daily_means",
                    "parameters": {"day": "2025-01-01"},
                    "force": False,
                },
                "auth": "Bearer soc_0123456789abcdef_" + "x" * 43,
            }
        ]
        done = client.runs.wait("r1", timeout=30, poll=0)
        assert done["status"] == "succeeded" and done["progress"] == {"done": 3, "total": 3}
        assert [r["id"] for r in client.runs.list()["runs"]] == ["r1"]
        client.runs.submit("daily_means")
        with pytest.raises(ClientError, match="run r2 is still running after 0 s"):
            client.runs.wait("r2", timeout=0)
        with pytest.raises(ClientError, match="404: no such run"):
            client.runs.get("nope")


def test_both_transports_agree_on_each_catalog_backend(runtime: Runtime, demo_files: Path) -> None:
    """SQLite and the real PostgreSQL (the ``database_url`` fixture's two backends)."""
    from tests.conftest import build_processed

    build_processed(runtime, demo_files, (dt.date(2025, 1, 1),))
    settings = runtime.settings
    server = LiveServer(
        settings.data_dir, database_url=settings.database_url, archive_url=settings.archive_url
    )
    with server as url:
        team = person(runtime, "mag")
        direct, hapi = Client(runtime=runtime, token=team), Client(url, token=team)
        for dataset in ("demo_mag_l2_1s", "demo_pls_l2", "demo_mag_l1a"):
            day = ("2025-01-01", "2025-01-02")
            same(direct.get(dataset, *day), hapi.get(dataset, *day))
        hapi.close()
