"""The drop box: a folder scanned for new files, which are ingested and then removed.

A file is picked up only when it is finished:

- names that writers use while writing are never touched: hidden files (``.name``)
  and the usual partial suffixes (``.part``, ``.tmp``, ``.partial``, ``.filepart``,
  ``.crdownload``, ``.swp``, ``~``); the convention for uploaders is to write under such
  a name and rename when done;
- any other file must keep the same size and modification time for ``settle`` seconds,
  which covers writers that append in place.

The scan polls rather than waiting for inotify events, so it works on network mounts
(NFS, SMB) where those events never arrive. A file leaves the drop box only after it is
archived or quarantined; if the catalog or archive is unavailable it stays and is
retried with backoff, so nothing is lost. A file that changes while it is being read
(the ingest checks it did not) is neither archived nor quarantined: it is waited for
again. After the ingest the file is removed only if it is still the one that was read,
so a redelivery under the same name waits for the next scan instead of being lost.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from socstack._exceptions import CatalogError, FileChanged, StorageError
from socstack.catalog.models import FileSource
from socstack.ingest.results import IngestResult
from socstack.ingest.service import Ingestor

__all__ = ["DropBox", "is_partial_name"]

logger = logging.getLogger(__name__)

PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".filepart", ".crdownload", ".swp", "~")


def is_partial_name(name: str) -> bool:
    """True for names that writers use while a file is incomplete."""
    return name.startswith(".") or name.endswith(PARTIAL_SUFFIXES)


def _fingerprint(stat: os.stat_result) -> tuple[int, int, int]:
    """Size, modification time and inode: any write, or a replacement, changes one."""
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


@dataclass
class _Candidate:
    fingerprint: tuple[int, int, int]
    steady_since: float
    failures: int = 0
    retry_at: float = 0.0
    #: Ingested, but the drop box could not remove it: leave it until it changes.
    stuck: bool = False


class DropBox:
    """Watches one folder (and its sub-folders) and ingests finished files.

    Writers may work in the folder while it is scanned (``socstack demo generate --out``
    the drop box, an uploader, a second delivery of the same name): a file that changes,
    is replaced or goes away at any moment is waited for or forgotten, never ingested
    half-written, never reported with a traceback, and a newer file under an ingested
    name is never removed unseen.
    """

    def __init__(
        self,
        ingestor: Ingestor,
        folder: Path,
        *,
        settle: float = 1.0,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        on_result: Callable[[IngestResult], None] | None = None,
    ):
        self.ingestor = ingestor
        self.folder = folder
        self.settle = settle
        self.interval = interval
        self.clock = clock
        self.on_result = on_result
        self._seen: dict[Path, _Candidate] = {}

    def _files(self) -> Iterator[tuple[Path, os.stat_result]]:
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if is_partial_name(name):
                    continue
                path = Path(root) / name
                try:
                    stat = path.lstat()
                except FileNotFoundError:  # taken away since the folder was listed
                    continue
                except OSError as exc:  # unreadable: say so, keep scanning the rest
                    logger.debug("drop box: cannot stat %s: %s", path, exc)
                    continue
                if S_ISREG(stat.st_mode):  # plain files only: no symlinks, fifos, ...
                    yield path, stat

    def scan(self) -> list[IngestResult]:
        """One pass: note what changed, ingest what has settled; return the outcomes."""
        now = self.clock()
        wall = time.time()
        present: set[Path] = set()
        ready: list[Path] = []
        for path, stat in self._files():
            present.add(path)
            seen = self._seen.get(path)
            if seen is None or seen.fingerprint != _fingerprint(stat):
                seen = self._seen[path] = _Candidate(_fingerprint(stat), now)
                if self.settle > 0:
                    continue
            if seen.stuck:
                continue
            steady = now - seen.steady_since >= self.settle
            quiet = wall - stat.st_mtime_ns / 1e9 >= self.settle
            if steady and quiet and now >= seen.retry_at:
                ready.append(path)
        for gone in set(self._seen) - present:
            del self._seen[gone]
        results = []
        for path in ready:
            result = self._ingest(path)
            if result is not None:
                results.append(result)
        return results

    def _still_there(self, path: Path, candidate: _Candidate) -> bool:
        """True if ``path`` is still the file that settled; else forget or restart it."""
        try:
            fingerprint = _fingerprint(path.lstat())
        except FileNotFoundError:
            self._seen.pop(path, None)
            return False
        if fingerprint != candidate.fingerprint:
            self._seen[path] = _Candidate(fingerprint, self.clock())
            return False
        return True

    def _ingest(self, path: Path) -> IngestResult | None:
        candidate = self._seen[path]
        if not self._still_there(path, candidate):  # written to since the scan saw it
            return None
        try:
            result = self.ingestor.ingest(path, source=FileSource.DROPBOX)
        except FileChanged as exc:
            # Its writer is not done (or took it back): wait for it to settle again.
            if self._still_there(path, candidate):
                self._seen[path] = _Candidate(candidate.fingerprint, self.clock())
            logger.info("drop box: %s is still changing (%s); waiting for it", path.name, exc)
            return None
        except (CatalogError, StorageError) as exc:
            candidate.failures += 1
            delay = min(60.0, 2.0**candidate.failures)
            candidate.retry_at = self.clock() + delay
            logger.error(
                "drop box: %s not ingested (%s); retrying in %.0f s", path.name, exc, delay
            )
            return None
        self._remove(path, candidate)
        if result.reason:
            logger.warning("drop box: %s quarantined: %s", path.name, result.reason)
        else:
            logger.info("drop box: %s %s", path.name, result.outcome.value)
        if self.on_result:
            self.on_result(result)
        return result

    def _remove(self, path: Path, candidate: _Candidate) -> None:
        """Remove the file just ingested, unless a new one took its name meanwhile."""
        if not self._still_there(path, candidate):
            logger.info(
                "drop box: %s changed or was delivered again while it was ingested;"
                " the new file waits for the next scan",
                path.name,
            )
            return
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            candidate.stuck = True
            logger.error(
                "drop box: %s was ingested but cannot be removed (%s); it is left alone"
                " until it changes",
                path.name,
                exc,
            )
            return
        self._seen.pop(path, None)

    def run(self, stop: threading.Event) -> None:
        """Scan until ``stop`` is set."""
        self.folder.mkdir(parents=True, exist_ok=True)
        logger.info("watching drop box %s (settle %.1f s)", self.folder, self.settle)
        while not stop.is_set():
            try:
                self.scan()
            except Exception:  # keep watching: one bad scan must not end the drop box
                logger.exception("drop box scan failed")
            stop.wait(self.interval)
