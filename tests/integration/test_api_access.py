"""Access at every door of the data-center API: real HTTP (TestClient), both catalogs.

Five people ask at each door: anonymous, another instrument's team (plasma, ``pls``),
the instrument's team (magnetometer, ``mag``), an operator and an admin. The demo
mission's policy (level 2 and quicklooks public, the rest each instrument's team's) is
changed here in one way: the plasma level 2 is public only once a century old, so it
stands for embargoed data, and what is made from it (the plasma quicklooks, the combined
solar-wind level 2) for derived products. Who sees what is written out by hand in
:func:`expected`, never computed by the code under test.

Every response of every test is kept: none may be a 5xx, and none but the one that
makes a token may hold a token's text; nor may any log line of the server.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from socstack.access.limits import FailureLimiter
from socstack.access.tokens import TOKEN_PATTERN
from socstack.catalog.events import append_event
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import (
    Event,
    File,
    FileSource,
    FileStatus,
    Job,
    JobStatus,
    QuarantinedFile,
)
from socstack.catalog.runs import Run
from socstack.config import Settings, get_settings
from socstack.mission.release import Policy
from socstack.runtime import Runtime
from socstack.web import create_web_app
from tests.conftest import (
    DEMO_MISSION,
    archive_listing,
    create_postgres_database,
    drop_postgres_database,
    explicit_settings,
)
from tests.integration.people import EVERY_SCOPE, bearer, person
from tests.integration.pipeline_stack import PIPETEST
from tests.integration.test_jobs_api import drain

PEOPLE = ("anonymous", "pls", "mag", "operator", "admin")
GROUPS = {
    "pls": ["demo:pls"],
    "mag": ["demo:mag"],
    "operator": ["operators"],
    "admin": ["admins"],
}
SCOPES = {
    "pls": ["read", "upload", "release"],
    "mag": ["read", "upload", "release"],
    "operator": ["read", "run"],
    "admin": list(EVERY_SCOPE),
}
EVERYONE = frozenset(PEOPLE)
STAFF = frozenset({"operator", "admin"})
MAG = STAFF | {"mag"}
PLS = STAFF | {"pls"}

#: Who sees each product's files (both days) under the policy of these tests.
SEEN = {
    "mag_l0": MAG,
    "mag_cal": MAG,
    "mag_l1a": MAG,  # never public: the instrument's team's working material
    "mag_l1b": MAG,
    "mag_l2": EVERYONE,  # public always
    "mag_l2_1m": EVERYONE,
    "mag_ql": EVERYONE,
    "pls_l0": PLS,
    "pls_cal": PLS,
    "pls_l1a": PLS,
    "pls_l1b": PLS,
    "pls_l2": PLS,  # embargoed: public once a century old
    "pls_ql": PLS,  # public by its own policy, held to its embargoed input
    # Made from mag_l2 (public) and pls_l2 (embargoed): its team is demo:sw, so the
    # magnetometer team sees only what is public of it, which the plasma input closes.
    "sw_l2": PLS,
    # The detectors' event lists: public by their level, held to their inputs like sw_l2.
    "sw_l3_shocks": PLS,
    "pls_l3_dense": PLS,
    "pls_l3_speedchanges": PLS,
}
DAY1, DAY2 = "2025-01-01", "2025-01-02"
#: After the magnetometer team unreleases its level 2 of the first day.
UNRELEASED_DAY1 = {
    "mag_l2": MAG,
    "mag_l2_1m": MAG,  # made from it, closed with it
    "mag_ql": MAG,
    "sw_l2": STAFF,  # now held to both inputs: neither team sees all of it
    "sw_l3_shocks": STAFF,
}


def expected(product: str, partition: str, *, unreleased: bool = False) -> frozenset[str]:
    """Who may see a file of ``product`` for ``partition`` (by hand, from the policy)."""
    if unreleased and partition == DAY1 and product in UNRELEASED_DAY1:
        return UNRELEASED_DAY1[product]
    return SEEN[product]


DOORS = (
    ("GET", "/api/files/{}"),
    ("HEAD", "/api/files/{}"),
    ("GET", "/api/files/{}/metadata"),
    ("GET", "/api/files/{}/provenance"),
)


@dataclass
class Center:
    """A data center with two processed demo days, five people, and every answer kept."""

    runtime: Runtime
    client: TestClient
    tokens: dict[str, str | None]
    answers: list[httpx.Response] = field(default_factory=list)

    def keep(self, response: httpx.Response) -> None:
        response.read()
        self.answers.append(response)

    def ask(self, who: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A request as ``who`` (a person's name, or a token's text)."""
        token = self.tokens[who] if who in self.tokens else who
        headers = {**bearer(token), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def add(self, name: str, groups: list[str], scopes: list[str]) -> str:
        """One more person."""
        self.tokens[name] = person(self.runtime, name, groups, scopes)
        return name

    def files(self) -> list[tuple[str, str, str]]:
        """(product, partition, name) of every archived demo file."""
        with self.runtime.catalog.session() as session:
            rows = session.execute(
                select(File.product, File.partition, File.name)
                .where((File.mission == "demo") & (File.status == FileStatus.ARCHIVED))
                .order_by(File.name)
            ).all()
        return [tuple(r) for r in rows]  # type: ignore[misc]

    def name(self, product: str, partition: str) -> str:
        return next(n for p, d, n in self.files() if p == product and d == partition)

    def unrelease_mag_day1(self) -> dict[str, Any]:
        response = self.ask(
            "mag",
            "POST",
            "/api/releases",
            json={
                "mission": "demo",
                "product": "mag_l2",
                "start": "2025-01-01T00:00:00Z",
                "stop": "2025-01-02T00:00:00Z",
                "reason": "a bad calibration",
                "kind": "unrelease",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()


def embargo(runtime: Runtime) -> None:
    """The plasma level 2 is public only once a century old (this test's embargo)."""
    mission = runtime.missions.mission("demo")
    mission.release.policies = [
        Policy(products=["pls_l2"], public="always", latency="P36500D"),
        *mission.release.policies,
    ]


@dataclass(frozen=True)
class Processed:
    """The demo days ingested and processed under this module's policy, built once."""

    data: Path  # the data folder: archive, quarantine, spool
    catalog: str  # its catalog: a SQLite file, or a PostgreSQL database to copy


def _settings(data: Path, database_url: str) -> Settings:
    # Every change is seen at once (the caches' delays are the core's to test).
    return explicit_settings(
        data,
        database_url=database_url,
        missions=[DEMO_MISSION, PIPETEST],
        token_cache_seconds=0,
        release_cache_seconds=0,
    )


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]
)
def processed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, demo_files: Path
) -> Iterator[Processed]:
    """Ingesting and processing both days takes seconds: done once per catalog backend.

    Each test gets a copy (:func:`center`): the data folder copied, the catalog copied
    (SQLite's backup, PostgreSQL's ``CREATE DATABASE ... TEMPLATE``), ids and all.
    """
    folder = tmp_path_factory.mktemp("access")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'catalog.sqlite'}"
    else:
        url = create_postgres_database("socstack_access")
    runtime = Runtime(_settings(folder / "soc-data", url))
    upgrade(runtime.catalog)
    embargo(runtime)
    delivery = folder / "delivery"
    shutil.copytree(demo_files, delivery)
    for path in sorted(delivery.iterdir()):
        runtime.ingestor.ingest(path, source=FileSource.CLI)
    drain(runtime)
    runtime.close()  # a template database must have no connection left
    yield Processed(folder / "soc-data", url)
    if request.param == "postgresql":
        drop_postgres_database(url)


