"""Users, their groups and their tokens: made, listed, revoked; a token checked to an identity.

Checking a token costs one catalog read, so a checked token is remembered for a few
seconds (``SOC_TOKEN_CACHE_SECONDS``): a HAPI client's thousand small requests cost one
read, and a revocation holds everywhere within that time.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select

from socstack._exceptions import AuthenticationError, NotFoundError, SocError
from socstack.access.audit import audit
from socstack.access.identity import SCOPES, Identity
from socstack.access.tokens import digest, new_token, parse_token
from socstack.catalog.accounts import Membership, Token, User
from socstack.catalog.db import Catalog
from socstack.catalog.models import utcnow
from socstack.mission.loader import MissionRegistry

__all__ = ["Accounts", "TokenInfo", "UserInfo"]

_CACHE_SIZE = 4096


@dataclass(frozen=True)
class UserInfo:
    """A user as the CLI and the API list it."""

    name: str
    groups: list[str]
    disabled: bool
    email: str | None


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never its secret."""

    id: str
    user: str
    scopes: list[str]
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @property
    def state(self) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


class Accounts:
    """The users, groups and tokens in the catalog."""

    def __init__(self, catalog: Catalog, missions: MissionRegistry, *, cache_seconds: float):
        self.catalog = catalog
        self.missions = missions
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    # -- groups ---------------------------------------------------------------------------
    def known_groups(self) -> list[str]:
        """Every group a user may be put in, from the loaded missions."""
        groups = ["admins", "operators"]
        for mission in self.missions:
            groups += [mission.name, f"{mission.name}:project"]
            groups += [f"{mission.name}:{i}" for i in mission.instruments]
        return groups

    def _check_groups(self, groups: Iterable[str]) -> list[str]:
        known = set(self.known_groups())
        wanted = sorted(set(groups))
        unknown = [g for g in wanted if g not in known]
        if unknown:
            raise SocError(
                f"unknown group(s) {', '.join(unknown)}: groups are admins, operators, a"
                " mission (demo), its project (demo:project) or an instrument's team (demo:mag)"
            )
        return wanted

    # -- users ----------------------------------------------------------------------------
    def add_user(
        self, name: str, groups: Iterable[str] = (), *, email: str | None = None, actor: str
    ) -> UserInfo:
        """Make a user (an error if the name is taken)."""
        if not name or len(name) > 64 or not name.replace("-", "").replace(".", "").isalnum():
            raise SocError(f"user name {name!r}: use letters, digits, '.' and '-' (up to 64)")
        chosen = self._check_groups(groups)
        with self.catalog.transaction() as session:
            if session.scalar(select(User.id).where(User.name == name)) is not None:
                raise SocError(f"user {name!r} exists already")
            user = User(name=name, email=email, created_at=utcnow(), disabled=False)
            session.add(user)
            session.flush()
            session.add_all(Membership(user_id=user.id, group=g) for g in chosen)
        audit(self.catalog, actor, "user.add", name, groups=chosen)
        return self.user(name)

    def set_groups(
        self, name: str, *, add: Iterable[str] = (), remove: Iterable[str] = (), actor: str
    ) -> UserInfo:
        """Put a user in groups and take them out of others."""
        adding, removing = self._check_groups(add), sorted(set(remove))
        with self.catalog.transaction() as session:
            user = self._user_row(session, name)
            have = set(
                session.scalars(select(Membership.group).where(Membership.user_id == user.id))
            )
            session.add_all(Membership(user_id=user.id, group=g) for g in adding if g not in have)
            if removing:
                session.execute(
                    delete(Membership).where(
                        (Membership.user_id == user.id) & (Membership.group.in_(removing))
                    )
                )
        self.forget()
        audit(self.catalog, actor, "user.groups", name, added=adding, removed=removing)
        return self.user(name)

    def disable(self, name: str, *, actor: str) -> UserInfo:
        """A disabled user's tokens stop working."""
        with self.catalog.transaction() as session:
            self._user_row(session, name).disabled = True
        self.forget()
        audit(self.catalog, actor, "user.disable", name)
        return self.user(name)

    @staticmethod
    def _user_row(session, name: str) -> User:  # type: ignore[no-untyped-def]
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            raise NotFoundError(f"no user {name!r}")
        return user

    def user(self, name: str) -> UserInfo:
        """One user."""
        with self.catalog.session() as session:
            user = self._user_row(session, name)
            groups = sorted(
                session.scalars(select(Membership.group).where(Membership.user_id == user.id))
            )
            return UserInfo(user.name, groups, user.disabled, user.email)

    def users(self) -> list[UserInfo]:
        """Every user."""
        with self.catalog.session() as session:
            names = list(session.scalars(select(User.name).order_by(User.name)))
        return [self.user(n) for n in names]

    # -- tokens ---------------------------------------------------------------------------
    def create_token(
        self,
        user: str,
        scopes: Iterable[str],
        *,
        expires_at: dt.datetime | None = None,
        label: str = "",
        actor: str,
        secret: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new token for ``user``: its listing and its text (shown once, never kept).

        ``secret`` is a whole token text to register instead of a new one (the cluster's
        initial admin token, from the deployment's secrets).
        """
        chosen = sorted(set(scopes))
        bad = [s for s in chosen if s not in SCOPES]
        if bad or not chosen:
            raise SocError(f"scopes must be among {', '.join(SCOPES)} (not {', '.join(bad)})")
        if expires_at is not None and expires_at <= utcnow():
            raise SocError("a token's expiry must be in the future")
        if secret is not None:
            parts = parse_token(secret)
            if parts is None:
                raise SocError("not a socstack token (soc_<16 hex>_<43 characters>)")
            text = secret
        else:
            parts, text = new_token()
        with self.catalog.transaction() as session:
            row = self._user_row(session, user)
            session.add(
                Token(
                    id=parts.id,
                    user_id=row.id,
                    secret_sha256=digest(parts.secret),
                    scopes=chosen,
                    label=label[:120],
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )
        audit(self.catalog, actor, "token.create", parts.id, user=user, scopes=chosen, label=label)
        return self.token(parts.id), text

    def revoke(self, token_id: str, *, actor: str) -> TokenInfo:
        """Revoke a token (it stops working everywhere within the cache time)."""
        with self.catalog.transaction() as session:
            row = session.get(Token, token_id)
            if row is None:
                raise NotFoundError(f"no token {token_id!r}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
        self.forget()
        audit(self.catalog, actor, "token.revoke", token_id)
        return self.token(token_id)

    def token(self, token_id: str) -> TokenInfo:
        """One token's listing."""
        found = self.tokens(ids=[token_id])
        if not found:
            raise NotFoundError(f"no token {token_id!r}")
        return found[0]

    def tokens(self, user: str | None = None, *, ids: list[str] | None = None) -> list[TokenInfo]:
        """Tokens (of ``user``), newest first."""
        query = select(Token, User.name).join(User, User.id == Token.user_id)
        if user is not None:
            query = query.where(User.name == user)
        if ids is not None:
            query = query.where(Token.id.in_(ids))
        with self.catalog.session() as session:
            rows = session.execute(query.order_by(Token.created_at.desc())).all()
        return [
            TokenInfo(
                id=t.id,
                user=name,
                scopes=list(t.scopes),
                label=t.label,
                created_at=t.created_at,
                expires_at=t.expires_at,
                revoked_at=t.revoked_at,
                last_used_at=t.last_used_at,
            )
            for t, name in rows
        ]

    def forget(self) -> None:
        """Drop remembered tokens (after a change this process made)."""
        with self._lock:
            self._cache.clear()

    def identify(self, text: str) -> Identity:
        """The identity a token's text stands for.

        Raises
        ------
        AuthenticationError
            The token is malformed, unknown, expired, revoked, or its user disabled (the
            message says which, never the token).
        """
        parts = parse_token(text)
        if parts is None:
            raise AuthenticationError("malformed token")
        key = digest(text)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        identity = self._check(parts.id, parts.secret)
        with self._lock:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            self._cache[key] = (now, identity)
        return identity

    def _check(self, token_id: str, secret: str) -> Identity:
        from socstack.access.tokens import matches

        with self.catalog.transaction() as session:
            row = session.get(Token, token_id)
            # One answer for an unknown id and a wrong secret: nothing to learn from it.
            if row is None or not matches(secret, row.secret_sha256):
                raise AuthenticationError("unknown token")
            if row.revoked_at is not None:
                raise AuthenticationError("revoked token")
            now = utcnow()
            if row.expires_at is not None and row.expires_at <= now:
                raise AuthenticationError("expired token")
            user = session.get(User, row.user_id)
            if user is None or user.disabled:
                raise AuthenticationError("the token's user is disabled")
            groups = frozenset(
                session.scalars(select(Membership.group).where(Membership.user_id == user.id))
            )
            if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
                row.last_used_at = now
            return Identity(user.name, groups, frozenset(row.scopes), row.id, "token")

    def ensure_admin(self, secret: str | None, *, actor: str) -> str | None:
        """The first admin: a user ``admin`` in ``admins`` with an all-scopes token.

        With ``secret`` (a deployment's initial admin token) that token is registered if
        it is not yet; without, a new token is made if no admin exists, and its text
        returned (to be shown once). Returns None when nothing was made.
        """
        with self.catalog.session() as session:
            admins = session.scalar(
                select(Membership.user_id).where(Membership.group == "admins").limit(1)
            )
            exists = session.scalar(select(User.id).where(User.name == "admin")) is not None
        if secret is not None:
            parts = parse_token(secret)
            if parts is None:
                raise SocError(
                    "SOC_ADMIN_TOKEN is not a socstack token (make one: socstack tokens generate)"
                )
            with self.catalog.session() as session:
                if session.get(Token, parts.id) is not None:
                    return None
        elif admins is not None:
            return None
        if not exists:
            self.add_user("admin", ["admins"], actor=actor)
        elif admins is None:
            self.set_groups("admin", add=["admins"], actor=actor)
        _, text = self.create_token(
            "admin", SCOPES, label="initial admin token", actor=actor, secret=secret
        )
        return text
