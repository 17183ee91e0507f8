"""``/api/whoami``: who the API takes the asker for (open to all: anonymous is an answer)."""

from __future__ import annotations

from fastapi import APIRouter

from socstack.api.deps import IdentityDep, RuntimeDep
from socstack.api.schemas import WhoAmI

router = APIRouter(tags=["access"])


@router.get("/whoami", response_model=WhoAmI, summary="Who am I")
def whoami(runtime: RuntimeDep, identity: IdentityDep) -> WhoAmI:
    """The identity of the request's credentials: user, groups, scopes, the token's id.

    A client checks its token here before it relies on it: credentials that do not hold
    are 401, none at all is anonymous (what is public).
    """
    return WhoAmI(
        user=identity.name,
        anonymous=identity.anonymous,
        via=identity.via,
        groups=sorted(identity.groups),
        scopes=sorted(identity.scopes),
        token=identity.token_id,
        missions=runtime.access.missions_of(identity),
    )
