"""HAPI as a door of the one access rule: who sees which datasets, ranges and records.

Over a copy of the processed demo archive (2025-01-01 and 02), with the release policy
set on the loaded mission so that each kind of dataset is there:

- ``demo_pls_l2``: released (public always);
- ``demo_mag_l2_1s``: embargoed (public always, with a latency that puts the boundary
  on 2025-01-02 at today's time of day);
- ``demo_mag_l1b``: withheld (public never);
- ``demo_mag_l2_1m``: released by a record for 2025-01-01, then unreleased from 06:00
  to 12:00 (and held to ``mag_l2``, which it is made from);
- ``demo_sw_l2``: public always, made from ``mag_l2`` and ``pls_l2``, so held to both.

Each identity's view is written out below from the policy by hand (not asked of the
access rule), and every endpoint is checked against it, records against the archived
files themselves.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import itertools
import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
import xarray as xr
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from socstack.access import ANONYMOUS, Identity
from socstack.access import releases as releases_module
from socstack.access import service as service_module
from socstack.access.intervals import ALL, NONE, Intervals, intersect, ns, subtract, union
from socstack.access.redact import RedactTokens
from socstack.catalog.accounts import ReleaseKind
from socstack.catalog.models import File, FileSource, FileStatus
from socstack.formats.cdf import read_variables, write_cdf
from socstack.hapi import source as source_module
from socstack.hapi.app import create_app
from socstack.mission.release import Policy
from socstack.runtime import Runtime
from socstack.times import format_times, parse_time, parse_times
from tests.conftest import explicit_settings

EMBARGOED = "demo_mag_l2_1s"
RELEASED = "demo_pls_l2"
WITHHELD = "demo_mag_l1b"
UNRELEASED = "demo_mag_l2_1m"
DERIVED = "demo_sw_l2"
TEAM_ONLY = ("demo_mag_l1a", "demo_pls_l1a", "demo_pls_l1b")
DATASETS = (EMBARGOED, RELEASED, WITHHELD, UNRELEASED, DERIVED, *TEAM_ONLY)
WHO = ("anonymous", "mag", "pls", "operator", "admin")
PEOPLE = {
    "mag": (["demo", "demo:mag"], ["read"]),
    "pls": (["demo", "demo:pls"], ["read"]),
    "operator": (["operators"], ["read", "run"]),
    "admin": (["admins"], ["read", "release", "admin"]),
}
HOUR = 3_600 * 1_000_000_000
DAY1 = parse_time("2025-01-01T00:00:00Z")
DAY2 = parse_time("2025-01-02T00:00:00Z")
DAY3 = parse_time("2025-01-03T00:00:00Z")
# The embargo's latency: the boundary falls on 2025-01-02 at noon by the access rule's
# clock, which reads noon today when this module loads and runs on with the wall clock
# (at the wall clock's own time of day, a run after 23:00 would see hour 23 both sides).
_WALL = dt.datetime.now(dt.UTC)
_SHIFT = dt.datetime.combine(_WALL.date(), dt.time(12), dt.UTC) - _WALL
LATENCY_DAYS = (_WALL.date() - dt.date(2025, 1, 2)).days
UNRELEASED_RANGE = (DAY1 + 6 * HOUR, DAY1 + 12 * HOUR)


def clock() -> dt.datetime:
    """The access rule's now in this module: the wall clock, shifted to start at noon."""
    return dt.datetime.now(dt.UTC) + _SHIFT


@pytest.fixture(autouse=True, scope="module")
def _noon_clock() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service_module, "utcnow", clock)
        patch.setattr(releases_module, "utcnow", clock)
        yield


def boundary() -> int:
    """Where the embargo ends, now (it moves on as the test runs)."""
    return ns(clock() - dt.timedelta(days=LATENCY_DAYS))


def _dt(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value / 1e9, dt.UTC)


def expected(who: str, dataset: str, embargo: int) -> Intervals:
    """What ``who`` may see of ``dataset`` by the policy above (worked out by hand)."""
    if who in ("operator", "admin"):
        return ALL
    embargoed: Intervals = ((ALL[0][0], embargo),)
    public: dict[str, Intervals] = {
        RELEASED: ALL,
        EMBARGOED: embargoed,
        UNRELEASED: subtract(((DAY1, DAY2),), [UNRELEASED_RANGE]),
        DERIVED: embargoed,  # the field's embargo; the plasma is public
    }
    owner = dataset.split("_")[1]
    if dataset == DERIVED:
        return ALL if who == "mag" else embargoed
    if owner == who:
        return ALL
    return public.get(dataset, NONE)


# -- the data center ------------------------------------------------------------------------


def set_policy(runtime: Runtime) -> None:
    """The policy of this module's missions (before anything asks the access rule)."""
    runtime.missions.mission("demo").release.policies = [
        Policy(products=["mag_l2"], public="always", latency=f"P{LATENCY_DAYS}D"),
        Policy(products=["mag_l2_1m"], public="release"),
        Policy(products=["mag_l1b"], public="never"),
        Policy(levels=["l2", "ql"], public="always"),
    ]


