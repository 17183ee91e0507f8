"""Users, tokens, releases and the audit log from the command line; the first admin."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from socstack.access.tokens import TOKEN_PATTERN, new_token
from socstack.catalog.migrate import upgrade
from socstack.config import get_settings
from socstack.runtime import Runtime
from tests.integration.test_cli import run


@pytest.fixture
def migrated(tmp_path: Path) -> Path:
    data = tmp_path / "soc-data"
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    upgrade(runtime.catalog)
    runtime.close()
    return data


def identify(text: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    try:
        return runtime.access.accounts.identify(text)
    finally:
        runtime.close()


def test_a_team_member_gets_a_token_that_works_and_is_then_revoked(migrated: Path) -> None:
    assert run("users", "add", "ann", "--group", "demo", "--group", "demo:mag").exit_code == 0
    made = run(
        "tokens", "create", "ann", "--scope", "read", "--scope", "upload", "--expires", "30d"
    )
    assert made.exit_code == 0, made.output
    text = made.stdout.strip().splitlines()[0]
    assert TOKEN_PATTERN.fullmatch(text)
    who = identify(text)
    assert (who.name, who.groups, who.scopes) == (
        "ann",
        frozenset({"demo", "demo:mag"}),
        frozenset({"read", "upload"}),
    )
    listing = run("tokens", "list", "ann")
    token_id = text.split("_")[1]
    assert token_id in listing.output and "active" in listing.output
    assert text.split("_", 2)[2] not in listing.output, "a listing never shows the secret"
    assert run("tokens", "revoke", token_id).exit_code == 0
    assert "revoked" in run("tokens", "list", "ann").output
    audit = run("audit").output
    for action in ("user.add", "token.create", "token.revoke"):
        assert action in audit
    assert text not in audit


def test_mistakes_are_one_line_and_a_non_zero_exit(migrated: Path) -> None:
    bad_group = run("users", "add", "bob", "--group", "demo:nope")
    assert bad_group.exit_code == 1 and "unknown group(s) demo:nope" in bad_group.output
    no_user = run("tokens", "create", "nobody")
    assert no_user.exit_code == 1 and "no user 'nobody'" in no_user.output
    bad_scope = run("tokens", "create", "nobody", "--scope", "everything")
    assert bad_scope.exit_code == 2
    bad_expiry = run("tokens", "create", "nobody", "--expires", "soon")
    assert bad_expiry.exit_code == 2 and "90d" in bad_expiry.output


def test_an_early_release_from_the_command_line(migrated: Path, tmp_path: Path) -> None:
    # A policy with a latency makes a release of recent data early.
    import shutil

    from tests.conftest import DEMO_MISSION

    mission = tmp_path / "demo"
    shutil.copytree(DEMO_MISSION, mission)
    text = (mission / "mission.yaml").read_text()
    text = text.replace(
        "- {levels: [l2, l3, ql], public: always}",
        "- {levels: [l2], public: release, latency: P30D}",
    )
    (mission / "mission.yaml").write_text(text)
    env = {"SOC_MISSIONS": str(mission)}
    run("users", "add", "ann", "--group", "demo:mag", env=env)
    run("users", "add", "pi", "--group", "demo:project", env=env)
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    asked = run(
        "release", "request", "--mission", "demo", "--dataset", "demo_mag_l2_1s",
        "--start", str(yesterday), "--stop", str(today),
        "--reason", "a storm worth sharing", "--as", "ann", env=env,
    )  # fmt: skip
    assert asked.exit_code == 0, asked.output
    assert "pending early, waiting for instrument and project" in asked.output
    release_id = asked.output.split()[0]
    denied = run("release", "approve", release_id, "--role", "project", "--as", "ann", env=env)
    assert denied.exit_code == 77 and "may not approve as project" in denied.output
    assert (
        "waiting for project"
        in run(
            "release", "approve", release_id, "--role", "instrument", "--as", "ann", env=env
        ).output
    )
    done = run("release", "approve", release_id, "--role", "project", "--as", "pi", env=env)
    assert done.exit_code == 0 and ": effective early" in done.output
    audit = run("audit", env=env).output
    assert audit.count("release.approve") == 3 and "denied" in audit


def test_db_upgrade_registers_a_deployments_admin_token(tmp_path: Path) -> None:
    _, text = new_token()
    first = run("db", "upgrade", env={"SOC_ADMIN_TOKEN": text})
    assert first.exit_code == 0 and "registered SOC_ADMIN_TOKEN" in first.output
    assert text not in first.output
    again = run("db", "upgrade", env={"SOC_ADMIN_TOKEN": text})
    assert "registered" not in again.output
    assert identify(text).admin
    shown = run("config", env={"SOC_ADMIN_TOKEN": text}).output
    assert text not in shown and "SOC_ADMIN_TOKEN=[set]" in shown
    broken = run("db", "upgrade", env={"SOC_ADMIN_TOKEN": "change-me"})
    assert broken.exit_code == 1 and "socstack tokens generate" in broken.output


def test_up_makes_the_first_admin_token_once_and_keeps_it_private(tmp_path: Path) -> None:
    from socstack.up import _first_admin

    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    upgrade(runtime.catalog)
    said: list[str] = []
    _first_admin(runtime, said.append)
    path = runtime.settings.data_dir / "admin-token"
    text = path.read_text().strip()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(said) == 1 and text in said[0]
    assert runtime.access.accounts.identify(text).admin
    _first_admin(runtime, said.append)
    assert len(said) == 1, "shown once: not again at the next start"
    runtime.close()
