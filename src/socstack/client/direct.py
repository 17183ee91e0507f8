"""The direct transport: the archive's files through the catalog, next to the data.

Inside the data center there is no reason to encode a year of records as HAPI binary
only to decode it again: this transport asks the HAPI server's own archive source
(:class:`socstack.hapi.source.ArchiveSource`) for the same infos and records the HAPI
door serves, through the same access rule, so what it gives is what HAPI gives the same
token, byte for byte, without the HTTP. Each file it reads is recorded for a notebook
run's provenance (:func:`socstack.analysis.runenv.record_read`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from socstack._exceptions import AccessError, ClientError, SocError
from socstack.access import Action, Identity
from socstack.access.http import identity_of, status_of
from socstack.access.intervals import NONE, Intervals
from socstack.access.redact import redact
from socstack.analysis import runenv
from socstack.catalog.models import File
from socstack.client.assemble import fill_nan
from socstack.client.hapi import Table, with_bin_parameters
from socstack.hapi.encoders import as_columns
from socstack.hapi.metadata import HapiDataset, HapiParameter
from socstack.hapi.source import ArchiveSource, Block
from socstack.runtime import Runtime

__all__ = ["DirectTransport"]

#: Files read ahead in threads: reading a CDF file is partly outside the GIL.
READ_AHEAD = 2
#: Seconds a dataset's visible ranges and coverage are reused (as HapiServer's infos).
SHOWN_TTL = 30.0


def _column(parameter: HapiParameter, blocks: list[Block], total: int) -> np.ndarray:
    """The empty column of ``total`` records, in the type HAPI sends ``parameter`` as."""
    sample = blocks[0].values[parameter.name][:1] if blocks else np.empty((0, *parameter.size))
    kind = as_columns(parameter, sample).dtype
    return np.empty((total, *parameter.size), dtype=kind)


class DirectTransport:
    """Reads the archive of ``runtime`` as the holder of ``token`` (None: anonymous)."""

    kind = "direct"

    def __init__(self, runtime: Runtime, token: str | None, *, describe: str = "the token"):
        self.runtime = runtime
        self.server = f"direct:{redact(runtime.settings.archive_url)}"
        self.source = ArchiveSource(runtime, on_read=self._read, read_ahead=READ_AHEAD)
        self.identity = self._identify(token, describe)
        self._recorded: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, tuple[HapiDataset, Intervals, Any]]] = {}

    def _identify(self, token: str | None, describe: str) -> Identity:
        """The identity of ``token``, as the HTTP doors identify a Bearer token."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        try:
            return identity_of(self.runtime.access, headers, None, "socstack.client")
        except AccessError as exc:
            raise ClientError(
                f"{describe} was refused: {redact(str(exc))}", status_of(exc)
            ) from exc
        except SocError as exc:
            raise ClientError(f"cannot check {describe}: {exc}") from exc

    def _read(self, dataset: HapiDataset, row: File) -> None:
        """Record each archive file read, once per run (the support tables are reads too)."""
        folder = runenv.run_dir()
        with self._lock:  # files are read in threads
            if folder is None or (str(folder), row.name) in self._recorded:
                return
            self._recorded.add((str(folder), row.name))
        runenv.record_read(row.name, product=row.product, sha256=row.sha256, dataset=dataset.id)

    # -- what the identity sees -----------------------------------------------------------
    def _seen(self, dataset: HapiDataset) -> Intervals:
        decision = self.runtime.access.authorize(
            self.identity, Action.READ, mission=dataset.mission.name, product=dataset.product.id
        )
        return decision.intervals if decision.allowed else NONE

    def catalog(self) -> list[tuple[str, str]]:
        """The datasets the identity sees data of (as the HAPI catalog lists them)."""
        out = []
        for dataset in self.source.datasets():
            seen = self._seen(dataset)
            if seen and self.source.coverage(dataset, seen) is not None:
                out.append((dataset.id, dataset.title))
        return out

    def _shown(self, dataset_id: str) -> tuple[HapiDataset, Intervals, Any]:
        """The dataset, what the identity sees of it, and its coverage there.

        Kept for ``SHOWN_TTL`` seconds, as the HAPI client keeps an info: a day-chunked
        read asks once per day, and the answer changes only with new files or releases.
        """
        now = time.monotonic()
        cached = self._cache.get(dataset_id)
        if cached is not None and now - cached[0] < SHOWN_TTL:
            return cached[1]
        shown = self._look_up(dataset_id)
        self._cache[dataset_id] = (now, shown)
        return shown

    def _look_up(self, dataset_id: str) -> tuple[HapiDataset, Intervals, Any]:
        dataset = self.source.dataset(dataset_id)
        unknown = ClientError(f"no dataset {dataset_id!r} that {self._who()} may see", 404)
        if dataset is None:
            raise unknown
        seen = self._seen(dataset)
        coverage = self.source.coverage(dataset, seen) if seen else None
        if coverage is None:
            raise unknown
        return dataset, seen, coverage

    def _who(self) -> str:
        return "anyone" if self.identity.anonymous else self.identity.label

    def info(self, dataset_id: str) -> dict[str, Any]:
        """The info the HAPI server gives this identity (without HAPI and status)."""
        dataset, seen, coverage = self._shown(dataset_id)
        return dataset.info(coverage, self.source.support(dataset, seen))

    def table(self, dataset_id: str, names: list[str], start: int, stop: int) -> Table:
        """The records of ``names`` (and their bins' parameters) in [start, stop)."""
        dataset, seen, _ = self._shown(dataset_id)
        described = {"parameters": [p.description for p in dataset.parameters]}
        wanted = with_bin_parameters(described, names)
        chosen = [p for p in dataset.parameters if p.name in wanted]
        blocks = list(self.source.records(dataset, chosen, start, stop, seen))
        total = sum(len(b.times) for b in blocks)
        # HAPI sends times truncated to the dataset's digits: so must this, to be equal.
        step = 10 ** (9 - dataset.time_digits)
        # One copy of each file's arrays into the year's, converted to the type HAPI
        # sends, truncated and NaN-filled while the file's slice is in the CPU's cache:
        # a pass over a year's 1.3 GB costs more than the work on it.
        times = np.empty(total, np.int64)
        values = {p.name: _column(p, blocks, total) for p in chosen}
        at = 0
        for block in blocks:
            end = at + len(block.times)
            part = times[at:end]
            part[:] = block.times
            if step > 1:
                part -= part % step
            for p in chosen:
                column = values[p.name][at:end]
                column[:] = as_columns(p, block.values[p.name]).reshape(column.shape)
                fill_nan(column, p.description)
            at = end
        return Table(times, values, nan_filled=True)

    def record(self, dataset: str, start: int, stop: int) -> None:
        """Nothing to add: every file read is recorded as it is read."""

    def close(self) -> None:
        """Nothing of its own to close (the runtime is the caller's)."""
