"""``socstack users``, ``tokens``, ``release`` and ``audit``: who may see and do what.

These commands work on the catalog itself, so whoever can run them runs the data center
already: they act as an admin, recorded in the audit log as ``cli:<login>``, or as the
user ``--as`` names (approving an early release is done as a member of the role's team).
A token's text is printed once, when it is made, and kept nowhere.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import re
from typing import Any

import click

from socstack._exceptions import SocError
from socstack.access.identity import SCOPES, SYSTEM, Identity
from socstack.catalog.accounts import ReleaseKind
from socstack.cli._base import catalog_runtime, main
from socstack.runtime import Runtime

_DURATION = re.compile(r"^(\d+)([dhw])$")


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"[:64]
    except Exception:
        return "cli"


def _cli_identity(runtime: Runtime, as_user: str | None) -> Identity:
    """The admin the command line is, or the user it speaks as."""
    if as_user is None:
        return Identity(_actor(), SYSTEM.groups, SYSTEM.scopes, via="system")
    info = runtime.access.accounts.user(as_user)
    if info.disabled:
        raise SocError(f"user {as_user!r} is disabled")
    return Identity(info.name, frozenset(info.groups), frozenset(SCOPES), via="cli")


def _expiry(text: str | None) -> dt.datetime | None:
    """``90d``, ``12h``, ``4w`` from now, or a date (YYYY-MM-DD, midnight UTC)."""
    if text is None:
        return None
    match = _DURATION.match(text.strip())
    now = dt.datetime.now(dt.UTC)
    if match:
        count, unit = int(match[1]), match[2]
        return now + dt.timedelta(**{{"d": "days", "h": "hours", "w": "weeks"}[unit]: count})
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter("give 90d, 12h, 4w or a date YYYY-MM-DD") from None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _when(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "-"


# -- users ------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """Users and their groups (admins, operators, a mission's team, an instrument's team)."""


@users.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="A group (demo, demo:mag, operators...).")
@click.option("--email", help="Where to reach the user.")
@click.pass_context
def users_add(ctx: click.Context, name: str, groups: tuple[str, ...], email: str | None) -> None:
    """Add a user."""
    runtime = catalog_runtime(ctx)
    info = runtime.access.accounts.add_user(name, groups, email=email, actor=_actor())
    click.echo(f"user {info.name}: {', '.join(info.groups) or 'no groups'}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per user.")
@click.pass_context
def users_list(ctx: click.Context, as_json: bool) -> None:
    """List users and their groups."""
    runtime = catalog_runtime(ctx)
    found = runtime.access.accounts.users()
    for info in found:
        if as_json:
            click.echo(json.dumps(info.__dict__))
        else:
            state = " (disabled)" if info.disabled else ""
            click.echo(f"{info.name:<24} {', '.join(info.groups)}{state}")
    if not found and not as_json:
        click.echo("no users")


@users.command("groups")
@click.argument("name")
@click.option("--add", "add", multiple=True, help="A group to put the user in.")
@click.option("--remove", "remove", multiple=True, help="A group to take the user out of.")
@click.pass_context
def users_groups(
    ctx: click.Context, name: str, add: tuple[str, ...], remove: tuple[str, ...]
) -> None:
    """Change a user's groups."""
    runtime = catalog_runtime(ctx)
    info = runtime.access.accounts.set_groups(name, add=add, remove=remove, actor=_actor())
    click.echo(f"user {info.name}: {', '.join(info.groups) or 'no groups'}")


@users.command("disable")
@click.argument("name")
@click.pass_context
def users_disable(ctx: click.Context, name: str) -> None:
    """Disable a user: every token of theirs stops working."""
    runtime = catalog_runtime(ctx)
    runtime.access.accounts.disable(name, actor=_actor())
    click.echo(f"user {name} disabled")


# -- tokens -----------------------------------------------------------------------------------


@main.group()
def tokens() -> None:
    """API tokens: made (shown once), listed, revoked."""


@tokens.command("create")
@click.argument("user")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    default=("read",),
    show_default=True,
    help="What the token may do (repeat for several).",
)
@click.option("--expires", help="90d, 12h, 4w from now, or a date YYYY-MM-DD [never].")
@click.option("--label", default="", help="What the token is for (shown in listings).")
@click.pass_context
def tokens_create(
    ctx: click.Context, user: str, scopes: tuple[str, ...], expires: str | None, label: str
) -> None:
    """Make a token for USER and print it (once: it is kept only as a hash)."""
    runtime = catalog_runtime(ctx)
    info, text = runtime.access.accounts.create_token(
        user, scopes, expires_at=_expiry(expires), label=label, actor=_actor()
    )
    click.echo(text)
    click.echo(
        f"token {info.id} for {info.user}: {', '.join(info.scopes)}, expires"
        f" {_when(info.expires_at) if info.expires_at else 'never'} (shown once; keep it safe)",
        err=True,
    )


