"""What an identity sees of the catalog's files (and of release records), per request.

A file is seen when all of its time range may be seen (``Action.READ`` with
``whole=True``: a download gives all of it). Listing the catalog must not cost one
authorization per file, nor page before filtering (pages would come back short and
totals would count what is hidden), so :class:`Sight` asks
:meth:`~socstack.access.Access.visible` once per product and turns the ranges into one
SQL condition that the search's count and page both carry.

The condition and :meth:`Sight.sees` say the same thing as ``Access.authorize``: a file
covers ``[start, stop)``, a file with no stop (a calibration valid onwards) or an
empty range covers the instant ``start``, and a file with no start is seen only by who
sees all of its product.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, false, or_

from socstack.access import Access, Action, Identity
from socstack.access.intervals import ALL, Intervals, contains, file_span, ns
from socstack.catalog.models import File

if TYPE_CHECKING:
    from socstack.api.deps import Guard

__all__ = ["PUBLIC", "Sight", "file_span", "release_seen"]

#: The public: nobody signed in, with no scope at all, so no server setting (HAPI's
#: ``include_unreleased`` for internal servers lets anonymous requests see everything)
#: widens it. What it sees is what the files' ``released`` field calls public.
PUBLIC = Identity(None, scopes=frozenset())

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _at(value: int) -> dt.datetime | None:
    """An interval bound as a datetime; None for a bound beyond any datetime (unbounded)."""
    if value in ALL[0]:
        return None
    try:
        return _EPOCH + dt.timedelta(microseconds=value // 1000)
    except OverflowError:
        return None


class Sight:
    """What one identity sees of each product, asked once per product."""

    def __init__(self, access: Access, identity: Identity):
        self.access = access
        self.identity = identity
        self._seen: dict[tuple[str, str], Intervals] = {}

    def intervals(self, mission: str, product: str) -> Intervals:
        """The time ranges of a product the identity may see."""
        key = (mission, product)
        if key not in self._seen:
            self._seen[key] = self.access.visible(self.identity, mission, product)
        return self._seen[key]

    def sees(self, row: File) -> bool:
        """Whether all of a file may be seen."""
        seen = self.intervals(row.mission, row.product)
        return bool(seen) and contains(seen, *file_span(row.start, row.stop))

    def where(self, products: Iterable[tuple[str, str]]) -> ColumnElement[bool]:
        """A SQL condition true for exactly the files of ``products`` that may be seen."""
        whole: dict[str, list[str]] = {}
        parts: list[ColumnElement[bool]] = []
        for mission, product in products:
            seen = self.intervals(mission, product)
            if seen == ALL:
                whole.setdefault(mission, []).append(product)
            elif seen:
                ranges = [self._within(start, stop) for start, stop in seen]
                of = (File.mission == mission) & (File.product == product)
                parts.append(and_(of, File.start.is_not(None), or_(*ranges)))
        for mission, names in whole.items():
            parts.append((File.mission == mission) & File.product.in_(sorted(names)))
        return or_(*parts) if parts else false()

    @staticmethod
    def _within(start: int, stop: int) -> ColumnElement[bool]:
        """A file inside ``[start, stop)`` (see :func:`file_span` for what it covers)."""
        lo, hi = _at(start), _at(stop)
        conditions: list[ColumnElement[bool]] = []
        if lo is not None:
            conditions.append(File.start >= lo)
        if hi is not None:
            # start < hi covers the instant of a file without a stop; a stop past hi fails.
            conditions += [File.start < hi, or_(File.stop.is_(None), File.stop <= hi)]
        return and_(*conditions) if conditions else File.start.is_not(None)


def release_seen(
    guard: Guard,
    *,
    mission: str,
    product: str,
    kind: str,
    start: dt.datetime,
    stop: dt.datetime,
    effective: bool = True,
) -> bool:
    """Whether the asker may see a release record (or its ``release.effective`` event).

    Who may release the product (its team, admins) and operators see every record. Anyone
    else sees an effective release of data they may now see, and an effective unrelease
    of data that was public before it (a peer that mirrored it must learn to drop it),
    if they may see any of the product at all; never an unrelease of data that was never
    public (an embargo's, a team's working material): that would tell what is held back.
    """
    where = {"mission": mission, "product": product}
    if guard.decide(Action.RELEASE, **where) or guard.decide(Action.OPERATE):
        return True
    if not effective:
        return False
    if kind != "unrelease":
        return guard.decide(Action.READ, **where, start=start, stop=stop).allowed
    return guard.decide(Action.READ, **where).allowed and _was_public(
        guard.access, mission, product, start, stop
    )


def _was_public(
    access: Access, mission: str, product: str, start: dt.datetime, stop: dt.datetime
) -> bool:
    """Whether some of ``[start, stop)`` of a product was public by its policy or a release."""
    spec = access.missions.missions.get(mission)
    if spec is None or product not in spec.products:
        return False
    policy = spec.policy(product)
    if policy.public == "always":
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=policy.latency_days)
        if start < cutoff:
            return True
    lo, hi = ns(start), ns(stop)
    return any(
        kind == "release" and s < hi and lo < e
        for kind, s, e in access.releases.spans(mission, product)
    )