@pytest.fixture
def processed_catalog(processed: Processed, tmp_path: Path) -> Iterator[str]:
    """A private copy of :func:`processed` (its data folder at SOC_DATA_DIR); its catalog."""
    shutil.copytree(processed.data, tmp_path / "soc-data")
    if processed.catalog.startswith("sqlite"):
        copy = tmp_path / "catalog.sqlite"
        with (
            closing(sqlite3.connect(make_url(processed.catalog).database or "")) as source,
            closing(sqlite3.connect(copy)) as target,
        ):
            source.backup(target)
        yield f"sqlite:///{copy}"
        return
    url = create_postgres_database("socstack_access", template=processed.catalog)
    yield url
    drop_postgres_database(url)


@pytest.fixture
def center(
    processed_catalog: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Center]:
    monkeypatch.setenv("SOC_DATABASE_URL", processed_catalog)
    monkeypatch.setenv("SOC_TOKEN_CACHE_SECONDS", "0")
    monkeypatch.setenv("SOC_RELEASE_CACHE_SECONDS", "0")
    monkeypatch.setenv("SOC_MISSIONS", f"{DEMO_MISSION},{PIPETEST}")
    get_settings.cache_clear()
    caplog.set_level(logging.INFO)
    runtime = Runtime(get_settings())
    assert runtime.settings.data_dir == tmp_path / "soc-data"
    embargo(runtime)
    tokens: dict[str, str | None] = {"anonymous": None}
    for who, groups in GROUPS.items():
        tokens[who] = person(runtime, who, groups, SCOPES[who])
    with TestClient(create_web_app(runtime), raise_server_exceptions=False) as client:
        made = Center(runtime, client, tokens)
        client.event_hooks = {"request": [], "response": [made.keep]}
        yield made
    runtime.close()
    # Across every answer of the test: no 5xx, and no token but in the answer making it.
    assert [str(r.request.url) for r in made.answers if r.status_code >= 500] == []
    for response in made.answers:
        making = response.request.method == "POST" and response.request.url.path == "/api/tokens"
        if not (making and response.status_code == 201):
            found = TOKEN_PATTERN.search(response.text)
            assert found is None, f"a token in the answer to {response.request.url}"
    logged = [r for when in ("setup", "call") for r in caplog.get_records(when)]  # type: ignore[arg-type]
    server = [r for r in logged if not r.name.startswith("httpx")]
    assert any(r.name == "socstack.access.audit" for r in server), "the server's log is seen"
    for record in server:
        text = record.getMessage() + (record.exc_text or "")
        assert TOKEN_PATTERN.search(text) is None, f"a token in a log line of {record.name}"


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [f["name"] for f in response.json()["files"]]


def refused(response: httpx.Response, who: str, what: str = "") -> None:
    """401 with a challenge for anonymous, 403 for a known person; problem details."""
    where = f"{who} {response.request.method} {response.request.url.path} {what}"
    if who == "anonymous":
        assert response.status_code == 401, where
        assert response.headers["www-authenticate"].startswith('Bearer realm="socstack"'), where
    else:
        assert response.status_code == 403, where
        assert "www-authenticate" not in response.headers, where
    if response.request.method != "HEAD":
        assert response.headers["content-type"] == "application/problem+json", where
        assert response.json()["status"] == response.status_code, where


def check_files(center: Center, *, unreleased: bool) -> None:
    """Every file door, for every person and every file, against the table."""
    files = center.files()
    assert len(files) == 26 + 6, "two days of ten rules, and three detectors"
    public = {n for p, d, n in files if "anonymous" in expected(p, d, unreleased=unreleased)}
    for who in PEOPLE:
        listing = center.ask(who, "GET", "/api/files?limit=10000")
        listed = names(listing)
        want = {n for p, d, n in files if who in expected(p, d, unreleased=unreleased)}
        assert set(listed) == want, (who, sorted(set(listed) ^ want))
        assert listing.json()["total"] == len(want), who
        released = {f["name"] for f in listing.json()["files"] if f["released"]}
        assert released == public & want, (who, "released means public")
        for product, partition, name in files:
            sees = who in expected(product, partition, unreleased=unreleased)
            for method, path in DOORS:
                answer = center.ask(who, method, path.format(name))
                if sees:
                    assert answer.status_code == 200, (who, method, path, name, answer.text)
                else:
                    refused(answer, who, name)
                    assert name not in answer.text, "a refusal does not show the file"


