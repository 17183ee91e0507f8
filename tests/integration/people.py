"""People with tokens, for the tests of the API's doors: who asks is what they test."""

from __future__ import annotations

from collections.abc import Iterable

from socstack.runtime import Runtime

#: Every scope a token may carry.
EVERY_SCOPE = ("read", "upload", "run", "release", "admin")


def person(
    runtime: Runtime, name: str, groups: Iterable[str], scopes: Iterable[str] = ("read",)
) -> str:
    """Make a user in ``groups`` and return the text of a new token of theirs."""
    runtime.access.accounts.add_user(name, list(groups), actor="test")
    return runtime.access.accounts.create_token(name, list(scopes), actor="test")[1]


def admin_token(runtime: Runtime) -> str:
    """A token of a new admin (every scope): for tests of what the API does, not of who."""
    return person(runtime, "test-admin", ["admins"], EVERY_SCOPE)


def bearer(token: str | None) -> dict[str, str]:
    """The header that sends ``token`` (none for anonymous)."""
    return {"Authorization": f"Bearer {token}"} if token else {}
