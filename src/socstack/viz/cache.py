"""What the viz fetched over HAPI, kept so that zooming and export do not fetch again.

An entry is one fetched window of one dataset's parameters on one server. A request
inside a window already held is answered from memory; anything else is fetched and
kept, least recently used first out, within ``SOC_VIZ_CACHE_MB``. Shared by every
session of the process: two people looking at the same day cost one download.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from socstack.client.hapi import Table

__all__ = ["Fetched", "TableCache"]

Key = tuple[str, str, tuple[str, ...], str]  # server, dataset, parameters, modified


@dataclass
class Fetched:
    """A fetched window of records and what it holds."""

    start: int
    stop: int
    table: Table


class TableCache:
    """Fetched windows by (server, dataset, parameters), LRU within a byte budget."""

    def __init__(self, budget_bytes: int):
        self.budget = budget_bytes
        self._entries: OrderedDict[tuple[Key, int, int], Fetched] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[Key, int, int], threading.Lock] = {}
        self.fetches = 0  # for tests and the benchmark: how many downloads happened

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        with self._lock:
            return sum(e.table.nbytes for e in self._entries.values())

    def get(
        self,
        key: Key,
        start: int,
        stop: int,
        fetch: Callable[[int, int], Table],
    ) -> Table:
        """Records in ``[start, stop)``, fetched with ``fetch(start, stop)`` if not held."""
        held = self._covering(key, start, stop)
        if held is not None:
            return held.table.window(start, stop)
        # One download per window even when several callbacks ask at once.
        with self._lock:
            loading = self._loading.setdefault((key, start, stop), threading.Lock())
        with loading:
            held = self._covering(key, start, stop)
            if held is None:
                table = fetch(start, stop)
                self.fetches += 1
                held = Fetched(start, stop, table)
                self._keep(key, held)
        with self._lock:
            self._loading.pop((key, start, stop), None)
        return held.table.window(start, stop)

    def _covering(self, key: Key, start: int, stop: int) -> Fetched | None:
        with self._lock:
            for (k, a, b), entry in reversed(self._entries.items()):
                if k == key and a <= start and stop <= b:
                    self._entries.move_to_end((k, a, b))
                    return entry
        return None

    def _keep(self, key: Key, fetched: Fetched) -> None:
        with self._lock:
            # A window inside the new one is no longer needed.
            for k, a, b in list(self._entries):
                if k == key and fetched.start <= a and b <= fetched.stop:
                    del self._entries[(k, a, b)]
            self._entries[(key, fetched.start, fetched.stop)] = fetched
            total = sum(e.table.nbytes for e in self._entries.values())
            while total > self.budget and len(self._entries) > 1:
                _, oldest = self._entries.popitem(last=False)
                total -= oldest.table.nbytes