@tokens.command("list")
@click.argument("user", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per token.")
@click.pass_context
def tokens_list(ctx: click.Context, user: str | None, as_json: bool) -> None:
    """List tokens (never their secrets), newest first."""
    runtime = catalog_runtime(ctx)
    found = runtime.access.accounts.tokens(user)
    for info in found:
        if as_json:
            record: dict[str, Any] = {
                "id": info.id,
                "user": info.user,
                "scopes": info.scopes,
                "label": info.label,
                "state": info.state,
                "created_at": _when(info.created_at),
                "expires_at": _when(info.expires_at) if info.expires_at else None,
                "last_used_at": _when(info.last_used_at) if info.last_used_at else None,
            }
            click.echo(json.dumps(record))
        else:
            click.echo(
                f"{info.id}  {info.user:<16} {info.state:<8} {','.join(info.scopes):<28}"
                f" expires {_when(info.expires_at)}  {info.label}"
            )
    if not found and not as_json:
        click.echo("no tokens")


@tokens.command("revoke")
@click.argument("token_id")
@click.pass_context
def tokens_revoke(ctx: click.Context, token_id: str) -> None:
    """Revoke a token by its id (the 16 hex digits after soc_)."""
    runtime = catalog_runtime(ctx)
    runtime.access.accounts.revoke(token_id, actor=_actor())
    click.echo(f"token {token_id} revoked")


@tokens.command("generate")
def tokens_generate() -> None:
    """Print a new token's text without storing it (a deployment's SOC_ADMIN_TOKEN)."""
    from socstack.access.tokens import new_token

    click.echo(new_token()[1])


# -- releases ---------------------------------------------------------------------------------


def _release_line(info: Any) -> str:
    waiting = f", waiting for {' and '.join(info.waiting_for)}" if info.waiting_for else ""
    early = " early" if info.early else ""
    return (
        f"{info.id:>5}  {info.kind:<9} {info.mission}/{info.product}"
        f" {_when(info.start)} to {_when(info.stop)}: {info.status}{early}{waiting}"
        f" (by {info.requested_by}: {info.reason})"
    )


@main.group()
def release() -> None:
    """Releases: open a product's time range to the public, or close it again."""


_TIME = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"])


@release.command("request")
@click.option("--mission", required=True, help="The mission.")
@click.option("--product", help="The product (or --dataset).")
@click.option("--dataset", help="A HAPI dataset: its product is released.")
@click.option("--start", required=True, type=_TIME, help="First time released (UTC).")
@click.option("--stop", required=True, type=_TIME, help="End of the range (UTC, excluded).")
@click.option("--reason", required=True, help="Why: kept with the release.")
@click.option("--unrelease", is_flag=True, help="Close the range instead (withdraw data).")
@click.option("--as", "as_user", help="Act as this user (default: the command line, an admin).")
@click.pass_context
def release_request(
    ctx: click.Context,
    *,
    mission: str,
    product: str | None,
    dataset: str | None,
    start: dt.datetime,
    stop: dt.datetime,
    reason: str,
    unrelease: bool,
    as_user: str | None,
) -> None:
    """Release (or unrelease) a product's data over a time range."""
    if (product is None) == (dataset is None):
        raise click.UsageError("give --product or --dataset")
    runtime = catalog_runtime(ctx)
    info = runtime.access.releases.request(
        _cli_identity(runtime, as_user),
        mission=mission,
        product=product,
        dataset=dataset,
        start=start.replace(tzinfo=dt.UTC),
        stop=stop.replace(tzinfo=dt.UTC),
        reason=reason,
        kind=ReleaseKind.UNRELEASE if unrelease else ReleaseKind.RELEASE,
    )
    click.echo(_release_line(info))


@release.command("approve")
@click.argument("release_id", type=int)
@click.option("--role", required=True, type=click.Choice(["instrument", "project"]))
@click.option("--as", "as_user", required=True, help="The approving user (of the role's team).")
@click.pass_context
def release_approve(ctx: click.Context, release_id: int, role: str, as_user: str) -> None:
    """Approve an early release in a role; the last approval makes it take effect."""
    runtime = catalog_runtime(ctx)
    info = runtime.access.releases.approve(_cli_identity(runtime, as_user), release_id, role)
    click.echo(_release_line(info))


@release.command("withdraw")
@click.argument("release_id", type=int)
@click.option("--as", "as_user", help="Act as this user (default: the command line, an admin).")
@click.pass_context
def release_withdraw(ctx: click.Context, release_id: int, as_user: str | None) -> None:
    """Cancel a pending release."""
    runtime = catalog_runtime(ctx)
    info = runtime.access.releases.withdraw(_cli_identity(runtime, as_user), release_id)
    click.echo(_release_line(info))


@release.command("list")
@click.option("--mission", help="Only this mission's.")
@click.option("--status", type=click.Choice(["pending", "effective", "withdrawn"]))
@click.pass_context
def release_list(ctx: click.Context, mission: str | None, status: str | None) -> None:
    """List releases and unreleases, newest first."""
    runtime = catalog_runtime(ctx)
    found = runtime.access.releases.list(mission=mission, status=status)
    for info in found:
        click.echo(_release_line(info))
    if not found:
        click.echo("no releases")


@main.command("audit")
@click.option("--after", type=int, default=0, show_default=True, help="Entries after this id.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.pass_context
def audit_list(ctx: click.Context, after: int, limit: int) -> None:
    """The audit log: releases, approvals, token changes and refused requests."""
    from socstack.access.audit import audit_entries

    runtime = catalog_runtime(ctx)
    entries = audit_entries(runtime.catalog, after=after, limit=limit)
    for entry in entries:
        detail = json.dumps(entry.detail) if entry.detail else ""
        click.echo(
            f"{entry.id:>7}  {_when(entry.at)}  {entry.actor:<16} {entry.action:<18}"
            f" {entry.outcome:<9} {entry.target} {detail}"
        )
    if not entries:
        click.echo("the audit log is empty")
