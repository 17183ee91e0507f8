"""The drop box never takes a file that is still being written, and loses nothing."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from socstack._exceptions import FileChanged
from socstack.catalog.models import Event, File, FileSource, FileStatus
from socstack.config import Settings
from socstack.ingest import DropBox, Outcome
from socstack.ingest.results import IngestResult
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


# -- writers at work in the drop box while it is watched -----------------------------------------


SOCSTACK = (sys.executable, "-m", "socstack")


def archived_events(runtime: Runtime) -> Counter[str]:
    with runtime.catalog.session() as session:
        return Counter(session.scalars(select(Event.subject).where(Event.kind == "file.archived")))


def test_demo_generate_into_the_drop_box_of_a_running_watcher(
    runtime: Runtime, settings: Settings, tmp_path: Path
) -> None:
    """The README's Compose step: `demo generate --out` the drop box `socstack watch` reads."""
    incoming = settings.incoming
    env = {**os.environ, "SOC_WATCH_SETTLE": "0.2", "SOC_WATCH_INTERVAL": "0.05"}
    log = (tmp_path / "watch.out").open("w+"), (tmp_path / "watch.err").open("w+")
    watcher = subprocess.Popen([*SOCSTACK, "watch"], env=env, stdout=log[0], stderr=log[1])
    try:
        deadline = time.monotonic() + 60
        while "watching" not in (tmp_path / "watch.out").read_text():
            assert watcher.poll() is None, (tmp_path / "watch.err").read_text()
            assert time.monotonic() < deadline, "the watcher did not start"
            time.sleep(0.1)
        generate = subprocess.run(
            [
                *SOCSTACK,
                "demo",
                "generate",
                "--start",
                "2025-01-01",
                "--days",
                "3",
                "--out",
                incoming,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert generate.returncode == 0, generate.stderr
        assert "Traceback" not in generate.stderr
        assert "wrote 8 files" in generate.stdout, generate.stdout
        deadline = time.monotonic() + 120
        while len(archived(runtime)) < 8 or any(incoming.iterdir()):
            assert watcher.poll() is None, (tmp_path / "watch.err").read_text()
            assert time.monotonic() < deadline, (archived(runtime), list(incoming.iterdir()))
            time.sleep(0.1)
    finally:
        watcher.send_signal(signal.SIGTERM)
        code = watcher.wait(timeout=60)
    names = archived(runtime)
    assert len(names) == 8 and len({n.split("_")[1] for n in names}) == 2, names
    assert archived_events(runtime) == Counter(names), "every file archived once"
    with runtime.catalog.session() as session:
        rows = list(session.scalars(select(File)))
    assert {(r.source, r.status) for r in rows} == {(FileSource.DROPBOX, FileStatus.ARCHIVED)}
    assert runtime.ingestor.quarantine.entries() == []
    errors = (tmp_path / "watch.err").read_text()
    assert code == 0, errors
    assert "Traceback" not in errors and not re.search(r"\bERROR\b", errors), errors


class _Intruder(Ingestor):
    """The real ingest path, with a writer stepping in at a chosen moment of each ingest.

    Races with a writer are a matter of microseconds; this makes them happen every time.
    """

    def __init__(self, runtime: Runtime, before=None, after=None):
        super().__init__(runtime.catalog, runtime.archive, runtime.quarantine, runtime.missions)
        self.before, self.after, self.calls = before, after, 0

    def ingest(self, path: Path, **kwargs) -> IngestResult:
        self.calls += 1
        if self.before:
            self.before(self.calls)
        try:
            return super().ingest(path, **kwargs)
        finally:
            if self.after:
                self.after(self.calls)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_delivered_again_while_it_is_ingested_is_not_removed_unseen(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    shutil.copy(demo_copy / CAL, incoming / CAL)
    other = tmp_path / "other.csv"
    other.write_text((demo_copy / CAL).read_text() + "w,0.0,1.0\n")  # the same name, new content

    def redeliver(call: int) -> None:
        if call == 1:  # an uploader replaces the file (write, then rename) meanwhile
            staging = incoming / f".{CAL}.part"
            shutil.copy(other, staging)
            os.replace(staging, incoming / CAL)

    dropbox = DropBox(_Intruder(runtime, after=redeliver), incoming, settle=0.0)
    (first,) = dropbox.scan()
    assert first.outcome == Outcome.ARCHIVED
    assert (incoming / CAL).read_bytes() == other.read_bytes(), "the new delivery is still there"
    (second,) = dropbox.scan()
    assert (second.outcome, second.kind) == (Outcome.QUARANTINED, "conflict"), second
    assert list(incoming.iterdir()) == [], "both deliveries are accounted for"
    (entry,) = runtime.ingestor.quarantine.entries()
    with runtime.quarantine.open(entry.uri) as handle:
        assert handle.read() == other.read_bytes(), "nothing is lost"


class _Appender:
    """A writer appending rows to a file as fast as it can, until stopped or for a while."""

    def __init__(self, path: Path, seconds: float = 60.0):
        self.path, self.seconds, self.rows = path, seconds, 0
        self.writing, self.stop = threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        end = time.monotonic() + self.seconds
        with self.path.open("ab") as handle:
            while not self.stop.is_set() and time.monotonic() < end:
                handle.write(f"w{self.rows},0.0,1.0\n".encode())
                handle.flush()
                self.rows += 1
                self.writing.set()

    def start(self) -> _Appender:
        self.thread.start()
        assert self.writing.wait(10)
        return self

    def join(self) -> None:
        self.stop.set()
        self.thread.join(10)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_still_being_written_is_not_judged_on_its_first_part(
    runtime: Runtime, demo_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Telemetry cut mid-packet by its writer looks truncated: that is no verdict on it."""
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    content = (demo_copy / MAG1).read_bytes()
    target = incoming / MAG1
    target.write_bytes(content[:10_000])
    ingestor = runtime.ingestor
    keep = ingestor.quarantine.keep

    def writer_finishes_as_it_is_judged(path: Path, *args, **kwargs) -> IngestResult:
        with path.open("ab") as handle:  # the rest arrives between the verdict and the copy
            handle.write(content[10_000:])
        return keep(path, *args, **kwargs)

    monkeypatch.setattr(ingestor.quarantine, "keep", writer_finishes_as_it_is_judged)
    with pytest.raises(FileChanged):
        ingestor.ingest(target, source=FileSource.DROPBOX)
    assert ingestor.quarantine.entries() == [], "a whole file is not kept as a truncated one"
    assert runtime.archive.keys() == []
    assert target.read_bytes() == content
    assert ingestor.ingest(target, source=FileSource.DROPBOX).outcome == Outcome.ARCHIVED


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_written_to_during_its_ingest_is_waited_for_not_half_ingested(
    runtime: Runtime, demo_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    incoming = runtime.settings.incoming
    incoming.mkdir(parents=True)
    target = incoming / CAL
    shutil.copy(demo_copy / CAL, target)
    writer = _Appender(target).start()
    try:
        with pytest.raises(FileChanged):
            runtime.ingestor.ingest(target, source=FileSource.DROPBOX)
    finally:
        writer.join()
    assert runtime.archive.keys() == [], "no half file is archived"
    assert runtime.ingestor.quarantine.entries() == [], "nor judged and quarantined"

    # In the drop box: the writer paused past the settle time, then resumes as the ingest
    # begins. The file is waited for until it holds still, then archived whole.
    shutil.copy(demo_copy / CAL, target)
    writers: list[_Appender] = []

    def resume(call: int) -> None:
        if call == 1:
            writers.append(_Appender(target, seconds=0.3).start())

    caplog.set_level(logging.INFO)
    intruder = _Intruder(runtime, before=resume)
    dropbox = DropBox(intruder, incoming, settle=0.2)
    results: list[IngestResult] = []
    run_until(dropbox, lambda: bool(results) or bool(results.extend(dropbox.scan())))
    writers[0].join()
    assert intruder.calls >= 2, "the try that met the writer was given up"
    (result,) = results
    assert result.outcome == Outcome.ARCHIVED
    with runtime.archive.open(f"demo/mag/anc/2025/01/{CAL}") as handle:
        rows = handle.read().decode().splitlines()
    assert len(rows) == len((demo_copy / CAL).read_text().splitlines()) + writers[0].rows
    assert rows[-1] == f"w{writers[0].rows - 1},0.0,1.0", "the whole file, its last row too"
    assert not target.exists()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a writer is no error"
