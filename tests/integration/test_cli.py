"""The socstack command: help everywhere, one clear line on errors, exit codes that mean something."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from socstack.cli import EXIT_QUARANTINED, main
from socstack.config import get_settings
from tests.conftest import DEMO_MISSION

MAG1 = "demo_mag_l0_raw_20250101_v1.0.0.pkts"


def run(*args: str, env: dict[str, str] | None = None):
    get_settings.cache_clear()  # each invocation is a new process in real life
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(main), ids=lambda c: " ".join(c) or "socstack")
def test_every_command_has_help(command: tuple[str, ...]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ingest_reports_and_exits_by_outcome(settings, demo_copy: Path, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    first = run("ingest", str(demo_copy))
    assert first.exit_code == 0, first.output
    assert "summary: 6 archived, 0 unchanged, 0 quarantined" in first.output
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MAG1).write_bytes((demo_copy / MAG1).read_bytes()[:-1])
    (bad / "demo_mag_l0_raw_20250103_v1.0.0.pkts").write_bytes(b"")
    second = run("ingest", str(demo_copy / MAG1), str(bad))
    assert second.exit_code == EXIT_QUARANTINED
    assert "summary: 0 archived, 1 unchanged, 2 quarantined" in second.output
    assert "empty file" in second.output and "archived already with other content" in second.output
    listing = run("quarantine", "list", "--json")
    entries = [json.loads(line) for line in listing.output.splitlines()]
    assert {e["kind"] for e in entries} == {"conflict", "format"}
    as_json = run("ingest", "--json", str(demo_copy / MAG1))
    assert json.loads(as_json.output)["outcome"] == "unchanged"


def test_errors_are_one_line_with_a_meaningful_exit_code(tmp_path: Path) -> None:
    missing = run("ingest", str(tmp_path / "nothing"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    bad_setting = run("config", env={"SOC_PORT": "99999"})
    assert bad_setting.exit_code == 78
    assert bad_setting.output.strip().count("\n") == 0
    assert "SOC_PORT" in bad_setting.output
    unmigrated = run("ingest", str(tmp_path))
    assert unmigrated.exit_code == 1
    assert "run `socstack db upgrade`" in unmigrated.output
    assert "Traceback" not in unmigrated.output


def test_mission_check(tmp_path: Path) -> None:
    good = run("mission", "check")
    assert good.exit_code == 0
    assert "demo: 14 products, 8 datasets, 10 rules: ok" in good.output
    broken = tmp_path / "broken"
    shutil.copytree(DEMO_MISSION, broken)
    config = yaml.safe_load((broken / "mission.yaml").read_text())
    config["products"]["mag_l0"]["partition"] = "weekly"
    (broken / "mission.yaml").write_text(yaml.safe_dump(config))
    result = run("mission", "check", str(broken))
    assert result.exit_code == 78
    lines = (broken / "mission.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, start=1) if "partition: weekly" in text)
    assert f"{broken / 'mission.yaml'}:{line}: products.mag_l0.partition:" in result.output


def test_demo_generate(tmp_path: Path) -> None:
    result = run(
        "demo", "generate", "--start", "2025-03-01", "--days", "2", "--out", str(tmp_path / "out")
    )
    assert result.exit_code == 0, result.output
    assert "wrote 6 files" in result.output
    assert len(list((tmp_path / "out").glob("*_l0_raw_*.pkts"))) == 4
    bad_date = run("demo", "generate", "--start", "March", "--days", "1", "--out", str(tmp_path))
    assert bad_date.exit_code == 2
    unknown = run(
        "demo",
        "generate",
        "--start",
        "2025-03-01",
        "--days",
        "1",
        "--out",
        str(tmp_path),
        "--mission",
        "mms",
    )
    assert unknown.exit_code == 1 and "no mission 'mms'" in unknown.output
