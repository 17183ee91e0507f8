"""Files kept through fsspec: a local folder (``file://``, the default) or object storage.

Writes are two-step so that the catalog can make "archived" one unit: ``stage`` does the
slow work (copy and checksum) without touching the final name; ``commit`` makes the file
appear under its final key in one atomic step (``os.replace`` of a fully written and
fsynced temporary file beside it, or a single object PUT, which object stores make
visible only once complete). A crash before ``commit`` leaves at most a hidden
temporary file, never a half file at a name the catalog points to.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from socstack._exceptions import ConfigError, FileChanged, StorageError
from socstack.archive.checksum import sha256_file

__all__ = ["Staged", "Store", "fingerprint", "storage_options"]

logger = logging.getLogger(__name__)

_PARALLEL_THRESHOLD = 8 << 20  # below this, one read serves both hash and copy
TEMPORARY_SUFFIX = ".tmp"


@dataclass
class Staged:
    """A file copied and checksummed, waiting for ``commit``."""

    key: str
    source: Path
    size: int
    sha256: str
    temporary: str | None  # local stores: the hidden file beside the final path


def storage_options(url: str, *, s3_endpoint_url: str = "") -> dict[str, Any]:
    """The fsspec options a store at ``url`` needs beyond the URL itself.

    For ``s3://``: the endpoint of a non-AWS server (MinIO, Ceph, moto), and no listings
    cache. Several processes write one archive, and s3fs would otherwise answer
    ``exists`` and ``find`` from a listing it made before another worker's write.
    Credentials are left to the AWS chain (environment, profile, pod or instance role),
    so no secret passes through socstack's settings.
    """
    protocol = url.split("://", 1)[0] if "://" in url else "file"
    if protocol not in ("s3", "s3a"):
        return {}
    options: dict[str, Any] = {"use_listings_cache": False}
    if s3_endpoint_url:
        options["endpoint_url"] = s3_endpoint_url
    return options


def fingerprint(path: Path) -> tuple[int, int, int]:
    """A file's size, modification time and inode.

    One of them changes when the file is written to or replaced, so two equal
    fingerprints taken around a read mean the bytes read were those of one file.
    """
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """A root URL and the files below it, addressed by POSIX keys."""

    def __init__(
        self, url: str, *, fsync: bool = True, storage_options: dict[str, Any] | None = None
    ):
        try:
            self.fs, root = fsspec.core.url_to_fs(url, **(storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ConfigError(f"cannot open storage {url!r}: {exc}") from exc
        self.url = url
        self.root = root.rstrip("/")
        self.local = isinstance(self.fs, LocalFileSystem)
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def path(self, key: str) -> str:
        """The store path of ``key`` (a local path for local stores)."""
        clean = PurePosixPath(key)
        if clean.is_absolute() or ".." in clean.parts:
            raise StorageError(f"invalid key {key!r}")
        return f"{self.root}/{clean}"

    def local_path(self, key: str) -> Path | None:
        """The file's local path if the store is local, else None."""
        return Path(self.path(key)) if self.local else None

    # -- writing ----------------------------------------------------------------------------
    def stage(self, source: Path, key: str) -> Staged:
        """Copy ``source`` next to its final place (local) and checksum it."""
        before = fingerprint(source)
        try:
            if self.local:
                staged = self._stage_local(source, key, before[0])
            else:
                staged = Staged(key, source, before[0], sha256_file(source), None)
        except OSError as exc:
            if not source.exists():
                raise FileChanged(f"{source.name} went away while it was being archived") from exc
            raise StorageError(f"cannot stage {source.name}: {exc}") from exc
        try:
            after: tuple[int, int, int] | None = fingerprint(source)
        except FileNotFoundError:
            after = None
        if after != before:
            self.discard(staged)
            raise FileChanged(f"{source.name} changed while it was being archived")
        return staged

    def _stage_local(self, source: Path, key: str, size: int) -> Staged:
        final = self.path(key)
        folder = os.path.dirname(final)
        os.makedirs(folder, exist_ok=True)
        temporary = os.path.join(
            folder, f".{os.path.basename(final)}.{uuid.uuid4().hex[:12]}{TEMPORARY_SUFFIX}"
        )
        try:
            if size < _PARALLEL_THRESHOLD:
                data = source.read_bytes()
                digest = hashlib.sha256(data).hexdigest()
                with open(temporary, "wb") as handle:
                    handle.write(data)
                    if self.fsync:
                        handle.flush()
                        os.fsync(handle.fileno())
            else:
                digest = self._copy_and_hash(source, temporary, fsync=self.fsync)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return Staged(key, source, size, digest, temporary)

    @staticmethod
    def _copy_and_hash(source: Path, temporary: str, *, fsync: bool) -> str:
        """Copy (and fsync) in one thread while this one hashes the source.

        The copy runs in the kernel (sendfile) and the hash outside the GIL, both on the
        same cached pages, so on two cores the checksum costs little beyond the copy
        itself (see benchmarks/README.md).
        """
        failure: list[BaseException] = []

        def copy() -> None:
            try:
                shutil.copyfile(source, temporary)
                if fsync:
                    _fsync_file(temporary)
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=copy, name="archive-copy")
        worker.start()
        try:
            digest = sha256_file(source)
        finally:
            worker.join()
        if failure:
            raise failure[0]
        return digest

    def commit(self, staged: Staged) -> None:
        """Make the staged file appear under its key, atomically."""
        final = self.path(staged.key)
        try:
            if staged.temporary is not None:
                os.replace(staged.temporary, final)
                staged.temporary = None
                if self.fsync:
                    _fsync_dir(os.path.dirname(final))
            else:
                self.fs.put_file(str(staged.source), final)
        except OSError as exc:
            raise StorageError(f"cannot store {staged.key}: {exc}") from exc

    def discard(self, staged: Staged) -> None:
        """Forget a staged file that will not be committed."""
        if staged.temporary is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(staged.temporary)
            staged.temporary = None

    def put(self, source: Path, key: str) -> Staged:
        """Stage and commit in one call (for stores without a catalog row to agree with)."""
        staged = self.stage(source, key)
        try:
            self.commit(staged)
        except BaseException:
            self.discard(staged)
            raise
        return staged

    # -- reading ----------------------------------------------------------------------------
    def open(self, key: str) -> IO[bytes]:
        """Open a stored file for reading."""
        try:
            return self.fs.open(self.path(key), "rb")
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        """True if ``key`` is stored."""
        return bool(self.fs.exists(self.path(key)))

    def size(self, key: str) -> int:
        """Size of a stored file in bytes."""
        return int(self.fs.size(self.path(key)))

    def keys(self, prefix: str = "") -> list[str]:
        """Every key below ``prefix`` (hidden temporary files excluded), sorted."""
        base = self.path(prefix) if prefix else self.root
        if not self.fs.exists(base):
            return []
        found = self.fs.find(base)
        keys = [PurePosixPath(p).relative_to(self.root).as_posix() for p in found]
        return sorted(k for k in keys if not PurePosixPath(k).name.startswith("."))

    def fetch(self, key: str, destination: Path) -> Path:
        """A local copy of a stored file (the file itself for local stores)."""
        local = self.local_path(key)
        if local is not None:
            return local
        try:
            self.fs.get_file(self.path(key), str(destination))
        except OSError as exc:
            raise StorageError(f"cannot fetch {key}: {exc}") from exc
        return destination

    def sweep_temporary(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by crashed writers; return how many."""
        if not self.local or not os.path.isdir(self.root):
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for folder, _dirs, files in os.walk(self.root):
            for name in files:
                if name.startswith(".") and name.endswith(TEMPORARY_SUFFIX):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(FileNotFoundError):
                        if os.stat(path).st_mtime < cutoff:
                            os.unlink(path)
                            removed += 1
        if removed:
            logger.info("removed %d stale temporary files from %s", removed, self.url)
        return removed
