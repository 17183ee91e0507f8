"""The golden matrix: who, by what state of the data, by every door: allowed or refused.

Identities: anonymous, another instrument's team, the instrument's team, an operator, an
admin. States of the data (a copy of the processed demo archive under a policy made for
the test): released (a release record opened it), embargoed (public once five thousand
days old), withheld (never public), unreleased (released, then unreleased), and derived
(the combined L2, public by its own policy but made from the embargoed plasma L2).
Doors: HAPI catalog, info and data (csv, binary, json); the files API's list, metadata,
download and provenance; the event log; the viz's callbacks; and, for every identity,
upload, jobs, reprocessing, metrics and the audit log. All through one live server, the
viz reading HAPI over HTTP as the signed-in user, like a browser's page would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from socstack.catalog.accounts import ReleaseKind
from socstack.catalog.migrate import upgrade
from socstack.viz.links import Panel, View
from tests.conftest import DEMO_MISSION
from tests.integration.test_hapi import LiveServer

START, STOP = "2025-01-01T00:00:00Z", "2025-01-01T00:10:00Z"
POLICY = """release:
  team: instrument
  policies:
    - {products: [mag_l2], public: release}
    - {products: [pls_l2], public: always, latency: P5000D}
    - {products: [mag_l1b], public: never}
    - {products: [mag_l2_1m], public: release}
    - {products: [sw_l2], public: always}
    - {products: [pls_l1b], public: release, latency: P5000D}
    - {products: [pls_l3_dense], public: always}
    - {levels: [ql], public: always}
"""


@dataclass(frozen=True)
class State:
    """A state of the data: which dataset (and product) shows it, whose team owns it."""

    name: str
    dataset: str
    product: str
    team: str  # the instrument whose team sees it whole
    start: str = START  # a request that returns data (HAPI's checks want some)
    stop: str = STOP


STATES = [
    State("released", "demo_mag_l2_1s", "mag_l2", "mag"),
    State("embargoed", "demo_pls_l2", "pls_l2", "pls"),
    State("withheld", "demo_mag_l1b", "mag_l1b", "mag"),
    State("unreleased", "demo_mag_l2_1m", "mag_l2_1m", "mag"),
    State("derived", "demo_sw_l2", "sw_l2", "sw"),
    # A detector's event list, public by its own policy but found in the embargoed plasma.
    State("derived list", "demo_dense_plasma", "pls_l3_dense", "pls", STOP, "2025-01-02T00:00:00Z"),
]
ROLES = ["anonymous", "other team", "own team", "operator", "admin"]


class _Site(LiveServer):
    def build(self, runtime):  # type: ignore[no-untyped-def]
        from socstack.web import create_web_app

        return create_web_app(runtime, lambda: self.base)


@dataclass
class Site:
    base: str
    tokens: dict[str, str]  # user -> token
    files: dict[str, str]  # product -> the name of its 2025-01-01 file


@pytest.fixture(scope="module")
def site(mined_archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("matrix")
    data = folder / "data"
    shutil.copytree(mined_archive, data)
    mission = folder / "demo"
    shutil.copytree(DEMO_MISSION, mission)
    text = (mission / "mission.yaml").read_text()
    at = text.index("\nrules:\n")
    text = (
        text[:at]
        + "".join(f"\n  {listing(s)}: {{product: {s.product}, files: true}}\n" for s in STATES)
        + text[at:]
    )
    (mission / "mission.yaml").write_text(text[: text.index("release:")] + POLICY)
    server = _Site(
        data,
        missions=[mission],
        release_cache_seconds=0,
        token_cache_seconds=0,
        auth_failures_per_minute=1000,  # the bad-token cells fail on purpose, many at once
    )
    runtime = server.runtime
    upgrade(runtime.catalog)
    accounts = runtime.access.accounts
    people = {
        "mag": (["demo", "demo:mag"], ["read", "upload", "release"]),
        "pls": (["demo", "demo:pls"], ["read", "upload", "release"]),
        "ops": (["operators"], ["read", "run", "upload"]),
        "root": (["admins"], ["read", "upload", "run", "release", "admin"]),
    }
    tokens = {}
    for name, (groups, scopes) in people.items():
        accounts.add_user(name, groups, actor="test")
        tokens[name] = accounts.create_token(name, scopes, actor="test")[1]
    mag = accounts.identify(tokens["mag"])
    releases = runtime.access.releases
    import datetime as dt

    day0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    day2 = dt.datetime(2025, 1, 3, tzinfo=dt.UTC)
    for product in ("mag_l2", "mag_l2_1m"):
        releases.request(mag, mission="demo", product=product, start=day0, stop=day2, reason="x")
    releases.request(
        mag,
        mission="demo",
        product="mag_l2_1m",
        start=day0,
        stop=day2,
        reason="a bad calibration",
        kind=ReleaseKind.UNRELEASE,
    )
    from sqlalchemy import select

    from socstack.catalog.models import File, FileStatus

    with runtime.catalog.session() as session:
        files = dict(
            session.execute(
                select(File.product, File.name).where(
                    (File.partition == "2025-01-01") & (File.status == FileStatus.ARCHIVED)
                )
            ).all()
        )
    with server:
        yield Site(server.base, tokens, files)


def listing(state: State) -> str:
    """The HAPI file listing (stringType uri) of the state's product, added for the test."""
    return f"files_of_{state.product}"