# -- the file doors ---------------------------------------------------------------------------


def test_each_file_door_answers_each_person_by_the_policy_and_an_unrelease(
    center: Center,
) -> None:
    check_files(center, unreleased=False)
    # The magnetometer team closes its first day again: what was made from it closes too.
    record = center.unrelease_mag_day1()
    assert (record["kind"], record["status"]) == ("unrelease", "effective")
    check_files(center, unreleased=True)
    for who in PEOPLE:
        missing = center.ask(who, "GET", "/api/files/demo_mag_l2_1s-gse_20991231_v1.0.0.cdf")
        assert missing.status_code == 404, (who, "no such file is 404 for everyone")
        assert center.ask(who, "HEAD", "/api/files/nothing.cdf").status_code == 404


def test_a_provenance_tree_withholds_the_inputs_the_asker_may_not_see(center: Center) -> None:
    sw = center.name("sw_l2", DAY1)
    hidden = ("mag_l1b", "mag_l1a", "mag_l0", "mag_anc", "mag_cal")

    def nodes(tree: dict[str, Any]) -> list[dict[str, Any]]:
        return [tree, *(n for child in tree["inputs"] for n in nodes(child))]

    # The plasma team sees the combined product, the public mag_l2 it was made from, and
    # all of its own chain; the magnetometer chain below mag_l2 is withheld, unnamed.
    answer = center.ask("pls", "GET", f"/api/files/{sw}/provenance")
    assert answer.status_code == 200, answer.text
    tree = answer.json()
    withheld = [n for n in nodes(tree) if n["withheld"]]
    assert [(n["name"], n["product"], n["inputs"]) for n in withheld] == [(None, "mag_l1b", [])]
    named = {n["product"] for n in nodes(tree) if not n["withheld"]}
    assert named == {"sw_l2", "mag_l2", "pls_l2", "pls_l1b", "pls_l1a", "pls_l0", "pls_cal"}
    assert not any(f"demo_{p}" in answer.text for p in hidden), "no hidden file is named"
    # An operator sees the whole tree, down to both deliveries.
    full = center.ask("operator", "GET", f"/api/files/{sw}/provenance").json()
    assert not any(n["withheld"] for n in nodes(full))
    assert {n["product"] for n in nodes(full)} >= {"mag_l0", "mag_cal", "pls_l0", "pls_cal"}
    # Anonymous on a public file: its own chain is the team's.
    public = center.ask("anonymous", "GET", f"/api/files/{center.name('mag_ql', DAY2)}/provenance")
    tree = public.json()
    assert [n["product"] for n in nodes(tree) if not n["withheld"]] == ["mag_ql", "mag_l2"]
    assert [n["product"] for n in nodes(tree) if n["withheld"]] == ["mag_l1b"]


def test_listings_page_and_count_after_filtering_in_one_query_per_page(center: Center) -> None:
    for who in ("anonymous", "pls", "mag"):
        every = names(center.ask(who, "GET", "/api/files?limit=10000"))
        pages: list[str] = []
        for offset in range(0, len(every) + 3, 3):
            page = center.ask(who, "GET", f"/api/files?limit=3&offset={offset}").json()
            assert page["total"] == len(every), who
            pages += [f["name"] for f in page["files"]]
        assert pages == every, f"{who}: full pages, in order, nothing hidden in between"
    level2 = names(center.ask("anonymous", "GET", "/api/files?level=l2"))
    assert sorted(level2) == sorted(
        center.name(p, d) for p in ("mag_l2", "mag_l2_1m") for d in (DAY1, DAY2)
    ), "not the embargoed plasma level 2, nor the solar wind made from it"
    # The quicklook gallery asks without credentials, and sees the public quicklooks.
    gallery = names(center.ask("anonymous", "GET", "/api/files?level=ql&limit=10000"))
    assert gallery == [center.name("mag_ql", DAY1), center.name("mag_ql", DAY2)]
    image = center.ask("anonymous", "GET", f"/api/files/{gallery[0]}")
    assert (image.status_code, image.headers["content-type"]) == (200, "image/png")
    assert image.headers["cache-control"].startswith("public")
    private = center.ask("mag", "GET", f"/api/files/{center.name('mag_l1a', DAY1)}")
    assert private.headers["cache-control"].startswith("private"), "no shared cache keeps it"

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = center.runtime.catalog.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        spent = {}
        for limit in (1, 2):
            statements.clear()
            assert len(names(center.ask("pls", "GET", f"/api/files?product=sw_l2&limit={limit}")))
            spent[limit] = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert spent[1] == spent[2], f"the cost of a page does not grow with its files: {spent}"


# -- uploads ----------------------------------------------------------------------------------


