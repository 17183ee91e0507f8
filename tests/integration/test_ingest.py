"""The ingest path on SQLite and the real PostgreSQL: archive, catalog and events as one unit."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from socstack._exceptions import CatalogError
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import Event, File, FileSource, FileStatus, QuarantinedFile
from socstack.ingest import Outcome
from socstack.runtime import Runtime
from tests.conftest import archive_listing

MAG1 = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
MAG2 = "demo_mag_l0_raw_20250102_v1.0.0.pkts"
PLS1 = "demo_pls_l0_raw_20250101_v1.0.0.pkts"
CAL = "demo_mag_anc_cal_20250101_v1.0.0.csv"


def rows(runtime: Runtime, model: type = File) -> list:
    with runtime.catalog.session() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def test_good_files_are_archived_with_their_metadata(runtime: Runtime, demo_copy: Path) -> None:
    files = sorted(demo_copy.iterdir())
    results = [runtime.ingestor.ingest(p, source=FileSource.CLI) for p in files]
    assert [r.outcome for r in results] == [Outcome.ARCHIVED] * len(files)
    catalog = {row.name: row for row in rows(runtime)}
    assert set(catalog) == {p.name for p in files}
    mag = catalog[MAG1]
    assert (mag.mission, mag.product, mag.instrument, mag.level, mag.descriptor) == (
        "demo",
        "mag_l0",
        "mag",
        "l0",
        "raw",
    )
    assert (mag.partition, mag.version, mag.status, mag.source) == (
        "2025-01-01",
        "1.0.0",
        FileStatus.ARCHIVED,
        FileSource.CLI,
    )
    assert mag.start.isoformat() == "2025-01-01T00:00:00+00:00"
    assert mag.stop is not None and mag.stop.date().isoformat() == "2025-01-01"
    assert mag.uri == f"demo/mag/l0/2025/01/{MAG1}"
    assert catalog[CAL].stop is None  # a calibration is valid until superseded
    for path in files:
        row = catalog[path.name]
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row.size == path.stat().st_size
        with runtime.archive.open(row.uri) as handle:
            assert handle.read() == path.read_bytes()
    events = rows(runtime, Event)
    assert [e.kind for e in events] == ["file.archived"] * len(files)
    assert [e.subject for e in events] == [p.name for p in files]
    assert all(not name.split("/")[-1].startswith(".") for name in archive_listing(runtime))


def test_the_same_file_twice_is_a_no_op(runtime: Runtime, demo_copy: Path) -> None:
    first = runtime.ingestor.ingest(demo_copy / MAG1, source=FileSource.CLI)
    second = runtime.ingestor.ingest(demo_copy / MAG1, source=FileSource.UPLOAD)
    assert (first.outcome, second.outcome) == (Outcome.ARCHIVED, Outcome.UNCHANGED)
    assert second.file_id == first.file_id
    assert len(rows(runtime)) == 1
    assert len(rows(runtime, Event)) == 1


def test_same_name_other_content_is_refused_and_nothing_overwritten(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    runtime.ingestor.ingest(demo_copy / MAG1, source=FileSource.CLI)
    before = archive_listing(runtime)
    impostor = tmp_path / "other" / MAG1
    impostor.parent.mkdir()
    impostor.write_bytes((demo_copy / MAG2).read_bytes())
    result = runtime.ingestor.ingest(impostor, source=FileSource.UPLOAD)
    assert (result.outcome, result.kind) == (Outcome.QUARANTINED, "conflict")
    assert "archived already with other content" in (result.reason or "")
    assert archive_listing(runtime) == before
    with runtime.archive.open(f"demo/mag/l0/2025/01/{MAG1}") as handle:
        assert handle.read() == (demo_copy / MAG1).read_bytes()
    (entry,) = rows(runtime, QuarantinedFile)
    with runtime.quarantine.open(entry.uri) as handle:
        assert handle.read() == impostor.read_bytes()


def _truncated(good: Path, bad: Path) -> None:
    bad.write_bytes(good.read_bytes()[:-100])


def _empty(good: Path, bad: Path) -> None:
    bad.write_bytes(b"")


def _other_instrument(good: Path, bad: Path) -> None:
    bad.write_bytes((good.parent / PLS1).read_bytes())


def _other_day(good: Path, bad: Path) -> None:
    bad.write_bytes((good.parent / MAG2).read_bytes())


def _garbage(good: Path, bad: Path) -> None:
    bad.write_bytes(os.urandom(5000))


BAD_FILES: list[tuple[str, str, Callable[[Path, Path], None], str, str]] = [
    (
        "wrong name",
        "demo_mag_l0_raw_2025-01-01_v1.pkts",
        lambda g, b: b.write_bytes(g.read_bytes()),
        "name",
        "matches no product",
    ),
    (
        "unknown product",
        "notes.txt",
        lambda g, b: b.write_text("hello"),
        "name",
        "matches no product",
    ),
    ("truncated packets", MAG1, _truncated, "format", "truncated: packet"),
    ("empty file", MAG1, _empty, "format", "empty file"),
    ("other instrument's content", MAG1, _other_instrument, "format", "APID 1120"),
    ("another day's content", MAG1, _other_day, "format", "outside the day 2025-01-01"),
    ("random bytes", MAG1, _garbage, "format", "truncated|version|APID"),
    (
        "bad calibration",
        CAL,
        lambda g, b: b.write_text("channel,offset,gain\nx,1,oops\n"),
        "format",
        "not a number",
    ),
]


@pytest.mark.parametrize(
    ("case", "name", "damage", "kind", "reason"), BAD_FILES, ids=[c[0] for c in BAD_FILES]
)
def test_bad_files_end_in_quarantine_and_the_archive_is_unchanged(
    runtime: Runtime,
    demo_copy: Path,
    tmp_path: Path,
    case: str,
    name: str,
    damage: Callable[[Path, Path], None],
    kind: str,
    reason: str,
) -> None:
    runtime.ingestor.ingest(demo_copy / CAL, source=FileSource.CLI) if name != CAL else None
    before = archive_listing(runtime)
    rows_before = len(rows(runtime))
    bad = tmp_path / "bad" / name
    bad.parent.mkdir()
    damage(demo_copy / MAG1, bad)
    result = runtime.ingestor.ingest(bad, source=FileSource.DROPBOX)
    assert result.outcome == Outcome.QUARANTINED
    assert result.kind == kind
    assert __import__("re").search(reason, result.reason or ""), result.reason
    assert archive_listing(runtime) == before, "the archive must not change"
    assert len(rows(runtime)) == rows_before
    (entry,) = rows(runtime, QuarantinedFile)
    assert (entry.name, entry.kind, entry.reason, entry.source) == (
        name,
        kind,
        result.reason,
        FileSource.DROPBOX,
    )
    with runtime.quarantine.open(entry.uri) as handle:
        assert handle.read() == bad.read_bytes(), "the refused file is kept whole"
    assert rows(runtime, Event)[-1].kind == "file.quarantined"
    # the same bad file again is recorded once
    again = runtime.ingestor.ingest(bad, source=FileSource.DROPBOX)
    assert again.quarantine_id == entry.id
    assert len(rows(runtime, QuarantinedFile)) == 1


def test_a_newer_version_supersedes_the_older(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    delivery = tmp_path / "redelivery"
    delivery.mkdir()
    content = (demo_copy / MAG1).read_bytes()
    for version in ("1.0.0", "1.1.0", "0.9.0"):
        (delivery / f"demo_mag_l0_raw_20250101_v{version}.pkts").write_bytes(content)
    for version in ("1.0.0", "1.1.0", "0.9.0"):
        result = runtime.ingestor.ingest(
            delivery / f"demo_mag_l0_raw_20250101_v{version}.pkts", source=FileSource.CLI
        )
        assert result.outcome == Outcome.ARCHIVED
    status = {row.version: row.status for row in rows(runtime)}
    assert status == {
        "1.0.0": FileStatus.SUPERSEDED,
        "1.1.0": FileStatus.ARCHIVED,
        "0.9.0": FileStatus.SUPERSEDED,  # a late delivery of an older version
    }
    kinds = [(e.kind, e.subject) for e in rows(runtime, Event)]
    assert ("file.superseded", "demo_mag_l0_raw_20250101_v1.0.0.pkts") in kinds


def test_a_catalog_failure_leaves_the_archive_unchanged(runtime: Runtime, demo_copy: Path) -> None:
    runtime.ingestor.ingest(demo_copy / CAL, source=FileSource.CLI)
    before = archive_listing(runtime)
    with runtime.catalog.engine.begin() as connection:
        connection.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        with pytest.raises(CatalogError):
            runtime.ingestor.ingest(demo_copy / MAG1, source=FileSource.CLI)
    finally:
        runtime.catalog.dispose()
        with runtime.catalog.engine.begin() as connection:
            connection.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert archive_listing(runtime) == before, "no file, not even a temporary one"
    with runtime.catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(File).where(File.name == MAG1)) == 0
    assert (
        runtime.ingestor.ingest(demo_copy / MAG1, source=FileSource.CLI).outcome == Outcome.ARCHIVED
    )


@pytest.mark.slow
def test_a_crash_while_archiving_leaves_no_half_file(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    """SIGKILL the ingesting process while it writes a 200 MB file into the archive."""
    upgrade(runtime.catalog)
    big = tmp_path / "big" / MAG1
    big.parent.mkdir()
    day = (demo_copy / MAG1).read_bytes()
    with big.open("wb") as out:
        for _ in range(200_000_000 // len(day) + 1):
            out.write(day)
    folder = runtime.archive.local_path("demo/mag/l0/2025/01")
    assert folder is not None
    env = {**os.environ, "SOC_DATABASE_URL": runtime.settings.database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "socstack.cli", "ingest", str(big)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            partial = list(folder.glob(".*.tmp")) if folder.exists() else []
            if partial and partial[0].stat().st_size > 0:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.001)
        else:
            pytest.fail("the ingest never started writing")
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert runtime.archive.keys() == [], "nothing visible in the archive"
    assert rows(runtime) == []
    assert runtime.archive.sweep_temporary(older_than=0) >= 1
    assert runtime.ingestor.ingest(big, source=FileSource.CLI).outcome == Outcome.ARCHIVED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