def user_of(role: str, state: State) -> str | None:
    """The user playing ``role`` for data owned by ``state.team``."""
    return {
        "anonymous": None,
        "other team": "pls" if state.team == "mag" else "mag",
        "own team": {"mag": "mag", "pls": "pls"}.get(state.team, "root"),
        "operator": "ops",
        "admin": "root",
    }[role]


def sees(role: str, state: State) -> bool:
    """The expected answer of every cell: may ``role`` see ``state``'s data?"""
    if state.name == "released":
        return True
    if state.name == "derived":
        return role in ("operator", "admin", "own team")  # "own team" is root for sw
    return role in ("own team", "operator", "admin")


def headers(site: Site, user: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.tokens[user]}"} if user else {}


CELLS = [(role, state) for state in STATES for role in ROLES]
IDS = [f"{state.name}-{role.replace(' ', '_')}" for role, state in CELLS]


@pytest.mark.parametrize(("role", "state"), CELLS, ids=IDS)
def test_hapi_catalog_info_and_data(site: Site, role: str, state: State) -> None:
    who = headers(site, user_of(role, state))
    allowed = sees(role, state)
    with httpx.Client(base_url=site.base, headers=who, timeout=60) as http:
        catalog = [d["id"] for d in http.get("/hapi/catalog").json()["catalog"]]
        assert (state.dataset in catalog) is allowed
        info = http.get("/hapi/info", params={"dataset": state.dataset})
        assert info.status_code == (200 if allowed else 404), info.text
        if not allowed:
            assert info.json()["status"]["code"] == 1406
        for fmt in ("csv", "binary", "json"):
            params = {"dataset": state.dataset, "start": state.start, "stop": state.stop}
            params["format"] = fmt
            data = http.get("/hapi/data", params=params)
            if allowed:
                assert data.status_code == 200 and len(data.content) > 100, (fmt, data.text[:200])
            else:
                assert data.status_code == 404 and data.json()["status"]["code"] == 1406, fmt


@pytest.mark.parametrize(("role", "state"), CELLS, ids=IDS)
def test_hapi_file_listings_and_their_links(site: Site, role: str, state: State) -> None:
    """A listing shows a file to who may download it, and its link downloads it."""
    who = headers(site, user_of(role, state))
    allowed = sees(role, state)
    name = site.files[state.product]
    with httpx.Client(base_url=site.base, headers=who, timeout=60) as http:
        catalog = [d["id"] for d in http.get("/hapi/catalog").json()["catalog"]]
        assert (listing(state) in catalog) is allowed
        params = {"dataset": listing(state), "start": START, "stop": "2025-01-02T00:00:00Z"}
        answer = http.get("/hapi/data", params=params)
        if not allowed:
            assert answer.status_code == 404 and answer.json()["status"]["code"] == 1406
            return
        assert answer.status_code == 200, answer.text[:200]
        assert [line.split(",")[2] for line in answer.text.splitlines()] == [name]
        info = http.get("/hapi/info", params={"dataset": listing(state)}).json()
        base = next(p for p in info["parameters"] if p["name"] == "URI")["stringType"]
        assert http.get(base["uri"]["base"] + name).status_code == 200


@pytest.mark.parametrize(("role", "state"), CELLS, ids=IDS)
def test_files_list_metadata_download_provenance_and_events(
    site: Site, role: str, state: State
) -> None:
    user = user_of(role, state)
    allowed = sees(role, state)
    refused = 401 if user is None else 403
    name = site.files[state.product]
    with httpx.Client(base_url=site.base, headers=headers(site, user), timeout=60) as http:
        listed = http.get("/api/files", params={"product": state.product, "limit": 100}).json()
        assert (name in [f["name"] for f in listed["files"]]) is allowed
        for path in (
            f"/api/files/{name}/metadata",
            f"/api/files/{name}",
            f"/api/files/{name}/provenance",
        ):
            answer = http.get(path)
            assert answer.status_code == (200 if allowed else refused), (path, answer.text[:200])
        head = http.head(f"/api/files/{name}")
        assert head.status_code == (200 if allowed else refused)
        events = http.get("/api/events", params={"after": 0, "limit": 10_000}).json()["events"]
        assert any(e["subject"] == name for e in events) is allowed