def test_a_team_uploads_its_own_instruments_files_only(
    center: Center, demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = center.runtime
    mag = (demo_copy / "demo_mag_l0_raw_20250101_v1.0.0.pkts").read_bytes()
    pls = (demo_copy / "demo_pls_l0_raw_20250101_v1.0.0.pkts").read_bytes()
    new_mag, new_pls = (
        "demo_mag_l0_raw_20250101_v1.0.1.pkts",
        "demo_pls_l0_raw_20250101_v1.0.1.pkts",
    )
    read_only = runtime.access.accounts.create_token("mag", ["read"], actor="test")[1]

    def quarantined() -> int:
        with runtime.catalog.session() as session:
            return session.scalar(select(func.count()).select_from(QuarantinedFile)) or 0

    before = archive_listing(runtime)
    attempts = [
        ("anonymous", new_mag, mag),
        ("pls", new_mag, mag),  # another instrument's team
        ("mag", new_pls, pls),
        (read_only, new_mag, mag),  # the team, with a read-only token
        ("operator", new_mag, mag),  # no upload scope
    ]
    for who, name, content in attempts:
        multipart = center.ask(who, "POST", "/api/files", files={"file": (name, content)})
        refused(multipart, "anonymous" if who == "anonymous" else "someone", name)
        raw = center.ask(who, "POST", f"/api/files?name={name}", content=content)
        refused(raw, "anonymous" if who == "anonymous" else "someone", name)
    assert archive_listing(runtime) == before, "nothing refused was archived"
    assert quarantined() == 0, "nor quarantined"
    assert not any(runtime.settings.spool_dir.iterdir()), "nor left in the spool"
    # A name given in the URL is refused before the body is read: not 413 but 403.
    monkeypatch.setattr(runtime.settings, "upload_max_bytes", 10)
    early = center.ask("pls", "POST", f"/api/files?name={new_mag}", content=mag)
    assert early.status_code == 403, early.text
    monkeypatch.setattr(runtime.settings, "upload_max_bytes", 1 << 30)

    made = center.ask("mag", "POST", "/api/files", files={"file": (new_mag, mag)})
    assert (made.status_code, made.json()["outcome"]) == (201, "archived"), made.text
    admin = center.ask("admin", "POST", f"/api/files?name={new_pls}", content=pls)
    assert admin.status_code == 201, admin.text
    # A name that matches no product has no team: quarantined, for whoever may upload.
    odd = center.ask("pls", "POST", "/api/files", files={"file": ("notes.txt", b"hello")})
    assert (odd.status_code, odd.json()["outcome"]) == (422, "quarantined")
    refused(center.ask("anonymous", "POST", "/api/files?name=notes.txt", content=b"x"), "anonymous")
    assert quarantined() == 1


# -- jobs -------------------------------------------------------------------------------------


def test_jobs_are_the_missions_teams_and_running_them_the_operators(
    center: Center, tmp_path: Path
) -> None:
    runtime = center.runtime
    delivery = tmp_path / "pipetest"
    delivery.mkdir()
    for name, content in (
        ("pipetest_a_l0_raw_20250101_v1.0.0.csv", "value\n1\n2\n"),
        ("pipetest_a_anc_cal_20250101_v1.0.0.csv", "gain\n2\n"),
    ):
        (delivery / name).write_text(content)
        runtime.ingestor.ingest(delivery / name, source=FileSource.CLI)
    drain(runtime)
    center.add("pa", ["pipetest:a"], ["read", "upload"])  # another mission's team
    center.add("mag-run", ["demo:mag"], ["read", "run"])  # a team member with scope run
    with runtime.catalog.transaction() as session:
        jobs = list(session.scalars(select(Job).order_by(Job.id)))
        demo = [j.id for j in jobs if j.mission == "demo"]
        pipetest = [j.id for j in jobs if j.mission == "pipetest"]
        failed = [demo[0], pipetest[0]]  # two failures to retry
        for job in jobs:
            if job.id in failed:
                job.status = JobStatus.FAILED
    assert len(demo) == 20 + 12 and pipetest  # the detectors: 6 run, 6 waiting for neighbours

    def listed(who: str, query: str = "") -> set[int]:
        answer = center.ask(who, "GET", f"/api/jobs?limit=1000{query}")
        assert answer.status_code == 200, (who, answer.text)
        body = answer.json()
        assert body["total"] == sum(body["counts"].values()) == len(body["jobs"])
        return {j["id"] for j in body["jobs"]}

    assert listed("pls") == listed("mag") == set(demo), "a mission's teams see its jobs"
    assert listed("pa") == set(pipetest)
    assert listed("operator") == listed("admin") == set(demo) | set(pipetest)
    assert listed("operator", "&mission=pipetest") == set(pipetest)
    refused(center.ask("anonymous", "GET", "/api/jobs"), "anonymous")
    refused(center.ask("anonymous", "GET", f"/api/jobs/{demo[0]}"), "anonymous")
    refused(center.ask("pa", "GET", f"/api/jobs/{demo[0]}"), "pa")
    refused(center.ask("pls", "GET", "/api/jobs?mission=pipetest"), "pls")
    assert center.ask("pls", "GET", f"/api/jobs/{demo[-1]}").status_code == 200
    assert center.ask("pa", "GET", f"/api/jobs/{pipetest[0]}").status_code == 200
    assert center.ask("pls", "GET", "/api/jobs/999999").status_code == 404

    week = {"mission": "demo", "start": "2025-01-01", "stop": "2025-01-07"}
    for who in ("anonymous", "pls", "mag", "mag-run", "pa"):
        for job_id in failed:
            refused(center.ask(who, "POST", f"/api/jobs/{job_id}/retry"), who)
        refused(center.ask(who, "POST", "/api/reprocess", json=week), who)
    with runtime.catalog.session() as session:
        states = {session.get(Job, job_id).status for job_id in failed}
    assert states == {JobStatus.FAILED}, "a refusal changes nothing"
    for who, job_id in zip(("operator", "admin"), failed, strict=True):
        retried = center.ask(who, "POST", f"/api/jobs/{job_id}/retry")
        assert (retried.status_code, retried.json()["status"]) == (200, "queued"), retried.text
        again = center.ask(who, "POST", "/api/reprocess", json=week)
        assert again.status_code == 202, again.text


# -- notebook runs ----------------------------------------------------------------------------


def test_runs_are_submitted_with_scope_run_and_seen_by_who_may_read_their_inputs(
    center: Center,
) -> None:
    center.add("mag-run", ["demo:mag"], ["read", "run"])
    center.add("pls-run", ["demo:pls"], ["read", "run"])
    for who in ("anonymous", "pls", "mag"):  # no scope run
        refused(center.ask(who, "GET", "/api/notebooks"), who)
        asked = {"notebook": "demo/empty.ipynb"}
        refused(center.ask(who, "POST", "/api/runs", json=asked), who)
    library = center.ask("mag-run", "GET", "/api/notebooks").json()["notebooks"]
    assert {"demo/empty.ipynb", "demo/interval.ipynb"} <= {n["name"] for n in library}
    made = center.ask("mag-run", "POST", "/api/runs", json={"notebook": "demo/empty.ipynb"})
    assert made.status_code == 202, made.text
    run_id = made.json()["id"]
    url = f"/api/runs/{run_id}"

    def sees(who: str) -> bool:
        answer = center.ask(who, "GET", url)
        assert answer.status_code in (200, 404), (who, answer.text)
        return answer.status_code == 200

    # It read nothing yet: its submitter and the staff see it; nobody else knows of it.
    assert {w for w in ("mag-run", "pls-run", "mag", "operator", "admin") if sees(w)} == {
        "mag-run",
        "operator",
        "admin",
    }
    refused(center.ask("anonymous", "GET", url), "anonymous")
    # A run that read the withheld magnetometer L1B is the magnetometer team's to see.
    withheld = center.name("mag_l1b", DAY1)
    with center.runtime.catalog.transaction() as session:
        session.get(Run, run_id).reads = [withheld]  # type: ignore[union-attr]
    assert {w for w in ("mag-run", "pls-run", "mag", "pls", "operator") if sees(w)} == {
        "mag-run",
        "mag",
        "operator",
    }
    assert center.ask("pls-run", "GET", f"{url}/outputs/notebook.html").status_code == 404
    assert center.ask("mag", "GET", f"{url}/outputs/notebook.html").status_code == 404
    assert center.ask("pls-run", "GET", "/api/runs").json()["runs"] == []
    assert [r["id"] for r in center.ask("mag-run", "GET", "/api/runs").json()["runs"]] == [run_id]
    assert [r["id"] for r in center.ask("operator", "GET", "/api/runs").json()["runs"]] == [run_id]
    # Its job is its submitter's too: not among the mission's jobs its team sees.
    job = made.json()["job"]
    assert job not in {j["id"] for j in center.ask("mag", "GET", "/api/jobs").json()["jobs"]}
    assert center.ask("mag", "GET", f"/api/jobs/{job}").status_code == 404
    assert center.ask("operator", "GET", f"/api/jobs/{job}").status_code == 200


# -- events -----------------------------------------------------------------------------------


def test_each_person_reads_the_events_of_what_they_may_see(center: Center) -> None:
    runtime = center.runtime
    with runtime.catalog.transaction() as session:
        for mission in ("demo", "pipetest"):
            payload = {"job": 1, "mission": mission, "rule": "x", "status": "failed"}
            append_event(runtime.catalog, session, "job.failed", f"x {mission}", payload)
        append_event(runtime.catalog, session, "planner.failed", "e", {"error": "x"})
    quarantined = center.ask("mag", "POST", "/api/files", files={"file": ("notes.txt", b"x")})
    assert quarantined.status_code == 422
    center.unrelease_mag_day1()  # an unrelease of a product anyone sees some of
    hidden = center.ask(  # an unrelease of a product nobody but its team sees anything of
        "pls",
        "POST",
        "/api/releases",
        json={
            "mission": "demo",
            "product": "pls_l2",
            "start": "2025-01-02T00:00:00Z",
            "stop": "2025-01-03T00:00:00Z",
            "reason": "noise",
            "kind": "unrelease",
        },
    )
    assert hidden.status_code == 201, hidden.text
    center.add("pa", ["pipetest:a"], ["read"])
    files = center.files()

    def read(who: str, limit: int = 10_000) -> tuple[list[dict[str, Any]], int]:
        events, after = [], 0
        while True:
            page = center.ask(who, "GET", f"/api/events?after={after}&limit={limit}").json()
            events += page["events"]
            if page["last_id"] == after:
                return events, after
            after = page["last_id"]

    every, last = read("admin")
    for who in (*PEOPLE, "pa"):
        events, end = read(who)
        assert end == last, f"{who}: last_id walks over what is hidden to the end"
        assert read(who, limit=2)[0] == events, f"{who}: pages of two give the same events"
        archived = {e["subject"] for e in events if e["kind"] == "file.archived"}
        like = "anonymous" if who == "pa" else who  # another mission's team: what is public
        want = {n for p, d, n in files if like in expected(p, d, unreleased=True)}
        assert archived == want, (who, sorted(archived ^ want))
        kinds = {(e["kind"], e["subject"]) for e in events if not e["kind"].startswith("file.a")}
        jobs = {k for k in kinds if k[0] == "job.failed"}
        releases = {e["payload"]["product"] for e in events if e["kind"] == "release.effective"}
        staff_only = {k[0] for k in kinds} & {"file.quarantined", "planner.failed"}
        if who in STAFF:
            assert jobs == {("job.failed", "x demo"), ("job.failed", "x pipetest")}
            assert releases == {"mag_l2", "pls_l2"}
            assert staff_only == {"file.quarantined", "planner.failed"}
            continue
        assert staff_only == set(), who
        mission = {"anonymous": None, "pa": "pipetest"}.get(who, "demo")
        assert jobs == ({("job.failed", f"x {mission}")} if mission else set()), who
        assert releases == ({"mag_l2", "pls_l2"} if who == "pls" else {"mag_l2"}), who
    with runtime.catalog.session() as session:
        assert len(every) == session.scalar(select(func.count()).select_from(Event))


# -- tokens -----------------------------------------------------------------------------------


def test_tokens_made_used_listed_revoked_expired_and_malformed(center: Center) -> None:
    runtime = center.runtime
    made = center.ask("mag", "POST", "/api/tokens", json={"scopes": ["read"], "label": "notebook"})
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    text = made.json()["text"]
    assert TOKEN_PATTERN.fullmatch(text)
    mine = made.json()["token"]
    assert (mine["user"], mine["scopes"], mine["state"]) == ("mag", ["read"], "active")
    me = center.ask(text, "GET", "/api/whoami").json()
    assert (me["user"], me["scopes"], me["token"]) == ("mag", ["read"], mine["id"])
    upload = "/api/files?name=demo_mag_l0_raw_20250101_v1.0.3.pkts"
    refused(center.ask(text, "POST", upload, content=b"x"), "mag", "a read token uploads nothing")
    wider = center.ask("mag", "POST", "/api/tokens", json={"scopes": ["read", "run"]})
    refused(wider, "mag", "no more scopes than the token used")
    refused(center.ask(text, "POST", "/api/tokens", json={"scopes": ["upload"]}), "mag")
    refused(
        center.ask("mag", "POST", "/api/tokens", json={"user": "pls", "scopes": ["read"]}), "mag"
    )
    refused(center.ask("anonymous", "POST", "/api/tokens", json={"scopes": ["read"]}), "anonymous")
    past = center.ask(
        "mag", "POST", "/api/tokens", json={"scopes": ["read"], "expires_at": "2020-01-01"}
    )
    assert past.status_code == 422, past.text

    listing = center.ask("mag", "GET", "/api/tokens").json()["tokens"]
    assert {t["user"] for t in listing} == {"mag"} and len(listing) == 2
    refused(center.ask("mag", "GET", "/api/tokens?user=pls"), "mag")
    refused(center.ask("anonymous", "GET", "/api/tokens"), "anonymous")
    every = center.ask("admin", "GET", "/api/tokens").json()["tokens"]
    assert {t["user"] for t in every} == {"pls", "mag", "operator", "admin"}

    pls_token = next(t["id"] for t in every if t["user"] == "pls")
    refused(center.ask("mag", "DELETE", f"/api/tokens/{pls_token}"), "mag", "not yours")
    refused(center.ask("anonymous", "DELETE", f"/api/tokens/{pls_token}"), "anonymous")
    revoked = center.ask("mag", "DELETE", f"/api/tokens/{mine['id']}")
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked")
    assert center.ask("admin", "DELETE", f"/api/tokens/{pls_token}").json()["state"] == "revoked"
    assert center.ask("admin", "DELETE", "/api/tokens/0123456789abcdef").status_code == 404

    expiring = center.ask(
        "admin",
        "POST",
        "/api/tokens",
        json={"user": "mag", "scopes": ["read"], "expires_at": "2999-01-01T00:00:00"},
    ).json()
    from socstack.catalog.accounts import Token

    with runtime.catalog.transaction() as session:
        session.get(Token, expiring["token"]["id"]).expires_at = dt.datetime.now(dt.UTC)
    basic = base64.b64encode(f"mag:{center.tokens['mag']}".encode()).decode()
    cookie = {"Cookie": f"socstack_token={center.tokens['mag']}"}
    assert center.ask("anonymous", "GET", "/api/whoami", headers=cookie).json()["user"] == "mag"
    good = center.ask(
        "anonymous", "GET", "/api/whoami", headers={"Authorization": f"Basic {basic}"}
    )
    assert good.json()["user"] == "mag", "HTTP Basic, the token as password"
    bad = {
        "revoked": {"Authorization": f"Bearer {text}"},
        "revoked by an admin": {"Authorization": f"Bearer {center.tokens['pls']}"},
        "expired": {"Authorization": f"Bearer {expiring['text']}"},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "unknown": {"Authorization": "Bearer soc_0123456789abcdef_" + "A" * 43},
        "wrong scheme": {"Authorization": "Digest abc"},
        "broken basic": {"Authorization": "Basic %%%"},
        "in the URL": {},
    }
    for what, headers in bad.items():
        url = f"/api/whoami?token={center.tokens['mag']}" if what == "in the URL" else "/api/files"
        answer = center.ask("anonymous", "GET", url, headers=headers)
        assert answer.status_code == 401, (what, answer.text)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], what
        assert answer.headers["content-type"] == "application/problem+json", what
    # Too many failures from one client: it waits, whatever it sends.
    runtime.access.failures = FailureLimiter(3)
    for _ in range(3):
        answer = center.ask("anonymous", "GET", "/api/files", headers=bad["unknown"])
        assert answer.status_code == 401
    held = center.ask("mag", "GET", "/api/whoami")
    assert held.status_code == 429, held.text
    assert 0 < int(held.headers["retry-after"]) <= 61


