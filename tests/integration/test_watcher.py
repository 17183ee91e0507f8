"""The drop box never takes a file that is still being written, and loses nothing."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from socstack.catalog.models import File, FileSource
from socstack.ingest import DropBox, Outcome
from socstack.ingest.service import Ingestor
from socstack.ingest.watcher import is_partial_name
from socstack.runtime import Runtime

MAG1 = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
CAL = "demo_mag_anc_cal_20250101_v1.0.0.csv"


def archived(runtime: Runtime) -> list[str]:
    with runtime.catalog.session() as session:
        return sorted(session.scalars(select(File.name)))


def run_until(dropbox: DropBox, done, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out"
        dropbox.scan()
        time.sleep(0.05)


def test_a_file_being_written_is_left_alone_until_it_is_complete(
    runtime: Runtime, demo_copy: Path
) -> None:
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    dropbox = DropBox(runtime.ingestor, incoming, settle=0.5, interval=0.05)
    content = (demo_copy / MAG1).read_bytes()
    target = incoming / MAG1
    finished = threading.Event()

    def slow_writer() -> None:
        with target.open("wb") as handle:
            for start in range(0, len(content), len(content) // 12 + 1):
                handle.write(content[start : start + len(content) // 12 + 1])
                handle.flush()
                time.sleep(0.2)  # a slow link: 12 pieces over ~2.4 s
        finished.set()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    outcomes = []
    while not finished.is_set():
        outcomes += dropbox.scan()
        time.sleep(0.05)
    writer.join()
    assert outcomes == [], "nothing may be ingested while the writer is active"
    assert archived(runtime) == []
    run_until(dropbox, lambda: archived(runtime) == [MAG1])
    assert not target.exists(), "an archived file leaves the drop box"
    with runtime.archive.open(f"demo/mag/l0/2025/01/{MAG1}") as handle:
        assert handle.read() == content


def test_partial_names_are_ignored_until_renamed(runtime: Runtime, demo_copy: Path) -> None:
    incoming = runtime.settings.incoming
    (incoming / "sub").mkdir(parents=True)
    dropbox = DropBox(runtime.ingestor, incoming, settle=0.0)
    for partial in (f".{CAL}", f"{CAL}.part", f"{CAL}.tmp", f"{CAL}~"):
        shutil.copy(demo_copy / CAL, incoming / "sub" / partial)
    assert dropbox.scan() == []
    assert len(list((incoming / "sub").iterdir())) == 4
    (incoming / "sub" / f"{CAL}.part").rename(incoming / "sub" / CAL)
    (result,) = dropbox.scan()
    assert (result.name, result.outcome) == (CAL, Outcome.ARCHIVED)
    assert sorted(p.name for p in (incoming / "sub").iterdir()) == sorted(
        [f".{CAL}", f"{CAL}.tmp", f"{CAL}~"]
    )


def test_bad_files_go_to_quarantine_and_leave_the_drop_box(
    runtime: Runtime, demo_copy: Path
) -> None:
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    (incoming / MAG1).write_bytes((demo_copy / MAG1).read_bytes()[:-3])
    (incoming / "README.txt").write_text("not telemetry")
    results = []
    dropbox = DropBox(runtime.ingestor, incoming, settle=0.2)
    run_until(dropbox, lambda: len(results) == 2 or bool(results.extend(dropbox.scan())))
    assert {(r.name, r.outcome) for r in results} == {
        (MAG1, Outcome.QUARANTINED),
        ("README.txt", Outcome.QUARANTINED),
    }
    assert list(incoming.iterdir()) == []
    entries = runtime.ingestor.quarantine.entries()
    assert {e.source for e in entries} == {FileSource.DROPBOX}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_files_stay_when_the_catalog_is_down_and_go_in_when_it_is_back(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    shutil.copy(demo_copy / CAL, incoming / CAL)
    broken = Ingestor(
        Runtime(
            runtime.settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/none.db"})
        ).catalog,
        runtime.archive,
        runtime.quarantine,
        runtime.missions,
    )
    down = DropBox(broken, incoming, settle=0.0)
    assert down.scan() == []
    assert (incoming / CAL).exists(), "nothing is lost while the catalog is down"
    assert runtime.archive.keys() == []
    up = DropBox(runtime.ingestor, incoming, settle=0.0)
    (result,) = up.scan()
    assert result.outcome == Outcome.ARCHIVED
    assert not (incoming / CAL).exists()


@pytest.mark.parametrize(
    ("name", "partial"),
    [
        (".x.cdf", True),
        ("x.cdf.part", True),
        ("x.cdf.filepart", True),
        ("x.cdf", False),
        ("x.partial.cdf", False),
    ],
)
def test_partial_name_rules(name: str, partial: bool) -> None:
    assert is_partial_name(name) is partial
