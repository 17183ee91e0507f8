"""What every HTTP door does first: who is asking, and how a refusal is said.

The choice, made once for every door (docs/access.md): a request without credentials
that a token would let through gets **401** with ``WWW-Authenticate: Bearer``;
credentials that do not hold get **401** with ``error="invalid_token"``; a known
identity that may not do it gets **403**; too many failed attempts get **429** with
``Retry-After``. HAPI keeps its own codes where they say more: a dataset someone may not
see is, to them, an unknown dataset (1406, HTTP 404), so its existence is not given away.
"""

from __future__ import annotations

from collections.abc import Mapping

from socstack._exceptions import AccessError, AuthenticationError, TooManyFailures
from socstack.access.credentials import credentials, identify
from socstack.access.identity import Identity
from socstack.access.service import Access, Decision

__all__ = ["REALM", "challenge", "identity_of", "refusal_headers", "status_of"]

REALM = "socstack"


def identity_of(
    access: Access,
    headers: Mapping[str, str],
    cookies: Mapping[str, str] | None,
    client: str | None,
) -> Identity:
    """The identity of a request (headers with lower-case names).

    Raises
    ------
    AuthenticationError
        Credentials were given and do not hold.
    TooManyFailures
        The client failed too often in the last minute.
    """
    return identify(access, credentials(headers, cookies), client or "unknown")


def challenge(error: str | None = None) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750)."""
    value = f'Bearer realm="{REALM}"'
    return f'{value}, error="{error}"' if error else value


def status_of(exc: AccessError) -> int:
    """The HTTP status of an access error."""
    if isinstance(exc, TooManyFailures):
        return 429
    if isinstance(exc, AuthenticationError):
        return 401
    return 403


def refusal_headers(refused: AccessError | Decision) -> dict[str, str]:
    """The headers that go with a refusal: a challenge, or when to try again."""
    if isinstance(refused, TooManyFailures):
        return {"Retry-After": str(refused.retry_after)}
    if isinstance(refused, AuthenticationError):
        return {"WWW-Authenticate": challenge("invalid_token")}
    if isinstance(refused, Decision) and refused.status == 401:
        return {"WWW-Authenticate": challenge()}
    return {}
