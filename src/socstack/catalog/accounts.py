"""The access tables: users, their groups, their API tokens, releases and the audit log.

Tokens are stored as the SHA-256 of their secret part, never as themselves: a stolen
catalog gives no token. Release state is data: a release or an unrelease is a record
with a time range, approvals, and the moment it took effect.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from socstack.catalog.models import Base, BigId, stored_enum, utcnow

__all__ = [
    "Approval",
    "AuditRecord",
    "Membership",
    "Release",
    "ReleaseKind",
    "ReleaseStatus",
    "Token",
    "User",
]

_Json = JSON().with_variant(JSONB(), "postgresql")


class User(Base):
    """Someone (or some service) that holds tokens."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class Membership(Base):
    """A user in a group: ``admins``, ``operators``, ``<mission>``, ``<mission>:<team>``."""

    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    group: Mapped[str] = mapped_column(String(80), primary_key=True)


class Token(Base):
    """An API token: its public id, the hash of its secret, its scopes and its life."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(_Json, default=list)
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]
    last_used_at: Mapped[dt.datetime | None]

    __table_args__ = (Index(None, "user_id"),)


class ReleaseKind(enum.StrEnum):
    """A release opens a time range of a product to the public; an unrelease closes it."""

    RELEASE = "release"
    UNRELEASE = "unrelease"


class ReleaseStatus(enum.StrEnum):
    """Where a release record stands."""

    PENDING = "pending"  # an early release waiting for its approvals
    EFFECTIVE = "effective"
    WITHDRAWN = "withdrawn"  # cancelled before it took effect


class Release(Base):
    """A release (or unrelease) of one product's data from ``start`` to ``stop``."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    mission: Mapped[str] = mapped_column(String(32))
    product: Mapped[str] = mapped_column(String(64))
    dataset: Mapped[str | None] = mapped_column(String(64))
    start: Mapped[dt.datetime]
    stop: Mapped[dt.datetime]
    kind: Mapped[ReleaseKind] = mapped_column(stored_enum(ReleaseKind))
    early: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[ReleaseStatus] = mapped_column(stored_enum(ReleaseStatus))
    reason: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    effective_at: Mapped[dt.datetime | None]

    __table_args__ = (Index(None, "mission", "product", "status"),)


class Approval(Base):
    """One approval of an early release, in one role (``instrument`` or ``project``)."""

    __tablename__ = "release_approvals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    role: Mapped[str] = mapped_column(String(16))
    approved_by: Mapped[str] = mapped_column(String(64))
    approved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("release_id", "role"),)


class AuditRecord(Base):
    """Who did (or was refused) what: releases, approvals, token changes, denials."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(255), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(_Json, default=dict)

    __table_args__ = (Index(None, "at"), Index(None, "actor"))
