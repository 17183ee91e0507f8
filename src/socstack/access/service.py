"""The one authorization function every door calls, and what it needs to answer.

``Access.authorize(identity, action, ...)`` answers every question of every door: may
this identity see this product over this time range (and which part of it), upload this
product's files, run the pipeline, release, administer. The answer is a
:class:`Decision`; each door maps a refusal to its protocol (HTTP 401 when a token would
help, 403 when it would not; HAPI 1406 for a dataset someone may not know exists).

**What someone sees of a product.** Its team (the mission's or the instrument's, by its
policy), the mission's project, operators and admins see all of it. Everyone else sees
what is public: all of it if the policy says ``always`` (once older than its latency),
the ranges releases opened if it says ``release``, nothing if ``never``; an unrelease
closes its range whatever the policy. **A derived product is no more public than what it
is made from**: what is seen of it is cut to what is seen of each releasable product it
is made from (the nearest upstream products whose policy is not ``never``), so a
combined product, a notebook's output or a mining result never opens what its inputs
keep closed. Products never public (raw levels) are the team's working material: they
hold back nothing the team releases from them.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from functools import cached_property

from socstack.access.accounts import Accounts
from socstack.access.identity import Identity
from socstack.access.intervals import (
    ALL,
    NONE,
    Intervals,
    contains,
    intersect,
    ns,
    overlaps,
    subtract,
    union,
)
from socstack.access.limits import FailureLimiter
from socstack.access.oidc import OidcVerifier
from socstack.access.releases import Releases, team_groups
from socstack.catalog.db import Catalog
from socstack.catalog.models import utcnow
from socstack.config import Settings
from socstack.mission.loader import MissionRegistry
from socstack.mission.model import Mission

__all__ = ["Access", "Action", "Decision"]

_DAY_NS = 86_400 * 1_000_000_000


class Action(enum.StrEnum):
    """What a door asks to do."""

    READ = "read"  # see a product's data (over a time range)
    UPLOAD = "upload"  # deliver a product's files
    READ_JOBS = "read_jobs"  # see a mission's jobs
    RUN = "run"  # retry jobs, reprocess
    ANALYSE = "analyse"  # submit notebook runs (each reads as its submitter)
    RELEASE = "release"  # release or unrelease a product's data
    OPERATE = "operate"  # metrics, quarantine: the data center's own workings
    ADMIN = "admin"  # users, tokens, the audit log
    NOTEBOOK = "notebook"  # open JupyterLab at /notebook (code next to the data)


@dataclass(frozen=True)
class Decision:
    """An answer: allowed or not, why, and for reads what part of the data may be seen."""

    allowed: bool
    reason: str
    identity: Identity
    intervals: Intervals = NONE

    @property
    def status(self) -> int:
        """The HTTP status of a refusal: 401 if a token could help, else 403."""
        if self.allowed:
            return 200
        return 401 if self.identity.anonymous else 403

    def __bool__(self) -> bool:
        return self.allowed


class Access:
    """Accounts, releases and the authorization function, over one catalog."""

    def __init__(self, catalog: Catalog, missions: MissionRegistry, settings: Settings):
        self.catalog = catalog
        self.missions = missions
        self.settings = settings
        self.accounts = Accounts(catalog, missions, cache_seconds=settings.token_cache_seconds)
        self.releases = Releases(catalog, missions, cache_seconds=settings.release_cache_seconds)
        self.failures = FailureLimiter(settings.auth_failures_per_minute)
        self.oidc = (
            OidcVerifier(
                settings.oidc_jwks,
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                groups_claim=settings.oidc_groups_claim,
            )
            if settings.oidc_jwks
            else None
        )

    # -- who sees what ------------------------------------------------------------------------
    @cached_property
    def _ancestors(self) -> dict[tuple[str, str], list[str]]:
        """The releasable products each product is made from (nearest upstream, per branch)."""
        out: dict[tuple[str, str], list[str]] = {}
        for mission in self.missions:
            makers = {o.product: r for r in mission.rules.values() for o in r.outputs}

            def releasable(product: str, m: Mission = mission, rules=makers) -> list[str]:  # type: ignore[no-untyped-def]
                found: list[str] = []
                seen: set[str] = set()
                stack = [i.product for i in rules[product].inputs] if product in rules else []
                while stack:
                    current = stack.pop()
                    if current in seen:
                        continue
                    seen.add(current)
                    if m.policy(current).public != "never":
                        found.append(current)
                    elif current in rules:
                        stack.extend(i.product for i in rules[current].inputs)
                return sorted(found)

            for product in mission.products:
                out[(mission.name, product)] = releasable(product)
        return out

    def releasable_ancestors(self, mission: str, product: str) -> list[str]:
        """The releasable products ``product`` is made from (what limits who sees it)."""
        return list(self._ancestors.get((mission, product), []))

    def sees_all(self, identity: Identity, mission: Mission, product: str) -> bool:
        """Whether ``identity`` sees every byte of ``product`` (its team, staff)."""
        if not identity.can("read"):
            return False
        if identity.staff or self.settings.hapi_include_unreleased:
            return True  # staff; or an internal server, where all see all, by its choice
        return bool(identity.groups & team_groups(mission, product))

    def public(self, mission: Mission, product: str, now: dt.datetime | None = None) -> Intervals:
        """What anyone may see of ``product`` by its own policy and releases."""
        policy = mission.policy(product)
        now_ns = ns(now or utcnow())
        if policy.public == "always":
            seen = (
                ((ALL[0][0], now_ns - policy.latency_days * _DAY_NS),)
                if policy.latency_days
                else ALL
            )
        else:
            seen = NONE
        for kind, start, stop in self.releases.spans(mission.name, product):
            if kind == "unrelease":
                seen = subtract(seen, [(start, stop)])
            elif policy.public != "never":
                seen = union(seen, [(start, stop)])
        return seen

    def visible(self, identity: Identity, mission: str, product: str) -> Intervals:
        """The time ranges of ``product`` that ``identity`` may see (ALL, NONE, or ranges)."""
        spec = self.missions.missions.get(mission)
        if spec is None or product not in spec.products:
            return NONE
        own = ALL if self.sees_all(identity, spec, product) else self.public(spec, product)
        for ancestor in self._ancestors.get((mission, product), []):
            if not own:
                break
            own = intersect(own, self.visible(identity, mission, ancestor))
        return own

    # -- the one function -------------------------------------------------------------------
    def authorize(
        self,
        identity: Identity,
        action: Action,
        *,
        mission: str | None = None,
        product: str | None = None,
        start: dt.datetime | int | None = None,
        stop: dt.datetime | int | None = None,
        whole: bool = False,
    ) -> Decision:
        """Whether ``identity`` may do ``action`` (on a product, over a time range).

        For :attr:`Action.READ` the decision carries the ranges that may be seen; with a
        time range it is allowed if any of it may be seen (``whole``: all of it, as for
        downloading a file).
        """
        spec = self.missions.missions.get(mission or "")
        if action == Action.READ:
            return self._read(identity, spec, product, start, stop, whole=whole)
        if action == Action.UPLOAD:
            return self._upload(identity, spec, product)
        return self._simple(identity, action, spec, product)

    def may_read_every(self, identity: Identity, names: list[str]) -> bool:
        """Whether ``identity`` may read every one of these archived files, whole.

        What a derived result (a run's outputs, a search's list) may be shown by: what it
        was made from. A name the catalog no longer holds says nothing, so it refuses.
        """
        from sqlalchemy import select

        from socstack.catalog.models import File

        if not names:
            return False
        with self.catalog.session() as session:
            rows = list(session.scalars(select(File).where(File.name.in_(names))))
        if len(rows) != len(set(names)):
            return False
        return all(
            self.authorize(
                identity,
                Action.READ,
                mission=f.mission,
                product=f.product,
                start=f.start,
                stop=f.stop,
                whole=True,
            ).allowed
            for f in rows
        )

    def _read(
        self,
        identity: Identity,
        spec: Mission | None,
        product: str | None,
        start: dt.datetime | int | None,
        stop: dt.datetime | int | None,
        *,
        whole: bool,
    ) -> Decision:
        if spec is None or product is None or product not in spec.products:
            return Decision(False, "no such product", identity)
        seen = self.visible(identity, spec.name, product)
        ok = bool(seen)
        if start is not None and stop is not None:
            lo = ns(start) if isinstance(start, dt.datetime) else start
            hi = ns(stop) if isinstance(stop, dt.datetime) else stop
            hi = max(hi, lo + 1)
            ok = contains(seen, lo, hi) if whole else overlaps(seen, lo, hi)
        if not ok:
            return Decision(False, f"{spec.name}/{product} is not public there", identity)
        return Decision(True, "visible", identity, seen)

    def _upload(self, identity: Identity, spec: Mission | None, product: str | None) -> Decision:
        if spec is None or product is None or product not in spec.products:
            return Decision(False, "no such product", identity)
        team = f"{spec.name}:{spec.products[product].instrument}"
        if not identity.can("upload"):
            return Decision(False, "the token may not upload (scope upload)", identity)
        if identity.staff or identity.member(team):
            return Decision(True, "the instrument's team", identity)
        return Decision(False, f"only the {team} team uploads {product} files", identity)

    def _simple(
        self, identity: Identity, action: Action, spec: Mission | None, product: str | None
    ) -> Decision:
        """The actions that depend on the identity's groups and scopes alone."""
        rules = {
            Action.READ_JOBS: (
                identity.can("read") and (identity.staff or self._on_mission(identity, spec)),
                "jobs are for the mission's team and operators",
            ),
            Action.RUN: (
                identity.can("run") and identity.staff,
                "running the pipeline is for operators (scope run)",
            ),
            Action.ANALYSE: (
                identity.can("run") and not identity.anonymous,
                "submitting notebook runs needs a token with scope run",
            ),
            Action.RELEASE: (
                spec is not None
                and product is not None
                and Releases.may_release(identity, spec, product),
                "releases are for the product's team (scope release)",
            ),
            Action.OPERATE: (identity.can("read") and identity.staff, "for operators and admins"),
            Action.ADMIN: (identity.admin, "for admins (scope admin)"),
            # A kernel runs any code as the server's user, next to the archive: as for
            # submitting a notebook run, a signed-in user whose token may run things.
            Action.NOTEBOOK: (
                not identity.anonymous and identity.can("run"),
                "JupyterLab is for signed-in users with a token of scope run"
                " (sign in at /viz/signin)",
            ),
        }
        allowed, refusal = rules[action]
        return Decision(bool(allowed), "allowed" if allowed else refusal, identity)

    @staticmethod
    def _on_mission(identity: Identity, mission: Mission | None) -> bool:
        if mission is None:
            return any(":" not in g and g not in ("admins", "operators") for g in identity.groups)
        return any(g == mission.name or g.startswith(f"{mission.name}:") for g in identity.groups)

    def missions_of(self, identity: Identity) -> list[str]:
        """The missions whose jobs ``identity`` may see."""
        return [
            m.name
            for m in self.missions
            if identity.can("read") and (identity.staff or self._on_mission(identity, m))
        ]
