"""Dependencies shared by the API's routers: the runtime, the ingestor, who is asking.

Every route that serves or changes something takes a :class:`Guard`: the request's
identity (from its ``Authorization`` header or the viz's cookie, through
:func:`socstack.access.http.identity_of`) beside the one authorization function. A route
asks ``guard.require(Action.X, ...)`` before it does anything; a refusal becomes a
problem-details 401 or 403 in :mod:`socstack.api.errors`, which also audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from socstack._exceptions import AuthenticationError
from socstack.access import Access, Action, Decision, Identity
from socstack.access.http import identity_of
from socstack.api.errors import Refused
from socstack.api.vocabulary import Vocabulary
from socstack.ingest.service import Ingestor
from socstack.runtime import Runtime

__all__ = [
    "Guard",
    "GuardDep",
    "IdentityDep",
    "IngestorDep",
    "RuntimeDep",
    "VocabularyDep",
    "get_guard",
    "get_identity",
    "get_ingestor",
    "get_runtime",
    "get_vocabulary",
    "requires",
]

# Only for the OpenAPI document (the docs' "Authorize" button): credentials are read by
# socstack.access, which also takes HTTP Basic (the token as password) and the cookie.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="A socstack token (soc_...); HTTP Basic with the token as password works too.",
)


def get_runtime(request: Request) -> Runtime:
    """The runtime the app was built with."""
    return request.app.state.runtime


def get_ingestor(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Ingestor:
    """The runtime's ingestor."""
    return runtime.ingestor


def get_vocabulary(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Vocabulary:
    """What the filters may name, from the runtime's missions (built per request: cheap)."""
    return Vocabulary.of(runtime.missions)


def get_identity(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
) -> Identity:
    """Who is asking: the identity of the request's credentials, or anonymous.

    A token in the URL (``?token=``) is refused rather than ignored: URLs end up in
    access logs, proxies and browser histories, and a client that sends one should learn
    why it is not signed in. The identity is kept on ``request.state`` so that a refusal
    raised further in (by the core) is answered 401 for an anonymous request.

    Raises
    ------
    AuthenticationError
        The credentials do not hold (401), or are in the URL.
    TooManyFailures
        The client failed too often in the last minute (429).
    """
    if "token" in request.query_params:
        raise AuthenticationError(
            "a token goes in the Authorization header (Bearer), never in the URL"
        )
    client = request.client.host if request.client else None
    identity = identity_of(runtime.access, request.headers, request.cookies, client)
    request.state.identity = identity
    return identity


@dataclass(frozen=True)
class Guard:
    """One request's identity and the authorization function: what every door asks."""

    access: Access
    identity: Identity

    def decide(self, action: Action, **where: Any) -> Decision:
        """The decision on ``action`` (``mission``, ``product``, ``start``, ``stop``, ``whole``)."""
        return self.access.authorize(self.identity, action, **where)

    def require(self, action: Action, **where: Any) -> Decision:
        """The decision on ``action``, or :class:`~socstack.api.errors.Refused` if it is no."""
        decision = self.decide(action, **where)
        if not decision.allowed:
            raise Refused(decision, action.value)
        return decision


def get_guard(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    identity: Annotated[Identity, Depends(get_identity)],
) -> Guard:
    """The request's :class:`Guard`."""
    return Guard(runtime.access, identity)


def requires(action: Action) -> Any:
    """A route dependency that refuses unless ``action`` is allowed (mission-wide actions)."""

    def check(guard: Annotated[Guard, Depends(get_guard)]) -> Guard:
        guard.require(action)
        return guard

    return Depends(check)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
IngestorDep = Annotated[Ingestor, Depends(get_ingestor)]
VocabularyDep = Annotated[Vocabulary, Depends(get_vocabulary)]
IdentityDep = Annotated[Identity, Depends(get_identity)]
GuardDep = Annotated[Guard, Depends(get_guard)]