# -- releases ---------------------------------------------------------------------------------


def test_an_early_release_with_its_approvals_and_a_withdrawal(center: Center) -> None:
    center.add("pi", ["demo:project"], ["read", "release"])
    pls_l2 = center.name("pls_l2", DAY1)
    derived = (center.name("sw_l2", DAY1), center.name("pls_ql", DAY1))
    body = {
        "mission": "demo",
        "product": "pls_l2",
        "start": "2025-01-01T00:00:00",
        "stop": "2025-01-02T00:00:00",
        "reason": "a storm the community asks for",
    }
    refused(center.ask("anonymous", "POST", "/api/releases", json=body), "anonymous")
    refused(center.ask("mag", "POST", "/api/releases", json=body), "mag")
    made = center.ask("pls", "POST", "/api/releases", json=body)
    assert made.status_code == 201, made.text
    release = made.json()
    assert (release["early"], release["status"], release["waiting_for"]) == (
        True,
        "pending",
        ["instrument", "project"],
    )
    approve = f"/api/releases/{release['id']}/approve"
    refused(center.ask("anonymous", "POST", approve, json={"role": "instrument"}), "anonymous")
    refused(center.ask("mag", "POST", approve, json={"role": "instrument"}), "mag")
    refused(center.ask("pls", "POST", approve, json={"role": "project"}), "pls")
    assert center.ask("pls", "POST", approve, json={"role": "nonsense"}).status_code == 422
    half = center.ask("pls", "POST", approve, json={"role": "instrument"})
    assert (half.status_code, half.json()["status"]) == (200, "pending"), half.text
    refused(center.ask("anonymous", "GET", f"/api/files/{pls_l2}"), "anonymous")
    done = center.ask("pi", "POST", approve, json={"role": "project"})
    assert (done.status_code, done.json()["status"]) == (200, "effective"), done.text
    assert center.ask("pi", "POST", approve, json={"role": "project"}).status_code == 409
    # Now public, and so is what was made from it alone or with public data.
    for name in (pls_l2, *derived):
        assert center.ask("anonymous", "GET", f"/api/files/{name}").status_code == 200, name
    refused(
        center.ask("anonymous", "GET", f"/api/files/{center.name('pls_l2', DAY2)}"), "anonymous"
    )

    second = center.ask(
        "pls", "POST", "/api/releases", json=body | {"start": "2025-01-02", "stop": "2025-01-03"}
    )
    withdraw = f"/api/releases/{second.json()['id']}/withdraw"
    refused(center.ask("anonymous", "POST", withdraw), "anonymous")
    refused(center.ask("mag", "POST", withdraw), "mag")
    assert center.ask("pls", "POST", withdraw).json()["status"] == "withdrawn"
    assert center.ask("pls", "POST", withdraw).status_code == 409
    assert center.ask("pls", "POST", f"/api/releases/{release['id']}/withdraw").status_code == 409

    def listed(who: str) -> set[int]:
        answer = center.ask(who, "GET", "/api/releases")
        assert answer.status_code == 200, answer.text
        return {r["id"] for r in answer.json()["releases"]}

    both = {release["id"], second.json()["id"]}
    assert listed("pls") == listed("operator") == listed("admin") == both
    assert listed("anonymous") == listed("mag") == {release["id"]}, "effective and public"
    hidden = f"/api/releases/{second.json()['id']}"
    assert center.ask("anonymous", "GET", hidden).status_code == 404
    assert center.ask("pls", "GET", hidden).status_code == 200

    mistakes = [
        body | {"product": "mag_l1a"},  # never public
        body | {"stop": "2024-12-31T00:00:00"},  # before its start
        body | {"mission": "nope"},
        body | {"product": "nope"},
        body | {"reason": ""},
        body | {"kind": "open"},
    ]
    for mistake in mistakes:
        who = "mag" if mistake["product"] == "mag_l1a" else "pls"
        answer = center.ask(who, "POST", "/api/releases", json=mistake)
        assert answer.status_code == 422, (mistake, answer.text)