def person(runtime: Runtime, name: str) -> str:
    groups, scopes = PEOPLE[name]
    runtime.access.accounts.add_user(name, groups, actor="test")
    return runtime.access.accounts.create_token(name, scopes, actor="test")[1]


@dataclass
class World:
    """A running HAPI server over its own archive, with people and their tokens."""

    folder: Path
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]
    times: dict[str, np.ndarray] = field(default_factory=dict)

    def identity(self, who: str) -> Identity:
        if who == "anonymous":
            return ANONYMOUS
        return self.runtime.access.accounts.identify(self.tokens[who])

    def headers(self, who: str) -> dict[str, str]:
        return {} if who == "anonymous" else {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, who: str, url: str, **kwargs: object):  # type: ignore[no-untyped-def]
        extra = kwargs.pop("headers", {})
        return self.client.get(url, headers={**self.headers(who), **extra}, **kwargs)  # type: ignore[arg-type]


def build_world(folder: Path, **overrides: object) -> Iterator[World]:
    # No failure limit to speak of: this module sends bad tokens on purpose (the limit
    # has its own test).
    values: dict[str, object] = {
        "release_cache_seconds": 0,
        "auth_failures_per_minute": 1_000_000,
        **overrides,
    }
    runtime = Runtime(explicit_settings(folder, **values))
    set_policy(runtime)
    tokens = {name: person(runtime, name) for name in PEOPLE}
    admin = runtime.access.accounts.identify(tokens["admin"])
    releases = runtime.access.releases
    releases.request(
        admin,
        mission="demo",
        product="mag_l2_1m",
        start=_dt(DAY1),
        stop=_dt(DAY2),
        reason="first day checked",
    )
    releases.request(
        admin,
        mission="demo",
        product="mag_l2_1m",
        start=_dt(UNRELEASED_RANGE[0]),
        stop=_dt(UNRELEASED_RANGE[1]),
        reason="a bad range found",
        kind=ReleaseKind.UNRELEASE,
    )
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield World(folder, runtime, client, tokens)
    runtime.close()


