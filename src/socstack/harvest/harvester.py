"""A harvest pass: a peer's dataset, day by day, into the archive through ingest.

Each day of the peer's coverage is fetched once (its records' checksum kept), written
as a daily CDF named by the product's pattern, and ingested as any delivery is (format
check, catalog, events): the planner then runs the rules that take the product. A later
pass fetches only what may have changed:

- days it has not archived yet (new days, days that failed, a crash's unfinished ones);
- when the peer gives no ``modificationDate``, or it changed since the last pass, the
  last ``recheck`` days of its coverage too (late data lands there); a fetched day
  whose checksum is unchanged archives nothing, a changed one the next revision (Z);
- when the peer's info changed what the parameters are (one added, units changed),
  every day again, under the next interface version (X): one version never mixes
  two schemas.

A peer's failure (a 500 after the retries, a truncated response, a stall) fails that
day with its reason and the pass goes on; the archive holds only whole days.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
from sqlalchemy import select

from socstack._exceptions import SocError
from socstack.catalog.harvests import HarvestDay, HarvestSourceRow
from socstack.catalog.models import File, FileSource, FileStatus, utcnow
from socstack.client.hapi import HapiClientError, HapiServer, Table
from socstack.formats.cdf import write_cdf_variables
from socstack.harvest.files import attributes_for, day_checksum, day_variables, schema_hash
from socstack.harvest.transport import PoliteTransport
from socstack.ingest.results import Outcome
from socstack.mission.model import Mission
from socstack.mission.products import Product
from socstack.mission.versions import Version
from socstack.runtime import Runtime
from socstack.times import duration_ns, parse_time

__all__ = ["HarvestError", "HarvestReport", "harvest", "harvested_products"]

logger = logging.getLogger(__name__)

_DAY = 86_400 * 10**9
#: What became of a fetched day before it reaches the archive (skipped: a 304).
_DayOutcome = Literal["archived", "unchanged", "empty", "failed", "skipped"]


class HarvestError(SocError):
    """A harvest source that cannot be harvested at all (its info unreadable)."""


@dataclass
class HarvestReport:
    """What one pass did to one product: days by what became of them."""

    mission: str
    product: str
    archived: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: int = 0
    requests: int = 0
    interface: int = 1

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the CLI's ``--json``, the API)."""
        return dict(self.__dict__)


def harvested_products(runtime: Runtime) -> list[tuple[Mission, Product]]:
    """Every product of the loaded missions that is harvested from a peer."""
    return [
        (mission, product)
        for mission in runtime.missions.missions.values()
        for product in mission.products.values()
        if product.harvest is not None
    ]


def _peer(runtime: Runtime, product: Product) -> tuple[str, dict[str, str]]:
    source = product.harvest
    assert source is not None  # noqa: S101 - only harvested products come here
    url = runtime.settings.peers.get(source.peer) or source.url
    if not url:
        raise HarvestError(
            f"{product.key}: peer {source.peer!r} has no URL: set SOC_PEERS"
            f' (\'{{"{source.peer}": "https://.../hapi"}}\') or harvest.url in the YAML'
        )
    token = runtime.settings.peer_tokens.get(source.peer)
    return url.rstrip("/"), ({"Authorization": f"Bearer {token}"} if token else {})


