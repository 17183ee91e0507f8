"""The archive's released files as a HelioCloud CloudCatalog (specification 1.1).

Why: CloudCatalog is how HelioCloud and its users find files in cloud buckets without
listing them (a listing of millions of objects is slow and costs money) and without a
server: static index files beside the data, one ``catalog.json`` at the bucket root
naming each dataset, and per dataset one CSV per year (``start,stop,datakey,filesize``,
then the optional ``checksum,checksum_algorithm``) read with the ``cloudcatalog`` client
or plain HTTP/S3 gets. Publishing it makes a socstack archive findable alongside NASA's.

What is listed: for every HAPI dataset, the archived (newest) version of each day of its
product, if anyone may see all of that file by the release policy and its releases; a
derived product is cut to what its releasable inputs show, as :mod:`socstack.access`
does for anonymous readers. ``hapi_include_unreleased`` (an internal server's choice to
show everything) does not widen it: the index is public whatever the server is.

Writing is idempotent: each file is compared with what is stored and written only if it
differs, through the store's atomic ``put``, so a new file in the archive rewrites its
year's CSV and ``catalog.json`` (whose dates moved), nothing else. A year or dataset that
no longer holds any public file has its index removed, so withdrawn data stop being listed.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from socstack.access.intervals import Intervals, contains, intersect, ns
from socstack.archive.store import Store, storage_options
from socstack.catalog.models import File, FileStatus
from socstack.mission.datasets import Dataset
from socstack.mission.model import Mission

if TYPE_CHECKING:
    from socstack.access.service import Access
    from socstack.runtime import Runtime

__all__ = [
    "SPEC_VERSION",
    "ChangedWriter",
    "CloudCatalogResult",
    "ReleasedFile",
    "bucket_root",
    "destination_store",
    "public_intervals",
    "released_files",
    "write_cloudcatalog",
]

#: The CloudCatalog specification followed (heliocloud-data/cloudcatalog, docs).
SPEC_VERSION = "1.1"
CATALOG_FILE = "catalog.json"
HEADER = ("start", "stop", "datakey", "filesize", "checksum", "checksum_algorithm")
CHECKSUM_ALGORITHM = "SHA-256"
#: The specification's file types; socstack format names it spells differently.
_FILETYPES = {"fits", "csv", "cdf", "netcdf3", "netcdf4", "hdf5", "datamap", "txt", "binary"}
_FILETYPE_ALIASES = {"netcdf": "netcdf4", "nc": "netcdf4", "hdf": "hdf5", "h5": "hdf5"}
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class CloudCatalogResult:
    """What one write did: keys relative to the destination root."""

    url: str  # of catalog.json
    datasets: tuple[str, ...]  # the ids catalog.json lists
    written: tuple[str, ...]  # created or changed
    removed: tuple[str, ...]  # indices of years or datasets no longer public


@dataclass(frozen=True)
class _Row:
    year: int
    start: str
    stop: str
    datakey: str
    size: int
    sha256: str


def _iso(value: dt.datetime, *, ms: bool = False) -> str:
    text = value.astimezone(dt.UTC).isoformat(timespec="milliseconds" if ms else "seconds")
    return text.replace("+00:00", "Z")


def public_intervals(access: Access, mission: Mission, product: str) -> Intervals:
    """What anyone sees of ``product``: its own releases, cut by its releasable inputs."""
    seen = access.public(mission, product)
    for ancestor in access.releasable_ancestors(mission.name, product):
        if not seen:
            break
        seen = intersect(seen, public_intervals(access, mission, ancestor))
    return seen


@dataclass(frozen=True)
class ReleasedFile:
    """One file anyone may see: the newest archived version of its partition (day)."""

    day: dt.datetime  # midnight UTC of the partition
    uri: str  # key below the archive root
    name: str
    size: int
    sha256: str
    ingested_at: dt.datetime
    version: str = ""  # X.Y.Z


def released_files(runtime: Runtime, mission: Mission, dataset: Dataset) -> list[ReleasedFile]:
    """The files of ``dataset`` anyone may see, the newest version per day, by day.

    Why one function: every public delivery (this index, the SPASE descriptions and the
    checksum manifests of :mod:`socstack.export.spase`) must list the same files, so
    what counts as released is decided here only.
    """
    seen = public_intervals(runtime.access, mission, dataset.product)
    statement = select(File).where(
        (File.mission == mission.name)
        & (File.product == dataset.product)
        & (File.status == FileStatus.ARCHIVED)
    )
    newest: dict[str, tuple[tuple[int, int, int], ReleasedFile]] = {}
    with runtime.catalog.session() as session:
        for f in session.scalars(statement):
            day = dt.datetime.combine(dt.date.fromisoformat(f.partition), dt.time(), dt.UTC)
            start = f.start or day
            stop = f.stop or day + _DAY
            if not contains(seen, ns(start), max(ns(stop), ns(start) + 1)):
                continue
            version = (f.version_major, f.version_minor, f.version_patch)
            if f.partition in newest and newest[f.partition][0] >= version:
                continue
            found = ReleasedFile(
                day, f.uri, f.name, f.size, f.sha256, f.ingested_at, ".".join(map(str, version))
            )
            newest[f.partition] = (version, found)
    return sorted((r for _, r in newest.values()), key=lambda r: (r.day, r.uri))


def _rows(
    runtime: Runtime, mission: Mission, dataset: Dataset, base: str
) -> tuple[list[_Row], str]:
    """The public files of ``dataset`` (newest version per day) and their last ingest."""
    files = released_files(runtime, mission, dataset)
    rows = [
        _Row(f.day.year, _iso(f.day), _iso(f.day + _DAY), f"{base}/{f.uri}", f.size, f.sha256)
        for f in files
    ]
    rows.sort(key=lambda r: (r.start, r.datakey))
    modified = max((f.ingested_at for f in files), default=None)
    return rows, _iso(modified, ms=True) if modified else ""


def _csv(rows: list[_Row]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow((r.start, r.stop, r.datakey, r.size, r.sha256, CHECKSUM_ALGORITHM))
    return out.getvalue().encode()


def _json(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _filetype(fmt: str) -> str:
    name = _FILETYPE_ALIASES.get(fmt.lower(), fmt.lower())
    return name if name in _FILETYPES else "other"


def _describe(mission: Mission, dataset: Dataset, index: str) -> dict[str, Any]:
    """The fields of a dataset that do not depend on its files (entry and <id>.json)."""
    product = mission.products[dataset.product]
    fields: dict[str, Any] = {
        "id": dataset.id,
        "index": index,
        "title": dataset.title or product.title or dataset.id,
        "indextype": "csv",
        "filetype": _filetype(product.format),
        "description": dataset.description or product.description,
        "resource": dataset.resource_url,
        "contact": dataset.contact,
    }
    return {k: v for k, v in fields.items() if v}


class ChangedWriter:
    """Writes keys below a store root only when their bytes change.

    Why: an index or description rewritten with the same bytes looks like news to
    whoever syncs the destination (a new mtime, a new object version in the bucket).
    """

    def __init__(self, store: Store, scratch: Path):
        self.store = store
        self.scratch = scratch
        self.written: list[str] = []
        self.removed: list[str] = []

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` unless that is what is stored there already."""
        if self.store.exists(key):
            with self.store.open(key) as handle:
                if handle.read() == data:
                    return
        source = self.scratch / "next"
        source.write_bytes(data)
        self.store.put(source, key)
        self.written.append(key)

    def prune(self, folder: str, keep: set[str], pattern: re.Pattern[str]) -> None:
        """Remove the keys below ``folder`` that match ``pattern`` and are not kept."""
        for key in self.store.keys(folder):
            if key not in keep and pattern.fullmatch(key):
                self.store.fs.rm(self.store.path(key))
                self.removed.append(key)