# -- the audit log, the operators' doors, users -----------------------------------------------


def test_the_audit_log_lists_releases_approvals_tokens_and_refusals_for_admins(
    center: Center,
) -> None:
    center.add("pi", ["demo:project"], ["read", "release"])
    center.unrelease_mag_day1()
    early = center.ask(
        "pls",
        "POST",
        "/api/releases",
        json={
            "mission": "demo",
            "product": "pls_l2",
            "start": "2025-01-01T00:00:00Z",
            "stop": "2025-01-02T00:00:00Z",
            "reason": "x",
        },
    ).json()
    center.ask("pi", "POST", f"/api/releases/{early['id']}/approve", json={"role": "project"})
    made = center.ask("mag", "POST", "/api/tokens", json={"scopes": ["read"]}).json()
    center.ask("mag", "DELETE", f"/api/tokens/{made['token']['id']}")
    center.ask("anonymous", "GET", f"/api/files/{center.name('mag_l1a', DAY1)}")  # 401
    center.ask("pls", "GET", f"/api/files/{center.name('mag_l1a', DAY1)}")  # 403
    center.ask("anonymous", "GET", "/api/files", headers=bearer(made["text"]))  # revoked
    for who in ("anonymous", "pls", "mag", "operator"):
        refused(center.ask(who, "GET", "/api/audit"), who)

    entries: list[dict[str, Any]] = []
    after = 0
    while page := center.ask("admin", "GET", f"/api/audit?after={after}&limit=5").json()["entries"]:
        entries += page
        after = page[-1]["id"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    done = {(e["actor"], e["action"], e["outcome"]) for e in entries}
    assert {
        ("mag", "unrelease.request", "effective"),
        ("pls", "release.request", "pending"),
        ("pi", "release.approve", "pending"),
        ("mag", "token.create", "ok"),
        ("mag", "token.revoke", "ok"),
        ("anonymous", "api.read", "denied"),
        ("pls", "api.read", "denied"),
        ("anonymous", "api.authenticate", "denied"),
        ("pls", "api.admin", "denied"),
        ("operator", "api.admin", "denied"),
    } <= done, sorted(done)
    refusal = next(e for e in entries if e["actor"] == "pls" and e["action"] == "api.read")
    assert refusal["target"] == f"GET /api/files/{center.name('mag_l1a', DAY1)}"
    assert refusal["detail"]["status"] == 403
    revoked = next(e for e in entries if e["action"] == "api.authenticate")
    assert revoked["detail"]["reason"] == "revoked token"
    mine = center.ask("admin", "GET", "/api/audit?actor=pi").json()["entries"]
    assert {e["actor"] for e in mine} == {"pi"}


def test_quarantine_and_metrics_are_for_operators_and_some_doors_stay_open(
    center: Center,
) -> None:
    center.runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)  # the broker's file
    quarantined = center.ask("pls", "POST", "/api/files", files={"file": ("notes.txt", b"x")})
    entry = quarantined.json()["quarantine_id"]
    operated = ["/api/quarantine", f"/api/quarantine/{entry}", f"/api/quarantine/{entry}/content"]
    for path in [*operated, "/metrics"]:
        for who in ("anonymous", "pls", "mag"):
            refused(center.ask(who, "GET", path), who)
        for who in STAFF:
            assert center.ask(who, "GET", path).status_code == 200, (who, path)
    for path in ("/api", "/api/docs", "/api/openapi.json", "/api/health", "/api/ready"):
        assert center.ask("anonymous", "GET", path).status_code == 200, path
    # Ids past the catalog's 64-bit integers are the request's mistake, not the catalog's.
    huge = 2**64
    for path in (
        f"/api/jobs/{huge}",
        f"/api/releases/{huge}",
        f"/api/quarantine/{huge}",
        f"/api/audit?after={huge}",
        f"/api/events?after={huge}",
        f"/api/files?offset={huge}",
    ):
        answer = center.ask("admin", "GET", path)
        assert answer.status_code == 422, (path, answer.text)
    me = center.ask("anonymous", "GET", "/api/whoami").json()
    assert (me["user"], me["anonymous"], me["scopes"], me["missions"]) == (None, True, ["read"], [])
    ops = center.ask("operator", "GET", "/api/whoami").json()
    assert (ops["user"], ops["groups"], ops["missions"]) == (
        "operator",
        ["operators"],
        ["demo", "pipetest"],
    )