def _days(first: int, stop: int) -> list[dt.date]:
    """The days that hold any of [first, stop)."""
    day = dt.datetime.fromtimestamp(first // 10**9, dt.UTC).date()
    last = dt.datetime.fromtimestamp((stop - 1) // 10**9, dt.UTC).date()
    return [day + dt.timedelta(days=k) for k in range((last - day).days + 1)]


def _ns(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * _DAY


def harvest(
    runtime: Runtime,
    mission: Mission,
    product: Product,
    *,
    transport: httpx.BaseTransport | None = None,
) -> HarvestReport:
    """One pass over one harvested product (see the module's description)."""
    source = product.harvest
    assert source is not None  # noqa: S101
    url, headers = _peer(runtime, product)
    polite = PoliteTransport(
        rate=source.rate,
        concurrency=source.concurrency,
        retries=source.retries,
        contact=runtime.settings.harvest_contact,
        inner=transport,
    )
    timeout = httpx.Timeout(source.timeout, connect=min(10.0, source.timeout))
    with httpx.Client(transport=polite, timeout=timeout, follow_redirects=True) as client:
        server = HapiServer(url, client=client, headers=headers, timeout=source.timeout)
        report = HarvestReport(mission.name, product.id)
        try:
            _pass(runtime, mission, product, server, report, polite)
        finally:
            report.requests = polite.sent
    return report


def _pass(  # noqa: PLR0917 - one pass's parts, passed once
    runtime: Runtime,
    mission: Mission,
    product: Product,
    server: HapiServer,
    report: HarvestReport,
    polite: PoliteTransport,
) -> None:
    source = product.harvest
    assert source is not None  # noqa: S101
    try:
        info = server.info(source.dataset)
        coverage = parse_time(str(info["startDate"])), parse_time(str(info["stopDate"]))
    except (HapiClientError, KeyError, ValueError) as exc:
        _source_row(runtime, mission, product, server.url, error=f"info: {exc}")
        raise HarvestError(f"{product.key}: the peer's info: {exc}") from exc
    declared = [str(p["name"]) for p in (info.get("parameters") or [])[1:]]
    names = list(source.parameters or declared)
    missing = [n for n in names if n not in declared]
    if missing:
        message = f"the peer's {source.dataset} has no {', '.join(missing)}"
        _source_row(runtime, mission, product, server.url, error=message)
        raise HarvestError(f"{product.key}: {message}")
    schema = schema_hash(info, names)
    row = _source_row(runtime, mission, product, server.url)
    interface = row.interface if row.info_hash in ("", schema) else row.interface + 1
    report.interface = interface
    modified = str(info.get("modificationDate") or "")
    first = max(coverage[0], _ns(source.start)) if source.start else coverage[0]
    if first >= coverage[1]:
        _finish(runtime, row.id, schema, interface, modified)
        return
    days = _days(first, coverage[1])
    done = _done_days(runtime, mission, product)
    recheck = {d for d in days if (days[-1] - d).days * _DAY < (duration_ns(source.recheck) or 0)}
    peer_unchanged = bool(modified) and modified == row.peer_modified
    run = _Pass(runtime, product, server, names, info, coverage, interface, report)
    wanted: list[tuple[dt.date, HarvestDay | None, bool]] = []
    for day in days:
        known = done.get(day.isoformat())
        settled = known is not None and known.status != "failed" and known.interface == interface
        if settled and peer_unchanged:
            report.skipped += 1
        elif settled and row.conditional:
            wanted.append((day, known, True))  # a 304 costs no records
        elif settled and day not in recheck:
            report.skipped += 1
        else:
            wanted.append((day, known, False))
    _stages(run, wanted)
    _finish(runtime, row.id, schema, interface, modified, conditional=polite.saw_last_modified)


#: Days fetched or written ahead of the one being archived: enough that the peer's
#: transfer never waits for our disk, few enough that memory stays a few days' records.
_AHEAD = 3


def _stages(run: _Pass, wanted: list[tuple[dt.date, HarvestDay | None, bool]]) -> None:
    """Each day fetched, written and archived, by three threads, in the days' order.

    One thread fetches (one request at a time still), one writes each fetched day's
    CDF, this one ingests and records them: the peer's transfer, our CPU work and the
    archive's and catalog's waits for the disk (fsync) overlap. One after the other,
    the ingest's waits alone took about as long as the transfer. The fetcher runs up
    to ``_AHEAD`` days ahead, so a slow ingest does not hold the next request back.
    """
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="harvest-fetch") as fetcher,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="harvest-write") as writer,
    ):

        def start(k: int) -> tuple[Future[_Fetched], Future[_Written]]:
            fetching = fetcher.submit(run.fetch, *wanted[k])
            return fetching, writer.submit(lambda: run.write(fetching.result()))

        pending = deque(start(k) for k in range(min(_AHEAD, len(wanted))))
        try:
            for k in range(len(wanted)):
                written = pending.popleft()[1].result()
                if k + _AHEAD < len(wanted):
                    pending.append(start(k + _AHEAD))
                run.archive(written)
        finally:
            # A failure above: nothing more is asked, and the written days' files go.
            for fetching, writing in pending:
                fetching.cancel()
                if not writing.cancel() and writing.exception() is None:
                    writing.result().discard()


