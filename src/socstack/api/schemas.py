"""Response bodies of the API (these shape the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field

#: The largest id or offset a request may name (the catalog's 64-bit integers): a larger
#: one is a request's mistake (422), not something to ask the database about.
MAX_ID = 2**63 - 1

#: An id in a path.
PathId = Annotated[int, Path(ge=0, le=MAX_ID)]


class FileOut(BaseModel):
    """A catalogued file."""

    name: str
    mission: str
    product: str
    instrument: str
    level: str
    descriptor: str
    partition: str = Field(
        description="The partition: the day, or a calibration's first valid day."
    )
    start: dt.datetime | None
    stop: dt.datetime | None
    version: str
    format: str
    size: int
    sha256: str
    records: int | None
    status: str
    source: str
    ingested_at: dt.datetime
    released: bool = Field(description="Public under the mission's release policy.")
    url: str = Field(description="Where to download the file.")


class FileList(BaseModel):
    """A page of files."""

    total: int = Field(description="How many files match in all.")
    limit: int
    offset: int
    files: list[FileOut]


class QuarantineOut(BaseModel):
    """A quarantined file and why it was refused."""

    id: int
    name: str
    reason: str
    kind: str
    source: str
    size: int
    sha256: str
    mission: str | None
    product: str | None
    quarantined_at: dt.datetime


class QuarantineList(BaseModel):
    """Quarantined files, newest first."""

    entries: list[QuarantineOut]


class EventOut(BaseModel):
    """An event of the log."""

    id: int
    kind: str
    at: dt.datetime
    subject: str
    payload: dict[str, Any]


class EventList(BaseModel):
    """Events after a given id; ask again with ``after=last_id``."""

    events: list[EventOut]
    last_id: int


class ProvenanceNode(BaseModel):
    """A file in a provenance tree, with the files it was made from."""

    name: str | None = Field(None, description="None when the input is withheld.")
    product: str
    level: str | None = None
    version: str | None = None
    status: str | None = None
    source: str | None = None
    code_version: str | None = None
    job: int | None = None
    withheld: bool = Field(
        False, description="An input the asker may not see: it is there, unnamed."
    )
    inputs: list[ProvenanceNode] = Field(default_factory=list)


# -- access -------------------------------------------------------------------------------------


def _as_utc(value: dt.datetime) -> dt.datetime:
    """Times without a zone are UTC, as everywhere in the API."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


UtcDatetime = Annotated[dt.datetime, AfterValidator(_as_utc)]
Scope = Literal["read", "upload", "run", "release", "admin"]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.-]+$")]
Group = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")]


class WhoAmI(BaseModel):
    """Who the API takes the asker for, and what that lets them do."""

    user: str | None = Field(description="None: anonymous (sees what is public).")
    anonymous: bool
    via: str = Field(description="anonymous, token or oidc.")
    groups: list[str]
    scopes: list[str]
    token: str | None = Field(description="The id of the token used (never its text).")
    missions: list[str] = Field(description="The missions whose jobs the asker may see.")


class UserOut(BaseModel):
    """A user and their groups."""

    name: str
    groups: list[str]
    disabled: bool
    email: str | None


class UserList(BaseModel):
    """Every user."""

    users: list[UserOut]


class UserIn(BaseModel):
    """A new user."""

    name: Name
    groups: list[Group] = Field(
        default_factory=list,
        description="admins, operators, a mission (demo), its project (demo:project) or an"
        " instrument's team (demo:mag).",
    )
    email: str | None = Field(None, max_length=255)


class GroupsIn(BaseModel):
    """Groups to put a user in and to take them out of."""

    add: list[Group] = Field(default_factory=list)
    remove: list[Group] = Field(default_factory=list)


class TokenOut(BaseModel):
    """A token as listed: never its text."""

    id: str
    user: str
    scopes: list[str]
    label: str
    state: str = Field(description="active, expired or revoked.")
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenList(BaseModel):
    """Tokens, newest first."""

    tokens: list[TokenOut]


class TokenIn(BaseModel):
    """A new token: for whom (yourself by default), what it may do, until when."""

    user: Name | None = Field(None, description="Whose token (admins only: someone else's).")
    scopes: list[Scope] = Field(min_length=1)
    label: str = Field("", max_length=120)
    expires_at: UtcDatetime | None = Field(None, description="None: until it is revoked.")


class TokenCreated(BaseModel):
    """A new token and its text: shown in this answer only, never again."""

    token: TokenOut
    text: str = Field(description="The token itself: keep it secret, it is not kept here.")


class ReleaseIn(BaseModel):
    """A release (or an unrelease) of a product's data over a time range."""

    mission: Annotated[str, Field(min_length=1, max_length=32)]
    product: str | None = Field(None, max_length=64)
    dataset: str | None = Field(None, max_length=64, description="Or the HAPI dataset.")
    start: UtcDatetime
    stop: UtcDatetime
    reason: str = Field(min_length=1, max_length=2000)
    kind: Literal["release", "unrelease"] = "release"


class ApprovalIn(BaseModel):
    """An approval of an early release, in one role."""

    role: Literal["instrument", "project"]


class ReleaseOut(BaseModel):
    """A release record."""

    id: int
    mission: str
    product: str
    dataset: str | None
    start: dt.datetime
    stop: dt.datetime
    kind: str
    early: bool = Field(description="Of data younger than the latency: needs approvals.")
    status: str = Field(description="pending, effective or withdrawn.")
    reason: str
    requested_by: str
    requested_at: dt.datetime
    effective_at: dt.datetime | None
    approvals: dict[str, str] = Field(description="Role to who approved.")
    waiting_for: list[str] = Field(description="Roles still to approve.")


class ReleaseList(BaseModel):
    """Release records, newest first."""

    releases: list[ReleaseOut]


class AuditOut(BaseModel):
    """One entry of the audit log."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str
    outcome: str
    detail: dict[str, Any]


class AuditList(BaseModel):
    """Audit entries after an id, oldest first; ask again with ``after=last_id``."""

    entries: list[AuditOut]
    last_id: int