@pytest.mark.parametrize(("role", "state"), CELLS, ids=IDS)
def test_event_list_downloads(site: Site, role: str, state: State) -> None:
    """A mission's event lists are listed and downloaded by what their product shows."""
    allowed = sees(role, state)
    with httpx.Client(base_url=site.base, headers=headers(site, user_of(role, state))) as http:
        listed = [e["name"] for e in http.get("/api/eventlists").json()["lists"]]
        if state.name != "derived list":
            assert state.dataset not in listed  # not an event list: never one here
            answer = http.get(f"/api/eventlists/{state.dataset}")
            assert answer.status_code == 404
            return
        assert (state.dataset in listed) is allowed
        for fmt in ("csv", "json", "votable"):
            answer = http.get(f"/api/eventlists/{state.dataset}", params={"format": fmt})
            assert answer.status_code == (200 if allowed else 404), (fmt, answer.text[:200])
            if allowed:
                assert len(answer.content) > 100


@pytest.mark.parametrize(("role", "state"), CELLS, ids=IDS)
def test_the_viz_shows_what_its_user_may_see(site: Site, role: str, state: State) -> None:
    from tests.integration.test_viz_client import _callback

    user = user_of(role, state)
    answer = _callback(
        site.base,
        "..dataset.options",
        [{"id": "server", "property": "value", "value": f"{site.base}/hapi"}],
        state=[{"id": "wanted", "property": "data", "value": None}],
        cookies={"socstack_token": site.tokens[user]} if user else None,
    )
    offered = [o["value"] for o in answer["dataset"]["options"]]
    assert (state.dataset in offered) is sees(role, state), offered
    if state.name != "derived list":
        return
    # The plot page's event lists: offered, and shaded, by what their product shows.
    cookies = {"socstack_token": site.tokens[user]} if user else None
    picker = _callback(
        site.base,
        "eventlists.options",
        [{"id": "url", "property": "pathname", "value": "/viz/"}],
        cookies=cookies,
    )
    offered = [o["value"] for o in picker["eventlists"]["options"]]
    assert (state.dataset in offered) is sees(role, state), offered
    view = View(f"{site.base}/hapi", [Panel("demo_pls_l2", "density")], "2025-01-01", "2025-01-03")
    shaded = _callback(
        site.base,
        "..graph.figure@",
        [
            {"id": "view", "property": "data", "value": view.as_dict()},
            {"id": "eventlists", "property": "value", "value": [state.dataset]},
        ],
        state=[
            {"id": "eventlists", "property": "options", "value": []},
            {"id": "home", "property": "data", "value": None},
        ],
        cookies=cookies,
    )
    message = shaded["events-message"]
    if sees(role, state):
        assert message["hidden"] is True and shaded["event-rows"]["data"], message
    else:
        assert message["hidden"] is False and "HTTP 404" in message["children"], message
        assert shaded["event-rows"]["data"] == []


IDENTITIES = ["anonymous", "mag", "pls", "ops", "root"]