@dataclass(frozen=True)
class _Fetched:
    """A day as the peer answered: its records (None: unchanged, 304) or why not."""

    day: dt.date
    known: HarvestDay | None
    asked_at: dt.datetime
    table: Table | None
    error: str | None


@dataclass
class _Written:
    """A fetched day on its way to the archive: what became of it, and its file if any.

    An ``archived`` one has its CDF written, to be ingested.
    """

    fetched: _Fetched
    outcome: _DayOutcome
    checksum: str = ""
    records: int = 0
    error: str | None = None
    path: Path | None = None
    folder: tempfile.TemporaryDirectory[str] | None = None

    def discard(self) -> None:
        """Remove the written file's folder (ingest copied what it keeps)."""
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None


@dataclass
class _Pass:
    """What every day of one pass shares: the peer, the parameters, the schema's version."""

    runtime: Runtime
    product: Product
    server: HapiServer
    names: list[str]
    info: dict[str, Any]
    coverage: tuple[int, int]
    interface: int
    report: HarvestReport

    def fetch(self, day: dt.date, known: HarvestDay | None, conditional: bool) -> _Fetched:
        """One day's records from the peer (None if a conditional request answered 304).

        ``conditional``: ask with If-Modified-Since the last fetch (less a second, as
        HTTP dates are whole seconds).
        """
        source = self.product.harvest
        assert source is not None  # noqa: S101
        start = max(_ns(day), self.coverage[0])
        stop = min(_ns(day) + _DAY, self.coverage[1])
        asked_at = utcnow()
        since = known.fetched_at - dt.timedelta(seconds=1) if conditional and known else None
        try:
            table = self.server.data_if_modified(source.dataset, self.names, start, stop, since)
        except HapiClientError as exc:
            return _Fetched(day, known, asked_at, None, str(exc))
        return _Fetched(day, known, asked_at, table, None)

    def write(self, fetched: _Fetched) -> _Written:
        """What became of a fetched day, its CDF written if it is new or changed."""
        day, known, table = fetched.day, fetched.known, fetched.table
        if fetched.error is not None:
            return _Written(fetched, "failed", error=fetched.error)
        if table is None:
            return _Written(fetched, "skipped")
        if len(table.time) == 0:
            return _Written(fetched, "empty")
        checksum = day_checksum(table, self.names)
        records = len(table.time)
        if known is not None and known.checksum == checksum and known.interface == self.interface:
            return _Written(fetched, "unchanged", checksum=checksum, records=records)
        source = self.product.harvest
        assert source is not None  # noqa: S101
        version = _next_version(self.runtime, self.product, day.isoformat(), self.interface)
        name = self.product.name_pattern.format(day, version)
        global_attributes, variable_attributes = attributes_for(
            self.product, self.info, self.names, url=self.server.url, dataset=source.dataset,
            file_stem=Path(name).stem, version=str(version),
        )  # fmt: skip
        folder = tempfile.TemporaryDirectory(prefix="socstack-harvest-")
        try:
            path = Path(folder.name) / name
            write_cdf_variables(
                day_variables(self.info, self.names, table),
                path,
                global_attributes=global_attributes,
                variable_attributes=variable_attributes,
            )
        except BaseException:
            folder.cleanup()
            raise
        return _Written(fetched, "archived", checksum, records, path=path, folder=folder)

    def archive(self, written: _Written) -> None:
        """Ingest a written day's file; record what became of the day."""
        partition = written.fetched.day.isoformat()
        asked = written.fetched.asked_at
        if written.outcome == "skipped":
            self.report.skipped += 1
            return
        if written.outcome == "failed":
            self.report.failed[partition] = written.error or ""
            self.record(partition, "failed", asked, error=written.error)
            return
        if written.outcome in ("empty", "unchanged"):
            days = self.report.empty if written.outcome == "empty" else self.report.unchanged
            days.append(partition)
            self.record(
                partition, written.outcome, asked, checksum=written.checksum,
                records=written.records,
            )  # fmt: skip
            return
        assert written.path is not None  # noqa: S101 - an archived outcome has its file
        try:
            result = self.runtime.ingestor.ingest(written.path, source=FileSource.HARVEST)
        finally:
            written.discard()
        if result.outcome == Outcome.QUARANTINED:
            reason = f"the day's file was quarantined: {result.reason}"
            self.report.failed[partition] = reason
            self.record(partition, "failed", asked, error=reason)
            return
        name = written.path.name
        self.report.archived.append(partition)
        self.record(
            partition, "archived", asked, checksum=written.checksum, records=written.records,
            file=name,
        )  # fmt: skip
        logger.info("harvest: %s %s archived as %s", self.product.key, partition, name)

    def record(
        self,
        partition: str,
        status: str,
        asked: dt.datetime,
        *,
        checksum: str = "",
        records: int = 0,
        file: str | None = None,
        error: str | None = None,
    ) -> None:
        """The day's row, in its own transaction: a crash loses at most this day.

        ``asked`` is when its records were asked for: a later change is newer than them.
        """
        product = self.product
        with self.runtime.catalog.transaction() as session:
            row = session.scalars(
                select(HarvestDay).where(
                    (HarvestDay.mission == product.mission)
                    & (HarvestDay.product == product.id)
                    & (HarvestDay.partition == partition)
                )
            ).first()
            if row is None:
                row = HarvestDay(mission=product.mission, product=product.id, partition=partition)
                session.add(row)
            row.status, row.interface = status, self.interface
            row.fetched_at, row.error = asked, error
            if status in ("archived", "unchanged", "empty"):
                row.checksum, row.records = checksum, records
            if status == "archived":
                row.file = file


