"""Two processes ingesting the same file at the same moment make exactly one catalog row."""

from __future__ import annotations

import os
import queue
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from socstack.catalog.models import Event, File, FileSource, QuarantinedFile
from socstack.runtime import Runtime
from tests.integration import fresh_processes

ROUNDS = 6


def _worker(
    env: dict[str, str],
    paths: list[str],
    barrier: Any,
    results: Any,
) -> None:
    fresh_processes.use_environment(env)
    from socstack.config import get_settings

    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    ingestor = runtime.ingestor
    for path in paths:
        barrier.wait(timeout=60)
        result = ingestor.ingest(Path(path), source=FileSource.UPLOAD)
        results.put((result.name, result.outcome.value, result.kind, result.sha256))
    runtime.close()


def _race(
    runtime: Runtime, first: list[Path], second: list[Path]
) -> list[tuple[str, str, str | None, str]]:
    context = fresh_processes.context()
    barrier = context.Barrier(2)
    results = context.Queue()
    env = {k: v for k, v in os.environ.items() if k.startswith("SOC_")}
    env["SOC_DATABASE_URL"] = runtime.settings.database_url
    workers = [
        fresh_processes.process(_worker, env, [str(p) for p in paths], barrier, results)
        for paths in (first, second)
    ]
    for worker in workers:
        worker.start()
    out = []
    try:
        for _ in range(2 * len(first)):
            out.append(results.get(timeout=120))
    except queue.Empty:
        pytest.fail("a worker died or hung")
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [w.exitcode for w in workers] == [0, 0]
    return out


def _copies(source: Path, folder: Path) -> list[Path]:
    """ROUNDS files of the same product on different days (names differ, content valid)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for day in range(1, ROUNDS + 1):
        name = f"demo_mag_anc_cal_202502{day:02d}_v1.0.0.csv"
        (folder / name).write_bytes(source.read_bytes())
        paths.append(folder / name)
    return paths


def test_the_same_file_from_two_processes_makes_one_row(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    paths = _copies(demo_copy / "demo_mag_anc_cal_20250101_v1.0.0.csv", tmp_path / "a")
    outcomes = _race(runtime, paths, paths)
    with runtime.catalog.session() as session:
        names = list(session.scalars(select(File.name)))
        events = list(session.scalars(select(Event.subject)))
    assert sorted(names) == sorted(p.name for p in paths), "exactly one row per name"
    assert sorted(events) == sorted(p.name for p in paths), "exactly one event per name"
    for path in paths:
        mine = sorted(o[1] for o in outcomes if o[0] == path.name)
        assert mine == ["archived", "unchanged"], (path.name, mine)
    assert len(runtime.archive.keys()) == ROUNDS
    root = runtime.archive.local_path("")
    assert root is not None and not list(root.rglob(".*.tmp")), "no temporary file left"


def test_different_content_under_one_name_keeps_the_first_and_quarantines_the_other(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    ours = _copies(demo_copy / "demo_mag_anc_cal_20250101_v1.0.0.csv", tmp_path / "ours")
    theirs = _copies(demo_copy / "demo_pls_anc_cal_20250101_v1.0.0.csv", tmp_path / "theirs")
    outcomes = _race(runtime, ours, theirs)
    with runtime.catalog.session() as session:
        archived = {f.name: f.sha256 for f in session.scalars(select(File))}
        quarantined = list(session.scalars(select(QuarantinedFile)))
    assert len(archived) == ROUNDS
    assert len(quarantined) == ROUNDS
    assert {q.kind for q in quarantined} == {"conflict"}
    for name, sha in archived.items():
        winner = [o for o in outcomes if o[0] == name and o[1] == "archived"]
        loser = [o for o in outcomes if o[0] == name and o[1] == "quarantined"]
        assert len(winner) == 1 and len(loser) == 1
        assert winner[0][3] == sha, "the catalog holds the winner's checksum"
        with runtime.archive.open(f"demo/mag/anc/2025/02/{name}") as handle:
            data = handle.read()
        assert __import__("hashlib").sha256(data).hexdigest() == sha, (
            "the archive holds the winner's bytes"
        )


def test_two_versions_of_one_partition_at_once_leave_one_archived(
    runtime: Runtime, demo_copy: Path, tmp_path: Path
) -> None:
    source = demo_copy / "demo_mag_anc_cal_20250101_v1.0.0.csv"
    older, newer = [], []
    for folder, version, bucket in (("old", "1.0.0", older), ("new", "1.1.0", newer)):
        (tmp_path / folder).mkdir()
        for day in range(1, ROUNDS + 1):
            path = tmp_path / folder / f"demo_mag_anc_cal_202503{day:02d}_v{version}.csv"
            path.write_bytes(source.read_bytes())
            bucket.append(path)
    _race(runtime, older, newer)
    with runtime.catalog.session() as session:
        rows = list(session.scalars(select(File)))
    assert len(rows) == 2 * ROUNDS
    archived = sorted(f.name for f in rows if f.status.value == "archived")
    assert archived == sorted(p.name for p in newer), "exactly the newer version stays archived"