@pytest.fixture(scope="module")
def world(processed_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("hapi-access") / "data"
    shutil.copytree(processed_archive, folder)
    yield from build_world(folder)


@pytest.fixture
def own_world(processed_copy: Path) -> Iterator[World]:
    """A world of the test's own, which it may change."""
    yield from build_world(processed_copy)


def archived_times(world: World, dataset: str) -> np.ndarray:
    """Every record time (ns) of the dataset's archived files, read from the files."""
    if dataset in world.times:
        return world.times[dataset]
    config = world.runtime.missions.mission("demo").datasets[dataset]
    with world.runtime.catalog.session() as session:
        rows = session.scalars(
            select(File)
            .where((File.product == config.product) & (File.status == FileStatus.ARCHIVED))
            .order_by(File.partition)
        ).all()
    parts = []
    for row in rows:
        path = world.runtime.archive.local_path(row.uri)
        assert path is not None
        times = read_variables(path, [config.time_variable])[config.time_variable]
        parts.append(np.asarray(times).astype("datetime64[ns]").astype(np.int64))
    world.times[dataset] = np.sort(np.concatenate(parts))
    return world.times[dataset]


def within(times: np.ndarray, seen: Intervals) -> np.ndarray:
    mask = np.zeros(len(times), dtype=bool)
    for lo, hi in seen:
        mask |= (times >= lo) & (times < hi)
    return mask


def status_of(response) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    body = response.json()
    assert body["HAPI"] == "3.3", body
    return response.status_code, body["status"]["code"]


def unknown_message(name: str) -> str:
    return f"HAPI error 1406: Bad request - unknown dataset id: no dataset {name!r}"


# -- parsing the three formats -----------------------------------------------------------------


def record_dtype(info: dict) -> np.dtype:
    fields: list[tuple] = []
    for p in info["parameters"]:
        kind = {"double": "<f8", "integer": "<i4"}.get(p["type"], f"S{p.get('length', 1)}")
        if p["name"] == "Time":
            kind = f"S{p['length']}"
        fields.append((p["name"], kind, tuple(p["size"])) if p.get("size") else (p["name"], kind))
    return np.dtype(fields)


def times_of(content: bytes, fmt: str, info: dict) -> list[str]:
    """The time of every record in a data response."""
    if fmt == "json":
        return [row[0] for row in json.loads(content)["data"]]
    if fmt == "csv":
        lines = content.decode().splitlines()
        return [line.split(",")[0] for line in lines if line and not line.startswith("#")]
    records = np.frombuffer(content, dtype=record_dtype(info))
    return [t.decode() for t in records["Time"]]


# -- catalog, info, data ----------------------------------------------------------------------


#: The demo's HAPI file listing of the field's L2 files: listed with the field's dataset.
LISTING = "demo_mag_l2_files"


def visible_datasets(world: World, who: str, embargo: int) -> set[str]:
    out = set()
    for dataset in DATASETS:
        times = archived_times(world, dataset)
        if within(times, expected(who, dataset, embargo)).any():
            out.add(dataset)
    return out | ({LISTING} if EMBARGOED in out else set())


@pytest.mark.parametrize("who", WHO)
def test_the_catalog_lists_what_each_identity_may_see(world: World, who: str) -> None:
    body = world.get(who, "/hapi/catalog").json()
    listed = {e["id"] for e in body["catalog"]}
    assert listed == visible_datasets(world, who, boundary())
    if who in ("anonymous", "pls"):
        assert WITHHELD not in listed and "demo_mag_l1a" not in listed
    deep = world.get(who, "/hapi/catalog?depth=all").json()
    assert [e["id"] for e in deep["catalog"]] == [e["id"] for e in body["catalog"]]
    page = world.get(who, "/hapi").text
    for dataset in DATASETS:
        assert (f"<code>{dataset}</code>" in page) == (dataset in listed), dataset


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("who", WHO)
def test_info_is_cut_to_what_the_identity_sees(world: World, who: str, dataset: str) -> None:
    before = boundary()
    response = world.get(who, f"/hapi/info?dataset={dataset}")
    after = boundary()
    times = archived_times(world, dataset)
    if not within(times, expected(who, dataset, after)).any():
        assert status_of(response) == (404, 1406)
        nothing = world.get(who, "/hapi/info?dataset=demo_nothing_here")
        assert response.json()["status"]["message"] == unknown_message(dataset)
        assert nothing.json()["status"]["message"] == unknown_message("demo_nothing_here")
        data = world.get(who, f"/hapi/data?dataset={dataset}&start=2025-01-01&stop=2025-01-02")
        assert status_of(data) == (404, 1406)
        assert data.json()["status"]["message"] == unknown_message(dataset)
        return
    info = response.json()
    assert response.status_code == 200
    lo = expected(who, dataset, before)
    hi = expected(who, dataset, after)
    first, last = intersect(lo, ((DAY1, DAY3),)), intersect(hi, ((DAY1, DAY3),))
    assert info["startDate"] == _iso(first[0][0])
    assert _iso(_ceil(first[-1][1])) <= info["stopDate"] <= _iso(_ceil(last[-1][1]))
    assert info["startDate"] <= info["sampleStartDate"] < info["sampleStopDate"]
    assert info["sampleStopDate"] <= info["stopDate"]
    sample = parse_time(info["sampleStartDate"]), parse_time(info["sampleStopDate"])
    pieces = intersect(hi, ((DAY1, DAY3),))
    assert any(a <= sample[0] and sample[1] <= _ceil(b) for a, b in pieces), info
    days = {
        d
        for d, (a, b) in enumerate(((DAY1, DAY2), (DAY2, DAY3)))
        if within(times[(times >= a) & (times < b)], hi).any()
    }
    assert info["x_socstack"]["files"] == len(days)


def _ceil(value: int) -> int:
    return -((-value) // 10**9 * 10**9)


def _iso(value: int) -> str:
    return format_times(np.array([value]), 0)[0].decode()


def test_the_embargo_boundary_is_the_stop_date(world: World) -> None:
    team = world.get("mag", f"/hapi/info?dataset={EMBARGOED}").json()
    public = world.get("anonymous", f"/hapi/info?dataset={EMBARGOED}").json()
    assert team["stopDate"] == "2025-01-03T00:00:00Z"
    assert public["stopDate"][:10] == "2025-01-02" and public["stopDate"] < team["stopDate"]
    assert public["startDate"] == team["startDate"] == "2025-01-01T00:00:00Z"
    held = world.get("anonymous", f"/hapi/info?dataset={UNRELEASED}").json()
    assert (held["startDate"], held["stopDate"]) == ("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
    assert held["x_socstack"]["files"] == 1


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("who", WHO)
def test_data_holds_exactly_the_visible_records(world: World, who: str, dataset: str) -> None:
    truth = archived_times(world, dataset)
    response = world.get(who, f"/hapi/info?dataset={dataset}")
    if not within(truth, expected(who, dataset, boundary())).any():
        assert response.status_code == 404  # and data 1406 too: see the info test
        return
    info = response.json()
    first = info["parameters"][1]["name"]
    config = world.runtime.missions.mission("demo").datasets[dataset]
    query = {"dataset": dataset, "start": info["startDate"], "stop": info["stopDate"]}
    for fmt in ("csv", "binary", "json"):
        if fmt == "json":  # json is slow to write and parse: the six hours around 2025-01-02
            query = {**query, "start": "2025-01-01T21:00:00Z", "stop": "2025-01-02T03:00:00Z"}
            query["stop"] = min(query["stop"], info["stopDate"])
        url = "/hapi/data?" + urlencode({**query, "parameters": first, "format": fmt})
        response = world.get(who, url)
        assert response.status_code == 200, (fmt, response.text[:300])
        after = boundary()
        got = times_of(response.content, fmt, {"parameters": info["parameters"][:2]})
        start, stop = parse_time(query["start"]), parse_time(query["stop"])
        shown = intersect(expected(who, dataset, after), ((start, stop),))
        wanted = truth[within(truth, shown)]
        # The embargo moved on while the request ran: the records it let through by then.
        assert len(got) <= len(wanted), (fmt, "a record outside what may be seen")
        assert got == [t.decode() for t in format_times(wanted[: len(got)], config.time_digits)]
        moving = expected(who, dataset, after) != expected(who, dataset, after + HOUR)
        assert len(wanted) - len(got) <= (20 if moving else 0), fmt  # seconds of records


def test_outside_what_is_seen(world: World) -> None:
    # Beyond the embargo: outside the anonymous coverage, as outside the archive is.
    late = f"/hapi/data?dataset={EMBARGOED}&start=2025-01-02T23:00Z&stop=2025-01-02T23:10Z"
    assert status_of(world.get("anonymous", late)) == (400, 1405)
    assert world.get("mag", late).status_code == 200 and len(world.get("mag", late).text) > 0
    message = world.get("anonymous", late).json()["status"]["message"]
    assert "to 2025-01-02T" in message and "2025-01-03" not in message
    # Within the unreleased hours: no data, as in a gap.
    hole = f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T07:00Z&stop=2025-01-01T08:00Z"
    for fmt in ("csv", "binary"):
        assert world.get("anonymous", hole + f"&format={fmt}").content == b""
    body = world.get("anonymous", hole + "&format=json").json()
    assert body["status"]["code"] == 1201 and body["data"] == []
    assert len(world.get("mag", hole).text.splitlines()) == 60
    # Across it: the visible part only.
    across = f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T05:00Z&stop=2025-01-01T13:00Z"
    rows = [line[:16] for line in world.get("anonymous", across).text.splitlines()]
    assert len(rows) == 120 and rows[59] == "2025-01-01T05:59" and rows[60] == "2025-01-01T12:00"
    header = world.get("anonymous", across + "&include=header").text
    document = json.loads("".join(line[1:] for line in header.splitlines() if line[0] == "#"))
    assert document["stopDate"] == "2025-01-02T00:00:00Z"
    # Beyond the released day of a product released by a record.
    assert status_of(world.get("anonymous", across.replace("01T13", "02T13"))) == (400, 1405)


def test_head_and_gzip_go_through_the_rule(world: World) -> None:
    url = f"/hapi/data?dataset={WITHHELD}&start=2025-01-01&stop=2025-01-01T01:00Z"
    assert world.client.head(url).status_code == 404
    assert world.client.head(url, headers=world.headers("mag")).status_code == 200
    late = f"/hapi/data?dataset={EMBARGOED}&start=2025-01-01T23:00Z&stop=2025-01-02T00:00:01Z"
    zipped = world.get("anonymous", late, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == world.get("anonymous", late).content


def test_many_visible_ranges_are_selected_as_few(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SQL_RANGES the files are chosen by the hull and then one by one: the same."""
    urls = [
        f"/hapi/info?dataset={UNRELEASED}",
        "/hapi/catalog?depth=all",
        f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T05:00Z&stop=2025-01-02",
        f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T06:30Z&stop=2025-01-01T07:00Z",
    ]

    def answer(url: str) -> object:
        body = world.get("anonymous", url).content
        if "catalog" not in url:
            return body
        # Only this dataset's entry: the embargoed ones' stopDate moves on with the clock.
        (entry,) = [e for e in json.loads(body)["catalog"] if e["id"] == UNRELEASED]
        return entry

    exact = [answer(u) for u in urls]
    monkeypatch.setattr(source_module, "SQL_RANGES", 1)
    assert [answer(u) for u in urls] == exact


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_files_are_chosen_alike_in_sql_and_one_by_one(world: World, data: st.DataObject) -> None:
    """The file test past SQL_RANGES (Python, per file) is the SQL one, on every file.

    Range ends are drawn near the files' own first and last record times too, where an
    off-by-one would show.
    """
    with world.runtime.catalog.session() as session:
        rows = session.execute(select(File.id, File.start, File.stop)).all()
    near = sorted(
        {ns(t) + d for r in rows for t in (r.start, r.stop) if t for d in (-1000, -1, 0, 1, 1000)}
    )
    edge = st.one_of(
        st.integers(min_value=DAY1 - HOUR, max_value=DAY3 + HOUR), st.sampled_from(near)
    )
    ordered = sorted(data.draw(st.lists(edge, max_size=10)))
    seen = union((), zip(ordered[::2], ordered[1::2], strict=False))
    condition, exact = source_module._holding(seen)
    assert exact
    with world.runtime.catalog.session() as session:
        chosen = set(session.scalars(select(File.id).where(condition)))
    assert {r.id for r in rows if source_module._holds(r.start, r.stop, seen)} == chosen


def test_an_internal_server_shows_anonymous_everything(processed_archive: Path) -> None:
    runtime = Runtime(explicit_settings(processed_archive, hapi_include_unreleased=True))
    set_policy(runtime)
    with TestClient(create_app(runtime)) as client:
        ids = {e["id"] for e in client.get("/hapi/catalog").json()["catalog"]}
        assert ids == {*DATASETS, LISTING}
        assert client.get(f"/hapi/info?dataset={EMBARGOED}").json()["stopDate"] == (
            "2025-01-03T00:00:00Z"
        )
    runtime.close()


def test_a_derived_product_is_held_to_its_inputs(own_world: World) -> None:
    """sw_l2 shows neither the field's embargoed hours nor the plasma's unreleased ones."""
    admin = own_world.identity("admin")
    closed = (DAY1 + 18 * HOUR, DAY1 + 20 * HOUR)
    own_world.runtime.access.releases.request(
        admin,
        mission="demo",
        product="pls_l2",
        start=_dt(closed[0]),
        stop=_dt(closed[1]),
        reason="plasma calibration under review",
        kind=ReleaseKind.UNRELEASE,
    )
    truth = archived_times(own_world, DERIVED)
    cases = {
        # the mag team sees the field whole, but not the plasma's closed hours
        "mag": subtract(ALL, [closed]),
        # the plasma team sees the plasma whole, but not the field's embargo
        "pls": ((ALL[0][0], boundary()),),
        "anonymous": subtract(((ALL[0][0], boundary()),), [closed]),
        "operator": ALL,
    }
    for who, seen in cases.items():
        info = own_world.get(who, f"/hapi/info?dataset={DERIVED}").json()
        url = f"/hapi/data?dataset={DERIVED}&start={info['startDate']}&stop={info['stopDate']}"
        got = [line[:24] for line in own_world.get(who, url + "&parameters=beta").text.split()]
        wanted = [t.decode() for t in format_times(truth[within(truth, seen)], 3)]
        # the embargo moved on a little while the request ran: a few more records
        assert got[: len(wanted)] == wanted, who
        assert len(got) - len(wanted) <= 10, who
        hours = {t[:13] for t in got}
        assert ("2025-01-01T18" in hours) == (who in ("pls", "operator")), who
        assert ("2025-01-02T23" in hours) == (who in ("mag", "operator")), who
        pls = own_world.get(who, f"/hapi/info?dataset={RELEASED}").json()
        assert pls["stopDate"] == "2025-01-03T00:00:00Z"


def test_bins_are_read_from_visible_files_only(own_world: World) -> None:
    """The energy table of an info is the newest file's the asker may see, not newer."""
    own_world.runtime.access.releases.request(
        own_world.identity("admin"),
        mission="demo",
        product="pls_l2",
        start=_dt(DAY2),
        stop=_dt(DAY3),
        reason="second day under review",
        kind=ReleaseKind.UNRELEASE,
    )
    with own_world.runtime.catalog.session() as session:
        rows = dict(
            session.execute(
                select(File.partition, File.id).where(
                    (File.product == "pls_l2") & (File.status == FileStatus.ARCHIVED)
                )
            ).all()
        )
    source = source_module.ArchiveSource(own_world.runtime)
    with TestClient(create_app(own_world.runtime, source)) as client:
        public = client.get(f"/hapi/info?dataset={RELEASED}").json()
        assert public["stopDate"] == "2025-01-02T00:00:00Z"
        assert [row for _, row in source._support] == [rows["2025-01-01"]]
        team = client.get(f"/hapi/info?dataset={RELEASED}", headers=own_world.headers("pls"))
        assert team.json()["stopDate"] == "2025-01-03T00:00:00Z"
        assert [row for _, row in source._support] == [rows["2025-01-01"], rows["2025-01-02"]]


# -- credentials -------------------------------------------------------------------------------

BAD = "soc_0123456789abcdef_" + "Q" * 43
ENDPOINTS = [
    "/hapi",
    "/hapi/about",
    "/hapi/capabilities",
    "/hapi/catalog",
    "/hapi/catalog?depth=all",
    f"/hapi/info?dataset={RELEASED}",
    f"/hapi/data?dataset={RELEASED}&start=2025-01-01&stop=2025-01-01T00:10Z",
    f"/hapi/data?dataset={RELEASED}&start=2025-01-01&stop=2025-01-01T00:10Z&format=binary",
    f"/hapi/data?dataset={RELEASED}&start=2025-01-01&stop=2025-01-01T00:10Z&format=json",
    f"/hapi/data?dataset={RELEASED}&start=2025-01-01&stop=2025-01-01T00:10Z&include=header",
    "/hapi/nothing",
]


def _basic(token: str) -> str:
    return "Basic " + base64.b64encode(f"me:{token}".encode()).decode()


@pytest.mark.parametrize("path", ENDPOINTS)
def test_credentials_that_do_not_hold_are_401_everywhere(world: World, path: str) -> None:
    wrong = world.tokens["mag"][:-1] + ("A" if world.tokens["mag"][-1] != "A" else "B")
    for headers in (
        {"Authorization": f"Bearer {BAD}"},
        {"Authorization": _basic(wrong)},
        {"Cookie": f"socstack_token={BAD}"},
        {"Authorization": "Digest abc"},
    ):
        for method in ("GET", "HEAD"):
            response = world.client.request(method, path, headers=headers)
            assert response.status_code == 401, (path, headers)
            challenge = response.headers["www-authenticate"]
            assert challenge.startswith('Bearer realm="socstack"') and "invalid_token" in challenge
            assert response.headers["access-control-allow-origin"] == "*"
            if method == "GET":
                assert status_of(response) == (401, 1400)
                assert "credentials not accepted" in response.json()["status"]["message"]
                assert BAD not in response.text and wrong not in response.text
                assert wrong.split("_", 2)[2] not in response.text


def test_a_token_is_taken_as_bearer_basic_or_the_cookie(world: World) -> None:
    token = world.tokens["mag"]
    url = f"/hapi/info?dataset={WITHHELD}"
    assert world.client.get(url).status_code == 404
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Authorization": _basic(token)},
        {"Cookie": f"socstack_token={token}"},
    ):
        assert world.client.get(url, headers=headers).status_code == 200, headers
    assert (
        world.client.get(url, headers={"Authorization": _basic(world.tokens["pls"])}).status_code
        == 404
    )


def test_too_many_failures_are_429(processed_copy: Path) -> None:
    runtime = Runtime(explicit_settings(processed_copy, auth_failures_per_minute=3))
    token = person(runtime, "mag")
    app = create_app(runtime)
    with (
        TestClient(app, raise_server_exceptions=False, client=("10.1.2.3", 4000)) as guesser,
        TestClient(app, raise_server_exceptions=False, client=("10.1.2.4", 4000)) as other,
    ):
        for _ in range(3):
            assert (
                guesser.get("/hapi/catalog", headers={"Authorization": f"Bearer {BAD}"}).status_code
                == 401
            )
        for headers in ({"Authorization": f"Bearer {BAD}"}, {"Authorization": f"Bearer {token}"}):
            response = guesser.get("/hapi/catalog", headers=headers)
            assert status_of(response) == (429, 1400)
            assert 0 < int(response.headers["retry-after"]) <= 61
            assert BAD not in response.text and str(token) not in response.text
        assert guesser.get("/hapi/catalog").status_code == 200, "no credentials: nothing to fail"
        assert (
            other.get("/hapi/catalog", headers={"Authorization": f"Bearer {token}"}).status_code
            == 200
        )
    runtime.close()


def test_cors_stays_open_and_caches_keep_askers_apart(world: World) -> None:
    url = f"/hapi/data?dataset={RELEASED}&start=2025-01-01&stop=2025-01-01T00:10Z"
    for headers in ({}, world.headers("mag"), {"Cookie": f"socstack_token={world.tokens['mag']}"}):
        response = world.client.get(url, headers={**headers, "Origin": "https://elsewhere.example"})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in response.headers
        assert "Authorization" in response.headers["vary"] and "Cookie" in response.headers["vary"]
        assert (response.headers.get("cache-control") == "private") == bool(headers)
    preflight = world.client.options(
        url,
        headers={
            "Origin": "https://elsewhere.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "Authorization"
    assert "access-control-allow-credentials" not in preflight.headers


def test_no_token_reaches_a_body_or_a_log(world: World, caplog: pytest.LogCaptureFixture) -> None:
    token = world.tokens["mag"]
    caplog.handler.addFilter(RedactTokens())
    with caplog.at_level(logging.DEBUG):
        echoed = world.client.get(f"/hapi/info?dataset={token}")
        assert status_of(echoed) == (404, 1406) and token not in echoed.text
        named = world.client.get(f"/hapi/info?{token}=1")
        assert status_of(named) == (400, 1401) and token not in named.text
        world.client.get("/hapi/catalog", headers={"Authorization": f"Bearer {BAD}"})
        world.client.get("/hapi/catalog", headers=world.headers("mag"))
    assert token not in caplog.text and BAD not in caplog.text
    assert token.split("_", 2)[2] not in caplog.text


# -- modification times ---------------------------------------------------------------------


def _new_version(world: World, day: str) -> None:
    """A v1.0.1 of a day of demo_mag_l2_1m with other values, ingested now."""
    original = next(
        (world.folder / "archive/demo/mag/l2/2025/01").glob(f"demo_mag_l2_1m-gse_{day}_*")
    )
    names = ["b_gse", "b_gse_min", "b_gse_max", "b_mag", "b_mag_min", "b_mag_max"]
    values = read_variables(original, ["epoch", *names])
    dims = {n: ("epoch", "axis") if values[n].ndim == 2 else ("epoch",) for n in names}
    shifted = xr.Dataset(
        {n: (dims[n], values[n] + 1.0) for n in names}, coords={"epoch": values["epoch"]}
    )
    newer = world.folder / f"demo_mag_l2_1m-gse_{day}_v1.0.1.cdf"
    write_cdf(shifted, newer)
    result = world.runtime.ingestor.ingest(newer, source=FileSource.CLI)
    assert result.outcome.value == "archived"


def _modified(response) -> dt.datetime:  # type: ignore[no-untyped-def]
    return email.utils.parsedate_to_datetime(response.headers["last-modified"])


def _next_second() -> None:
    """Return once the clock is in a later whole second than at the call.

    HTTP dates (Last-Modified, If-Modified-Since) count whole seconds: a change must
    fall in a later second than the answer it is compared with, or it cannot show.
    """
    start = int(time.time())
    while int(time.time()) <= start:
        time.sleep(0.01)


def test_modification_times_tell_nothing_of_invisible_data(own_world: World) -> None:
    anonymous_urls = [
        f"/hapi/info?dataset={UNRELEASED}",
        f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T00:00Z&stop=2025-01-01T01:00Z",
        f"/hapi/data?dataset={UNRELEASED}&start=2025-01-01T07:00Z&stop=2025-01-01T08:00Z",
        "/hapi/catalog",
        "/hapi/about",
    ]
    before = {u: own_world.get("anonymous", u) for u in anonymous_urls}
    info_before = before[anonymous_urls[0]].json()
    team_before = own_world.get("mag", f"/hapi/info?dataset={UNRELEASED}").json()
    _next_second()  # the next ingest is a later second
    _new_version(own_world, "20250102")  # a day anonymous may not see
    for url, old in before.items():
        again = own_world.get("anonymous", url)
        assert _modified(again) == _modified(old), url
        since = {"If-Modified-Since": old.headers["last-modified"]}
        assert own_world.get("anonymous", url, headers=since).status_code == 304, url
    info_after = own_world.get("anonymous", f"/hapi/info?dataset={UNRELEASED}").json()
    assert info_after["modificationDate"] == info_before["modificationDate"]
    team_after = own_world.get("mag", f"/hapi/info?dataset={UNRELEASED}").json()
    assert team_after["modificationDate"] > team_before["modificationDate"]
    # A change anonymous can see: its copy is no longer current.
    _next_second()
    own_world.runtime.access.releases.request(
        own_world.identity("admin"),
        mission="demo",
        product="mag_l2_1m",
        start=_dt(DAY2),
        stop=_dt(DAY3),
        reason="second day checked",
    )
    for url in anonymous_urls[:4]:
        since = {"If-Modified-Since": before[url].headers["last-modified"]}
        changed = url in (anonymous_urls[0], anonymous_urls[3])  # info and catalog
        status = own_world.get("anonymous", url, headers=since).status_code
        assert status == (200 if changed else 304), url
    opened = own_world.get("anonymous", f"/hapi/info?dataset={UNRELEASED}").json()
    # the second day is released, and held to the field's embargo it is made from
    assert "2025-01-02T00:00:00Z" < opened["stopDate"] <= _iso(_ceil(boundary()))
    assert opened["modificationDate"] > info_before["modificationDate"]
    # ... and one more unrelease closes hours anonymous had: again not a 304.
    first_hour = anonymous_urls[1]
    seen_all = own_world.get("anonymous", first_hour)
    _next_second()
    own_world.runtime.access.releases.request(
        own_world.identity("admin"),
        mission="demo",
        product="mag_l2_1m",
        start=_dt(DAY1 + HOUR // 2),
        stop=_dt(DAY1 + HOUR),
        reason="another bad range",
        kind=ReleaseKind.UNRELEASE,
    )
    since = {"If-Modified-Since": seen_all.headers["last-modified"]}
    cut = own_world.get("anonymous", first_hour, headers=since)
    assert cut.status_code == 200 and len(cut.text.splitlines()) == 30


# -- random queries, with and without tokens ----------------------------------------------------

FORMATS = ["csv", "binary", "json"]


def _info_for(world: World, who: str, dataset: str, cache: dict) -> dict | None:
    key = (who, dataset)
    if key not in cache:
        response = world.get(who, f"/hapi/info?dataset={dataset}")
        cache[key] = response.json() if response.status_code == 200 else None
    return cache[key]


_INFO: dict = {}
starts = st.integers(min_value=DAY1 - 2 * HOUR, max_value=DAY3 + HOUR)
lengths = st.integers(min_value=1, max_value=4 * HOUR)
#: Where windows are anchored: anywhere, within the identity's coverage, about the
#: unreleased hours, or about where its coverage ends (for some, the embargo's boundary).
anchors = st.sampled_from(["anywhere", "inside", "inside", "hole", "stop"])


def _text(value: int) -> str:
    return format_times(np.array([value]), 9)[0].decode()


def _random_query(
    world: World, who: str, endpoint: str, dataset: str, window: tuple[int, int], options: dict
) -> dict[str, str]:
    query: dict[str, str] = {}
    if endpoint != "catalog":
        query["dataset"] = dataset
    if endpoint == "data":
        query.update(start=_text(window[0]), stop=_text(window[1]), format=options["fmt"])
        if options["include"]:
            query["include"] = "header"
    info = _info_for(world, who, dataset, _INFO) if who != "bad" else None
    if options["parameters"] and info is not None and endpoint != "catalog":
        first = info["parameters"][1]["name"]
        query["parameters"] = first if options["parameters"] == "first" else "Time"
    extra = options["extra"]
    if extra is not None and extra[0] not in query:
        query[extra[0]] = extra[1]
    return query


def _check_records(response, info: dict, query: dict[str, str], seen: Intervals, who: str) -> None:  # type: ignore[no-untyped-def]
    """Every record of a data response lies in ``seen``, in each format."""
    chosen = info["parameters"]
    if query.get("parameters") == "Time":
        chosen = chosen[:1]
    elif "parameters" in query:
        chosen = chosen[:2]
    fmt = query["format"]
    content = response.content
    if "include" in query and fmt != "json":
        header = b""
        while content.startswith(b"#"):
            line, _, content = content.partition(b"\n")
            header += line[1:]
        if header:
            stop = parse_time(json.loads(header)["stopDate"])
            assert seen == ALL or any(a < stop <= _ceil(b) for a, b in seen)
    texts = times_of(content, fmt, {"parameters": chosen})
    if texts:
        outside = ~within(parse_times(np.array(texts, dtype="S")), seen)
        shown = np.array(texts)[outside][:3]
        assert not outside.any(), f"{shown} shown to {who} from {query['dataset']}"


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    who=st.sampled_from([*WHO, "anonymous", "pls", "bad"]),
    endpoint=st.sampled_from(["catalog", "info", "data", "data", "data"]),
    dataset=st.sampled_from([*DATASETS, UNRELEASED, EMBARGOED, DERIVED, "demo_nothing"]),
    start=starts,
    length=lengths,
    anchor=anchors,
    options=st.fixed_dictionaries(
        {
            "fmt": st.sampled_from(FORMATS),
            "include": st.booleans(),
            "parameters": st.sampled_from(["", "first", "Time"]),
            "extra": st.sampled_from(
                [*[None] * 6, ("depth", "all"), ("x", "1"), ("parameters", "nope")]
            ),
        }
    ),
)
def test_random_queries_never_show_a_record_outside_what_may_be_seen(
    world: World,
    who: str,
    endpoint: str,
    dataset: str,
    start: int,
    length: int,
    anchor: str,
    options: dict,
) -> None:
    """Never a 5xx, and never a record (or a coverage) outside what the rule lets through."""
    if anchor == "hole":
        start = UNRELEASED_RANGE[0] - HOUR + start % (8 * HOUR)
    info = _info_for(world, who, dataset, _INFO) if who != "bad" else None
    if anchor == "inside" and info is not None:
        lo, hi = parse_time(info["startDate"]), parse_time(info["stopDate"])
        length = min(length, hi - lo)
        start = lo + start % max(1, hi - lo - length)
    if anchor == "stop" and info is not None:
        start = parse_time(info["stopDate"]) - length + start % (2 * length + 1) - length // 2
    query = _random_query(world, who, endpoint, dataset, (start, start + length), options)
    headers = {"Authorization": f"Bearer {BAD}"} if who == "bad" else world.headers(who)
    response = world.client.get(f"/hapi/{endpoint}?{urlencode(query)}", headers=headers)
    assert response.status_code < 500, response.text[:300]
    if who == "bad":
        assert status_of(response) == (401, 1400)
        return
    if response.status_code >= 400:
        assert status_of(response)[1] in range(1400, 1414)
        return
    if endpoint == "catalog":
        for entry in response.json()["catalog"]:
            assert entry["id"] in visible_datasets(world, who, boundary())
        return
    spec = world.runtime.missions.mission("demo").datasets[dataset]
    # Asked after the response: an embargo only opens more as time goes on.
    seen = world.runtime.access.visible(world.identity(who), "demo", spec.product)
    assert seen, f"{who} was shown {dataset}"
    if endpoint == "info":
        document = response.json()
        lo, hi = parse_time(document["startDate"]), parse_time(document["stopDate"])
        assert intersect(seen, ((lo, hi),)), "coverage outside what may be seen"
        assert seen == ALL or hi <= _ceil(intersect(seen, ((DAY1, DAY3),))[-1][1])
        return
    info = _info_for(world, who, dataset, _INFO)
    assert info is not None
    _check_records(response, info, query, seen, who)


LANDMARKS = [DAY1, UNRELEASED_RANGE[0], UNRELEASED_RANGE[1], DAY2, DAY1 + 18 * HOUR]
NUDGES = [-HOUR, -(10**9), 0, 10**9, HOUR]
SPANS = [10**9, HOUR, 7 * HOUR, 13 * HOUR, 30 * HOUR]


@pytest.mark.parametrize("dataset", [UNRELEASED, EMBARGOED, DERIVED])
@pytest.mark.parametrize("who", ["anonymous", "pls"])
def test_windows_at_the_edges_of_a_view_show_only_what_may_be_seen(
    world: World, who: str, dataset: str
) -> None:
    """Every window about the edges of the partial views: across holes, into the embargo.

    A grid rather than random draws: windows across the whole unreleased range, which
    random draws over so many parameters rarely make, are where a cut can go wrong.
    """
    spec = world.runtime.missions.mission("demo").datasets[dataset]
    info = _info_for(world, who, dataset, _INFO)
    assert info is not None
    served = 0
    for k, (landmark, nudge, span) in enumerate(
        itertools.product([*LANDMARKS, "embargo"], NUDGES, SPANS)
    ):
        start = (boundary() if landmark == "embargo" else int(landmark)) + nudge
        fmt = FORMATS[k % 3]
        query = {"dataset": dataset, "start": _text(start), "stop": _text(start + span)}
        response = world.get(who, "/hapi/data?" + urlencode({**query, "format": fmt}))
        assert response.status_code < 500, (query, response.text[:300])
        if response.status_code != 200:
            assert status_of(response) == (400, 1405), query  # outside its coverage
            continue
        served += 1
        seen = world.runtime.access.visible(world.identity(who), "demo", spec.product)
        _check_records(response, info, {**query, "format": fmt}, seen, who)
    assert served > 20
