"""Identities from an OpenID Connect provider: a JSON Web Token checked against its JWKS.

When ``SOC_OIDC_JWKS`` names the provider's key set (an https URL, or a file), a bearer
credential that is a JWT is checked with joserfc (authlib's JOSE library): signature, issuer
(``SOC_OIDC_ISSUER``), audience (``SOC_OIDC_AUDIENCE``) and expiry. The user is its
``preferred_username`` (else ``sub``); groups come from the ``SOC_OIDC_GROUPS_CLAIM``
claim (those socstack knows); scopes from its ``scope`` claim (``read`` if it has none).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from socstack._exceptions import AuthenticationError, ConfigError
from socstack.access.identity import SCOPES, Identity

__all__ = ["OidcVerifier"]

_KEYS_TTL = 600.0
_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class OidcVerifier:
    """Checks JSON Web Tokens against one provider's key set."""

    def __init__(self, jwks: str, *, issuer: str, audience: str, groups_claim: str):
        try:
            from joserfc import jwt
            from joserfc.jwk import KeySet
            from joserfc.jwt import JWTClaimsRegistry
        except ImportError as exc:  # pragma: no cover - the api extra brings authlib, joserfc
            raise ConfigError(
                "SOC_OIDC_JWKS needs authlib (pip install 'socstack[api]')", source="environment"
            ) from exc
        self._jwt = jwt
        self._key_set = KeySet.import_key_set
        self._claims = JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            leeway=30,
        )
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.groups_claim = groups_claim
        self._keys: Any = None
        self._loaded = 0.0
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._keys is not None and time.monotonic() - self._loaded < _KEYS_TTL:
                return self._keys
            if self.jwks.startswith(("https://", "http://")):
                import httpx

                document = httpx.get(self.jwks, timeout=10).raise_for_status().json()
            else:
                document = json.loads(Path(self.jwks).read_text())
            self._keys = self._key_set(document)
            self._loaded = time.monotonic()
            return self._keys

    def identify(self, token: str, known_groups: list[str]) -> Identity:
        """The identity a JWT stands for.

        Raises
        ------
        AuthenticationError
            A bad signature, another issuer or audience, an expired token.
        """
        try:
            decoded = self._jwt.decode(token, self._load(), algorithms=_ALGORITHMS)
            claims = decoded.claims
            self._claims.validate(claims)
        except Exception as exc:  # joserfc raises its own tree; none of it is ours to show
            raise AuthenticationError(
                f"the identity provider's token does not hold ({type(exc).__name__})"
            ) from None
        name = str(claims.get("preferred_username") or claims.get("sub") or "")
        if not name:
            raise AuthenticationError("the identity provider's token names no user")
        raw = claims.get(self.groups_claim) or []
        groups = frozenset(
            g for g in (raw if isinstance(raw, list) else [raw]) if g in known_groups
        )
        scopes = frozenset(s for s in str(claims.get("scope", "")).split() if s in SCOPES)
        return Identity(f"oidc:{name}"[:64], groups, scopes or frozenset({"read"}), None, "oidc")
