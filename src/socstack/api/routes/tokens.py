"""``/api/tokens``: API tokens, made, listed and revoked.

Admins manage anyone's tokens (``Action.ADMIN``). Anyone signed in with a socstack token
manages their own: lists them, revokes them, and makes new ones with no more scopes than
the token they use (a read-only token for a notebook from an upload token, never the
other way round). A new token's text is in the answer that makes it, and nowhere else:
the catalog keeps only a hash of it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from socstack.access import Action, Decision
from socstack.access.accounts import TokenInfo
from socstack.api.deps import Guard, GuardDep, RuntimeDep
from socstack.api.errors import Refused, translate
from socstack.api.schemas import Name, TokenCreated, TokenIn, TokenList, TokenOut

router = APIRouter(prefix="/tokens", tags=["access"])

_SIGN_IN = "sign in: tokens are made and revoked by their users and by admins"
_OWN = "your own tokens are for socstack users signed in with a socstack token"


def token_out(info: TokenInfo) -> TokenOut:
    """The API view of a token (never its text)."""
    return TokenOut(
        id=info.id,
        user=info.user,
        scopes=info.scopes,
        label=info.label,
        state=info.state,
        created_at=info.created_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
        last_used_at=info.last_used_at,
    )


def _signed_in(guard: Guard, what: str) -> None:
    """Refuse an anonymous request (401: a token would help)."""
    if guard.identity.anonymous:
        raise Refused(Decision(False, _SIGN_IN, guard.identity), what)


def _whose(guard: Guard, user: str | None, *, what: str) -> str:
    """Whose tokens a request is about: the asker's own, or (admins only) anyone's."""
    identity = guard.identity
    if user is not None and user != identity.name:
        guard.require(Action.ADMIN)
        return user
    if identity.via != "token" or identity.name is None:  # an OIDC identity is no user here
        raise Refused(Decision(False, _OWN, identity), what)
    return identity.name


@router.get("", response_model=TokenList, summary="List tokens")
def list_tokens(
    runtime: RuntimeDep,
    guard: GuardDep,
    user: Annotated[Name | None, Query(description="Whose (admins: anyone's, or all).")] = None,
) -> TokenList:
    """Your tokens, newest first; an admin sees anyone's (all without ``user``)."""
    _signed_in(guard, "tokens.list")
    accounts = runtime.access.accounts
    if user is None and guard.decide(Action.ADMIN).allowed:
        return TokenList(tokens=[token_out(t) for t in accounts.tokens()])
    whose = _whose(guard, user, what="tokens.list")
    return TokenList(tokens=[token_out(t) for t in accounts.tokens(whose)])


@router.post(
    "",
    response_model=TokenCreated,
    status_code=201,
    summary="Make a token",
    responses={201: {"description": "The token, with its text: shown this once"}},
)
def create_token(runtime: RuntimeDep, guard: GuardDep, body: TokenIn) -> JSONResponse:
    """A new token for yourself (or, admins, for anyone), with its text shown this once.

    Your own new token may carry only scopes the token you use has (403 otherwise). The
    answer is never cached (``Cache-Control: no-store``).
    """
    _signed_in(guard, "tokens.create")
    identity = guard.identity
    whose = _whose(guard, body.user, what="tokens.create")
    wider = sorted(set(body.scopes) - identity.scopes)
    if wider and not guard.decide(Action.ADMIN).allowed:
        reason = f"a token may not give scopes the one you use lacks ({', '.join(wider)})"
        raise Refused(Decision(False, reason, identity), "tokens.create")
    with translate(422, "Invalid request"):
        info, text = runtime.access.accounts.create_token(
            whose,
            body.scopes,
            expires_at=body.expires_at,
            label=body.label,
            actor=identity.label,
        )
    made = TokenCreated(token=token_out(info), text=text)
    return JSONResponse(
        made.model_dump(mode="json"), status_code=201, headers={"Cache-Control": "no-store"}
    )


@router.delete("/{token_id}", response_model=TokenOut, summary="Revoke a token")
def revoke_token(runtime: RuntimeDep, guard: GuardDep, token_id: str) -> TokenOut:
    """Revoke one of your tokens (admins: anyone's); it stops working within seconds.

    404 if there is no such token; 403 for someone else's.
    """
    _signed_in(guard, "tokens.revoke")
    accounts = runtime.access.accounts
    info = accounts.token(token_id)
    _whose(guard, info.user, what="tokens.revoke")
    return token_out(accounts.revoke(token_id, actor=guard.identity.label))
