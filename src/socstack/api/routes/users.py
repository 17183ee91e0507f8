"""``/api/users``: users and their groups (admins only: ``Action.ADMIN``)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from socstack._exceptions import NotFoundError
from socstack.access import Action
from socstack.access.accounts import UserInfo
from socstack.api.deps import GuardDep, RuntimeDep, requires
from socstack.api.errors import ApiProblem, translate
from socstack.api.schemas import GroupsIn, UserIn, UserList, UserOut

router = APIRouter(prefix="/users", tags=["access"], dependencies=[requires(Action.ADMIN)])


def user_out(user: UserInfo) -> UserOut:
    """The API view of a user."""
    return UserOut(name=user.name, groups=user.groups, disabled=user.disabled, email=user.email)


@router.get("", response_model=UserList, summary="List users")
def list_users(runtime: RuntimeDep) -> UserList:
    """Every user with their groups."""
    return UserList(users=[user_out(u) for u in runtime.access.accounts.users()])


@router.post(
    "",
    response_model=UserOut,
    status_code=201,
    summary="Add a user",
    responses={409: {"description": "The name is taken"}},
)
def add_user(runtime: RuntimeDep, guard: GuardDep, body: UserIn) -> UserOut | JSONResponse:
    """Make a user in some groups (then make them a token at ``POST /api/tokens``).

    An unknown group is refused (422) with the groups there are.
    """
    accounts = runtime.access.accounts
    try:
        accounts.user(body.name)
    except NotFoundError:
        pass
    else:
        raise ApiProblem(409, "Conflict", f"user {body.name!r} exists already")
    with translate(422, "Invalid request"):
        made = accounts.add_user(
            body.name, body.groups, email=body.email, actor=guard.identity.label
        )
    return user_out(made)


@router.post("/{name}/groups", response_model=UserOut, summary="Change a user's groups")
def set_groups(runtime: RuntimeDep, guard: GuardDep, name: str, body: GroupsIn) -> UserOut:
    """Put a user in groups and take them out of others (in effect within seconds)."""
    with translate(422, "Invalid request"):
        changed = runtime.access.accounts.set_groups(
            name, add=body.add, remove=body.remove, actor=guard.identity.label
        )
    return user_out(changed)