@pytest.mark.parametrize("user", IDENTITIES)
def test_upload_jobs_reprocess_metrics_and_audit(site: Site, user: str, tmp_path: Path) -> None:
    who = None if user == "anonymous" else user
    expected = {
        # door: the status for anonymous, mag, pls, ops, root
        "upload mag_l0": {"anonymous": 401, "mag": 201, "pls": 403, "ops": 201, "root": 201},
        "jobs": {"anonymous": 401, "mag": 200, "pls": 200, "ops": 200, "root": 200},
        "harvest": {"anonymous": 401, "mag": 200, "pls": 200, "ops": 200, "root": 200},
        "reprocess": {"anonymous": 401, "mag": 403, "pls": 403, "ops": 202, "root": 202},
        "metrics": {"anonymous": 401, "mag": 403, "pls": 403, "ops": 200, "root": 200},
        "audit": {"anonymous": 401, "mag": 403, "pls": 403, "ops": 403, "root": 200},
        # Mining: a catalog upload and a similarity search need scope run.
        "upload catalog": {"anonymous": 401, "mag": 403, "pls": 403, "ops": 201, "root": 201},
        "search": {"anonymous": 401, "mag": 403, "pls": 403, "ops": 202, "root": 202},
    }
    with httpx.Client(base_url=site.base, headers=headers(site, who), timeout=60) as http:
        day = {"mag": 5, "pls": 6, "ops": 7, "root": 8}.get(user, 9)
        name = f"demo_mag_l0_raw_202502{day:02d}_v1.0.0.pkts"
        upload = http.post(f"/api/files?name={name}", content=b"not really telemetry")
        # The right team's upload is checked as a delivery (and refused as bad content:
        # 422); the wrong one never gets that far.
        allowed_upload = expected["upload mag_l0"][user] == 201
        assert upload.status_code == (422 if allowed_upload else expected["upload mag_l0"][user])
        assert http.get("/api/jobs").status_code == expected["jobs"][user]
        assert http.get("/api/harvest").status_code == expected["harvest"][user]
        body = {"mission": "demo", "start": "2025-01-01", "stop": "2025-01-01"}
        assert http.post("/api/reprocess", json=body).status_code == expected["reprocess"][user]
        assert http.get("/metrics").status_code == expected["metrics"][user]
        assert http.get("/api/audit").status_code == expected["audit"][user]
        catalog = b"start,stop\n2025-01-01T00:00:00Z,2025-01-01T01:00:00Z\n"
        made = http.post("/api/eventlists", files={"file": ("c.csv", catalog)})
        assert made.status_code == expected["upload catalog"][user], made.text
        search = {
            "dataset": "demo_mag_l2_1s",
            "parameters": ["B_mag"],
            "query_start": "2025-01-01T10:00:00Z",
            "query_stop": "2025-01-01T10:10:00Z",
        }
        found = http.post("/api/eventlists/similar", json=search)
        assert found.status_code == expected["search"][user], found.text
        if made.status_code == 201:  # an upload is its owner's and the operators'
            url = f"{site.base}/api/eventlists/{made.json()['id']}"
            seen = {
                u: httpx.get(
                    url, headers=headers(site, None if u == "anonymous" else u)
                ).status_code
                for u in IDENTITIES
            }
            owner = {"anonymous": 404, "mag": 404, "pls": 404, "ops": 200, "root": 200}
            assert seen == {**owner, user: 200}


def test_a_second_approval_opens_the_data_at_the_next_request(site: Site) -> None:
    """An early release waits for the instrument and the project, then is public at once."""
    pls = {"Authorization": f"Bearer {site.tokens['pls']}"}
    root = {"Authorization": f"Bearer {site.tokens['root']}"}
    info = {"dataset": "demo_pls_l1b"}
    with httpx.Client(base_url=site.base, timeout=60) as http:
        assert http.get("/hapi/info", params=info).status_code == 404
        body = {
            "mission": "demo",
            "dataset": "demo_pls_l1b",
            "start": "2025-01-01T00:00:00Z",
            "stop": "2025-01-02T00:00:00Z",
            "reason": "first light, early",
        }
        asked = http.post("/api/releases", json=body, headers=pls)
        assert asked.status_code in (201, 202), asked.text
        release = asked.json()
        assert release["status"] == "pending" and release["early"] is True
        approve = f"/api/releases/{release['id']}/approve"
        assert http.post(approve, json={"role": "instrument"}, headers=pls).status_code == 200
        assert http.get("/hapi/info", params=info).status_code == 404, "one approval of two"
        done = http.post(approve, json={"role": "project"}, headers=root)
        assert done.status_code == 200 and done.json()["status"] == "effective", done.text
        opened = http.get("/hapi/info", params=info)
        assert opened.status_code == 200, "public at the very next request"
        assert (opened.json()["startDate"], opened.json()["stopDate"]) == (
            "2025-01-01T00:00:00Z",
            "2025-01-02T00:00:00Z",
        ), "the release boundary is the stop date"


BAD = "soc_0123456789abcdef_" + "q" * 43
DOORS = ["/hapi/catalog", "/hapi/info?dataset=demo_mag_l2_1s", "/api/files", "/api/jobs",
         "/api/events", "/metrics"]  # fmt: skip


@pytest.mark.parametrize("path", DOORS)
def test_a_bad_token_is_refused_at_every_door(site: Site, path: str) -> None:
    with httpx.Client(base_url=site.base, headers={"Authorization": f"Bearer {BAD}"}) as http:
        answer = http.get(path)
    assert answer.status_code == 401, answer.text
    assert "invalid_token" in answer.headers.get("www-authenticate", "")
    assert BAD not in answer.text
