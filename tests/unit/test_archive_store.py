"""The archive store: files appear under their key only when committed, whole."""

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from socstack._exceptions import StorageError
from socstack.archive import Store, archive_key
from socstack.mission import MissionRegistry


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store((tmp_path / "archive").as_uri())


def visible(store: Store) -> list[str]:
    return store.keys()


def test_a_staged_file_is_invisible_until_committed(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"x" * 1000)
    staged = store.stage(source, "m/i/l0/2025/01/a.bin")
    assert staged.sha256 == hashlib.sha256(b"x" * 1000).hexdigest()
    assert staged.size == 1000
    assert visible(store) == []
    assert not store.exists("m/i/l0/2025/01/a.bin")
    store.commit(staged)
    assert visible(store) == ["m/i/l0/2025/01/a.bin"]
    with store.open("m/i/l0/2025/01/a.bin") as handle:
        assert handle.read() == b"x" * 1000
    hidden = [p for p in (tmp_path / "archive").rglob(".*")]
    assert hidden == []


def test_discard_leaves_nothing(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"abc")
    staged = store.stage(source, "k/a.bin")
    store.discard(staged)
    assert list((tmp_path / "archive").rglob("*.*")) == []


def test_large_files_hash_while_copying(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    data = os.urandom(9 << 20)  # above the threshold for the parallel path
    source.write_bytes(data)
    staged = store.put(source, "k/big.bin")
    assert staged.sha256 == hashlib.sha256(data).hexdigest()
    assert (tmp_path / "archive" / "k" / "big.bin").read_bytes() == data


def test_a_source_that_changes_while_staged_is_refused(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "growing.bin"
    source.write_bytes(os.urandom(64 << 20))
    stop = threading.Event()

    def append() -> None:
        with source.open("ab") as handle:
            while not stop.is_set():
                handle.write(b"more")
                handle.flush()
                time.sleep(0.001)

    writer = threading.Thread(target=append)
    writer.start()
    try:
        with pytest.raises(StorageError, match="changed while it was being archived"):
            store.stage(source, "k/growing.bin")
    finally:
        stop.set()
        writer.join()
    assert list((tmp_path / "archive").rglob("*growing*")) == []


@pytest.mark.parametrize("key", ["../escape.bin", "/abs/key", "a/../../b"])
def test_keys_cannot_escape_the_root(store: Store, key: str) -> None:
    with pytest.raises(StorageError, match="invalid key"):
        store.path(key)


def test_stale_temporaries_are_swept(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "archive" / "k"
    folder.mkdir(parents=True)
    stale = folder / ".a.bin.0123456789ab.tmp"
    fresh = folder / ".b.bin.0123456789ab.tmp"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert store.sweep_temporary(older_than=3600) == 1
    assert not stale.exists() and fresh.exists()


def test_archive_layout(demo_missions: MissionRegistry) -> None:
    _product, name = demo_missions.parse_name("demo_pls_anc_cal_20250108_v1.2.0.csv")
    assert archive_key(name) == "demo/pls/anc/2025/01/demo_pls_anc_cal_20250108_v1.2.0.csv"