def bucket_root(url: str) -> str:
    """The root of the bucket an object-store URL is in (a folder's URL as it is).

    The specification puts ``catalog.json`` at a bucket's root, where a reader who knows
    only the bucket looks; an archive that is a prefix of a shared bucket is still
    indexed from there (its datakeys name the prefix).
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme in ("file", "local", "memory"):
        return url
    return f"{scheme}://{rest.split('/', 1)[0]}"


def destination_store(runtime: Runtime, dest: str) -> Store:
    """The store a delivery writes to at ``dest`` (a folder or bucket URL).

    The archive's own store when ``dest`` is the archive's URL; otherwise a store with
    the same options (the S3 endpoint, fsync), so a bucket works as the archive's does.
    """
    settings = runtime.settings
    if dest.rstrip("/") == settings.archive_url.rstrip("/"):
        return runtime.archive
    options = storage_options(dest, s3_endpoint_url=settings.s3_endpoint_url)
    return Store(dest, fsync=settings.archive_fsync, storage_options=options)


def write_cloudcatalog(
    runtime: Runtime, dest: str | None = None, *, public_url: str | None = None
) -> CloudCatalogResult:
    """Write (or bring up to date) the CloudCatalog of the released files at ``dest``.

    ``dest`` is an fsspec URL (default: ``SOC_CLOUDCATALOG_DEST``, else the root of the
    archive's bucket, where the specification wants ``catalog.json``, even when the archive
    is a prefix in it). ``public_url`` is the URL readers reach
    the archive root by (an ``https://`` or ``s3://`` address the specification and the
    ``cloudcatalog`` client accept), when it is not the archive's own URL: datakeys and
    index locations are built on it.
    """
    settings = runtime.settings
    dest = (dest or settings.cloudcatalog_dest or bucket_root(settings.archive_url)).rstrip("/")
    store = destination_store(runtime, dest)
    data_base = (public_url or settings.archive_url).rstrip("/")
    index_base = (public_url or dest).rstrip("/")

    entries: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    stale: list[tuple[str, set[str], re.Pattern[str]]] = []
    with tempfile.TemporaryDirectory(prefix="cloudcatalog-") as scratch:
        writer = ChangedWriter(store, Path(scratch))
        for mission, dataset in runtime.missions.datasets():
            # A file listing (HAPI stringType uri) is an index already, not data to index.
            if dataset.id in seen_ids or dataset.files:
                continue
            seen_ids.add(dataset.id)
            ident = dataset.id
            rows, modified = _rows(runtime, mission, dataset, data_base)
            described = _describe(mission, dataset, f"{index_base}/{ident}/")
            by_year: dict[int, list[_Row]] = defaultdict(list)
            for row in rows:
                by_year[row.year].append(row)
            keep = {f"{ident}/{ident}_{year:04d}.csv" for year in by_year}
            for year, year_rows in sorted(by_year.items()):
                writer.put(f"{ident}/{ident}_{year:04d}.csv", _csv(year_rows))
            if rows:
                info = {"version": SPEC_VERSION, **described}
                info["parameters"] = [
                    {"name": "checksum", "type": "string", "desc": "checksum of the file, hex"},
                    {"name": "checksum_algorithm", "type": "string", "desc": "its algorithm"},
                ]
                writer.put(f"{ident}/{ident}.json", _json(info))
                keep.add(f"{ident}/{ident}.json")
                dates = {
                    "start": rows[0].start,
                    "stop": max(r.stop for r in rows),
                    "modification": modified,
                }
                head = {k: described.pop(k) for k in ("id", "index", "title")}
                entries.append({**head, **dates, **described})
            ids = re.escape(ident)
            stale.append((ident, keep, re.compile(rf"{ids}/{ids}(_\d{{4}}\.csv|\.json)")))

        names = ", ".join(m.title or m.name for m in runtime.missions)
        catalog = {
            "version": SPEC_VERSION,
            "name": f"socstack archive: {names}",
            "egress": "public",
            "status": {"code": 1200, "message": "OK request successful"},
            "contact": settings.hapi_contact,
            "description": f"Files of {names} released to the public, indexed by socstack.",
            "catalog": entries,
        }
        writer.put(CATALOG_FILE, _json(catalog))
        for folder, keep, pattern in stale:  # once catalog.json no longer points at them
            writer.prune(folder, keep, pattern)
    return CloudCatalogResult(
        url=f"{index_base}/{CATALOG_FILE}",
        datasets=tuple(e["id"] for e in entries),
        written=tuple(writer.written),
        removed=tuple(writer.removed),
    )
