"""Who is asking: a user with groups and a token's scopes, or nobody (anonymous).

Groups are plain names: ``admins`` and ``operators``, a mission's team (``demo``), an
instrument's team (``demo:mag``) and a mission's project (``demo:project``, who
approve early releases with the instrument's team). A token's scopes limit what its
user's groups allow: a read-only token of an admin reads, and does nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ANONYMOUS", "SCOPES", "SYSTEM", "Identity"]

#: What a token may be used for.
SCOPES = ("read", "upload", "run", "release", "admin")


@dataclass(frozen=True)
class Identity:
    """The asker of one request."""

    name: str | None
    groups: frozenset[str] = field(default_factory=frozenset)
    scopes: frozenset[str] = field(default_factory=frozenset)
    token_id: str | None = None
    via: str = "anonymous"  # anonymous, token, oidc, system

    @property
    def anonymous(self) -> bool:
        """True for a request without credentials."""
        return self.name is None

    @property
    def label(self) -> str:
        """How the audit log names the asker."""
        return self.name or "anonymous"

    def can(self, scope: str) -> bool:
        """True if the credentials carry ``scope``."""
        return scope in self.scopes

    def member(self, group: str) -> bool:
        """True if the user is in ``group``."""
        return group in self.groups

    @property
    def admin(self) -> bool:
        """An admin (and a token that may act as one)."""
        return self.member("admins") and self.can("admin")

    @property
    def staff(self) -> bool:
        """An operator or an admin: someone who runs the data center and sees all of it."""
        return self.member("admins") or self.member("operators")


#: A request with no credentials at all: it sees what is public, and does nothing.
ANONYMOUS = Identity(None, scopes=frozenset({"read"}))

#: The command line on the catalog itself: whoever holds the catalog's credentials runs
#: the data center already, so local commands act as an admin (and say who in the audit).
SYSTEM = Identity("system", frozenset({"admins"}), frozenset(SCOPES), via="system")
