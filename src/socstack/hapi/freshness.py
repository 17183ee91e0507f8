"""When what an identity sees last changed: ``Last-Modified`` for partial views of a product.

For an identity that sees all of a product, the data change only when files arrive, so
``Last-Modified`` (and ``modificationDate``) is the last ingest of the files served. For
one that sees part of it, what it sees also changes when nothing is ingested: a release
opens a range, an unrelease closes one, an embargo's boundary moves on every second. The
last ingest of the visible files alone would then answer ``304 Not Modified`` to a client
whose copy predates the change, and the last ingest of every file would tell it when
data it may not see were reprocessed.

So each partial view of a response (one dataset's info, one data request's range, one
catalog) is remembered with what it showed: the visible ranges, or the listing. While
they stay the same, the view keeps the moment they were first served; when they differ,
the view changed now. The moment is never earlier than the change, so a ``304`` is only
given to copies that are current; a view this process has not seen (just started, or
forgotten: the memory is bounded) counts as changed now, which costs a client one full
response and never a stale one. Nothing here depends on how the access rule decided.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Hashable

__all__ = ["ViewStamps"]


class ViewStamps:
    """The moment each partial view last changed, for a bounded number of views."""

    def __init__(self, size: int = 8192):
        self.size = size
        self._seen: OrderedDict[Hashable, tuple[Hashable, dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def changed(self, view: Hashable, shown: Hashable) -> dt.datetime:
        """When ``view`` (which now shows ``shown``) last changed, to the second.

        Parameters
        ----------
        view
            What the response is, for whom: for example the dataset, the request's
            range and the identity's groups.
        shown
            What it shows now (the visible ranges within it, or a listing).
        """
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        with self._lock:
            known = self._seen.get(view)
            if known is not None and known[0] == shown:
                self._seen.move_to_end(view)
                return known[1]
            self._seen[view] = (shown, now)
            self._seen.move_to_end(view)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)
        return now