def test_admins_manage_users_and_their_groups(center: Center) -> None:
    for who in ("anonymous", "pls", "mag", "operator"):
        refused(center.ask(who, "GET", "/api/users"), who)
        refused(center.ask(who, "POST", "/api/users", json={"name": "x"}), who)
        refused(center.ask(who, "POST", "/api/users/mag/groups", json={"add": ["admins"]}), who)
    made = center.ask("admin", "POST", "/api/users", json={"name": "ann", "groups": ["demo:mag"]})
    assert (made.status_code, made.json()["groups"]) == (201, ["demo:mag"]), made.text
    again = center.ask("admin", "POST", "/api/users", json={"name": "ann"})
    assert again.status_code == 409
    assert (
        center.ask(
            "admin", "POST", "/api/users", json={"name": "bo", "groups": ["nasa"]}
        ).status_code
        == 422
    )
    assert center.ask("admin", "POST", "/api/users", json={"name": "a b"}).status_code == 422
    token = center.ask("admin", "POST", "/api/tokens", json={"user": "ann", "scopes": ["read"]})
    assert token.status_code == 201, token.text
    ann = token.json()["text"]
    l1a = f"/api/files/{center.name('pls_l1a', DAY1)}"
    refused(center.ask(ann, "GET", l1a), "ann")
    moved = center.ask(
        "admin", "POST", "/api/users/ann/groups", json={"add": ["demo:pls"], "remove": ["demo:mag"]}
    )
    assert moved.json()["groups"] == ["demo:pls"]
    assert center.ask(ann, "GET", l1a).status_code == 200, "a group change holds at once"
    assert (
        center.ask("admin", "POST", "/api/users/nobody/groups", json={"add": []}).status_code == 404
    )
    users = center.ask("admin", "GET", "/api/users").json()["users"]
    assert {u["name"] for u in users} == {"ann", "pls", "mag", "operator", "admin"}