def _next_version(runtime: Runtime, product: Product, partition: str, interface: int) -> Version:
    """X.0.0 for a day new to interface X; the newest archived version's next revision."""
    with runtime.catalog.session() as session:
        rows = session.execute(
            select(File.version_major, File.version_minor, File.version_patch).where(
                (File.mission == product.mission)
                & (File.product == product.id)
                & (File.partition == partition)
                & (File.status.in_([FileStatus.ARCHIVED, FileStatus.SUPERSEDED]))
                & (File.version_major == interface)
            )
        ).all()
    if not rows:
        return Version(interface, 0, 0)
    major, minor, patch = max(tuple(r) for r in rows)
    return Version(major, minor, patch + 1)


def _source_row(
    runtime: Runtime, mission: Mission, product: Product, url: str, error: str | None = None
) -> HarvestSourceRow:
    source = product.harvest
    assert source is not None  # noqa: S101
    with runtime.catalog.transaction() as session:
        row = session.scalars(
            select(HarvestSourceRow).where(
                (HarvestSourceRow.mission == mission.name)
                & (HarvestSourceRow.product == product.id)
            )
        ).first()
        if row is None:
            row = HarvestSourceRow(
                mission=mission.name, product=product.id, peer=source.peer, url=url,
                dataset=source.dataset, info_hash="", interface=1, peer_modified="",
                conditional=False,
            )  # fmt: skip
            session.add(row)
        row.url, row.dataset, row.last_error = url, source.dataset, error
        session.flush()
        session.expunge(row)
    return row


def _finish(
    runtime: Runtime,
    row_id: int,
    schema: str,
    interface: int,
    modified: str,
    *,
    conditional: bool = False,
) -> None:
    with runtime.catalog.transaction() as session:
        row = session.get(HarvestSourceRow, row_id)
        assert row is not None  # noqa: S101
        row.info_hash, row.interface, row.peer_modified = schema, interface, modified
        row.last_pass_at, row.last_error = utcnow(), None
        row.conditional = row.conditional or conditional


def _done_days(runtime: Runtime, mission: Mission, product: Product) -> dict[str, HarvestDay]:
    with runtime.catalog.session() as session:
        rows = session.scalars(
            select(HarvestDay).where(
                (HarvestDay.mission == mission.name) & (HarvestDay.product == product.id)
            )
        ).all()
        for r in rows:
            session.expunge(r)
    return {r.partition: r for r in rows}
