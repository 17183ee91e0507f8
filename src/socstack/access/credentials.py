"""From a request's headers to an identity: tokens, JSON Web Tokens, or nobody.

Credentials come as ``Authorization: Bearer <token>``; for clients that can only be
given a URL or a user and a password (HAPI clients, Autoplot, curl's ``-u``, a
``~/.netrc``), as HTTP Basic with any user name and the token as the password; from a
browser, as the ``socstack_token`` cookie the viz's sign-in sets (HttpOnly, SameSite).
None of these put the token in a URL, so it stays out of access logs and browser
history; a ``?token=`` query parameter is refused on purpose.

Failed attempts are counted per client (:mod:`socstack.access.limits`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from socstack._exceptions import AuthenticationError
from socstack.access.identity import ANONYMOUS, Identity
from socstack.access.service import Access

__all__ = ["COOKIE", "credentials", "identify"]

#: The cookie the viz's sign-in sets.
COOKIE = "socstack_token"


def credentials(headers: Mapping[str, str], cookies: Mapping[str, str] | None = None) -> str | None:
    """The credential a request carries, or None.

    Raises
    ------
    AuthenticationError
        An ``Authorization`` header of a scheme socstack does not take, or a broken one.
    """
    value = headers.get("authorization")
    if value:
        scheme, _, rest = value.strip().partition(" ")
        rest = rest.strip()
        if scheme.lower() == "bearer" and rest:
            return rest
        if scheme.lower() == "basic" and rest:
            try:
                decoded = base64.b64decode(rest, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise AuthenticationError("malformed Basic credentials") from None
            _, _, password = decoded.partition(":")
            if password:
                return password
        raise AuthenticationError(
            "use 'Authorization: Bearer <token>' (or Basic, the token as password)"
        )
    if cookies:
        cookie = cookies.get(COOKIE)
        if cookie:
            return cookie
    return None


def identify(access: Access, credential: str | None, client: str) -> Identity:
    """The identity a request's credential stands for (anonymous without one).

    Raises
    ------
    AuthenticationError
        The credential does not hold (the message says why, never the credential).
    TooManyFailures
        ``client`` failed too often in the last minute.
    """
    if credential is None:
        return ANONYMOUS
    limiter = access.failures
    limiter.check(client)
    try:
        if credential.count(".") == 2 and access.oidc is not None:
            return access.oidc.identify(credential, access.accounts.known_groups())
        return access.accounts.identify(credential)
    except AuthenticationError:
        limiter.failed(client)
        raise