# -- a property: any search, any asker --------------------------------------------------------

PRODUCTS = sorted(SEEN)
_TIMES = st.datetimes(min_value=dt.datetime(2024, 12, 30), max_value=dt.datetime(2025, 1, 4))
_JUNK = st.text(max_size=8)
QUERY = st.fixed_dictionaries(
    {},
    optional={
        "mission": st.sampled_from(["demo", "pipetest", "other", ""]),
        "instrument": st.sampled_from(["mag", "pls", "sw", "a", "xx"]),
        "level": st.sampled_from(["l0", "l1a", "l1b", "l2", "ql", "anc", "L2"]),
        "product": st.sampled_from([*PRODUCTS, "nope"]),
        "start": st.one_of(_TIMES.map(lambda t: t.isoformat() + "Z"), _JUNK),
        "stop": st.one_of(_TIMES.map(lambda t: t.isoformat()), _JUNK),
        "version": st.sampled_from(["latest", "all", "1.0.0", "2.0.0", "x"]),
        "ingested_since": st.one_of(_TIMES.map(dt.datetime.isoformat), _JUNK),
        "limit": st.one_of(st.integers(-1, 30).map(str), _JUNK),
        "offset": st.one_of(st.integers(-1, 30).map(str), st.integers(2**62, 2**70).map(str)),
    },
)


def test_no_search_by_anyone_fails_or_shows_what_they_may_not_see(center: Center) -> None:
    center.tokens["bad token"] = "soc_0123456789abcdef_" + "B" * 43
    center.runtime.access.failures.per_minute = 10**6
    partitions = {n: (p, d) for p, d, n in center.files()}

    @hypothesis_settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(who=st.sampled_from([*PEOPLE, "bad token"]), query=QUERY)
    def search(who: str, query: dict[str, str]) -> None:
        answer = center.ask(who, "GET", "/api/files", params=query)
        assert answer.status_code < 500, answer.text
        if who == "bad token":
            assert answer.status_code == 401
            return
        assert answer.status_code in (200, 422), answer.text
        if answer.status_code == 422:
            assert answer.headers["content-type"] == "application/problem+json"
            return
        page = answer.json()
        for listed in page["files"]:
            product, partition = partitions.get(listed["name"]) or (
                listed["product"],
                listed["partition"],
            )
            assert who in expected(product, partition), (who, listed["name"])
        assert page["total"] >= len(page["files"])
        if page["offset"] == 0 and page["limit"] >= page["total"]:
            assert len(page["files"]) == page["total"]

    search()
