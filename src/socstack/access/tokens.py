"""API tokens: made from the operating system's randomness, kept only as a hash.

A token reads ``soc_<id>_<secret>``: the id (16 hex digits) finds its catalog row, and
only the SHA-256 of the secret (32 random bytes, URL-safe base64) is stored, compared in
constant time. A token is high-entropy, so a plain hash is as strong as a slow one would
be, and checking it costs microseconds. Tokens never reach a log (see
:mod:`socstack.access.redact`).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

__all__ = ["TOKEN_PATTERN", "TokenParts", "digest", "matches", "new_token", "parse_token"]

#: What a token looks like (anywhere in a text: logs are searched for it).
TOKEN_PATTERN = re.compile(r"soc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}")
_WHOLE = re.compile(r"^soc_(?P<id>[0-9a-f]{16})_(?P<secret>[A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class TokenParts:
    """A token split into its public id and its secret."""

    id: str
    secret: str

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"TokenParts(id={self.id!r}, secret=...)"


def new_token() -> tuple[TokenParts, str]:
    """A fresh token: its parts and its text (shown to its owner once, never stored)."""
    parts = TokenParts(secrets.token_hex(8), secrets.token_urlsafe(32))
    return parts, f"soc_{parts.id}_{parts.secret}"


def parse_token(text: str) -> TokenParts | None:
    """The parts of a token's text, or None if it is not one."""
    match = _WHOLE.match(text.strip())
    return TokenParts(match["id"], match["secret"]) if match else None


def digest(secret: str) -> str:
    """What the catalog keeps of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored: str) -> bool:
    """True if ``secret`` is the one ``stored`` was made from (constant time)."""
    return hmac.compare_digest(digest(secret), stored)
