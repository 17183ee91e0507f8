"""The socstack command: help everywhere, one clear line on errors, exit codes that mean something."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect

from socstack.catalog.migrate import head_revision
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


def test_mission_check(tmp_path: Path) -> None:
    good = run("mission", "check")
    assert good.exit_code == 0
    assert "demo: 18 products, 15 datasets, 13 rules: ok" in good.output
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


# -- the catalog on first use -----------------------------------------------------------------

#: One-shot commands that read or write the catalog, with the exit code each gives on an
#: empty catalog and a piece of what it prints.
CATALOG_COMMANDS = [
    (("quarantine", "list"), 0, "quarantine is empty"),
    (("jobs", "list"), 0, "no jobs"),
    (("jobs", "retry", "1"), 1, "no job 1"),
    (("runs", "list"), 0, "no runs"),
    (("runs", "show", "1"), 1, "no run 1"),
    (
        ("reprocess", "--mission", "demo", "--start", "2025-01-01", "--stop", "2025-01-01"),
        0,
        "jobs planned",
    ),
]


@pytest.mark.parametrize(
    ("command", "code", "says"),
    CATALOG_COMMANDS,
    ids=[" ".join(c[:2]) for c, _, _ in CATALOG_COMMANDS],
)
def test_a_fresh_embedded_data_folder_is_migrated_on_first_use(
    tmp_path: Path, command: tuple[str, ...], code: int, says: str
) -> None:
    data = tmp_path / "fresh"
    assert not data.exists()
    result = run(*command, env={"SOC_DATA_DIR": str(data)})
    assert (result.exit_code, "no such table" in result.output) == (code, False), result.output
    assert says in result.output
    assert "Traceback" not in result.output
    current = run("db", "current", env={"SOC_DATA_DIR": str(data)})
    assert f"database: {head_revision()}" in current.output


def test_ingest_into_a_fresh_embedded_data_folder(tmp_path: Path, demo_copy: Path) -> None:
    env = {"SOC_DATA_DIR": str(tmp_path / "fresh")}
    first = run("ingest", str(demo_copy), env=env)
    assert first.exit_code == 0, first.output
    assert "summary: 6 archived, 0 unchanged, 0 quarantined" in first.output
    listed = run("quarantine", "list", env=env)
    assert (listed.exit_code, listed.output.strip()) == (0, "quarantine is empty")


@pytest.mark.integration
def test_a_postgresql_catalog_is_migrated_only_on_purpose(
    empty_postgres_database: str, demo_copy: Path
) -> None:
    env = {"SOC_DATABASE_URL": empty_postgres_database}
    commands = [c for c, _, _ in CATALOG_COMMANDS] + [("ingest", str(demo_copy / MAG1))]
    for command in commands:
        result = run(*command, env=env)
        assert result.exit_code == 1, (command, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, (command, result.output)
        assert "is not migrated" in lines[0] and "run `socstack db upgrade`" in lines[0]
        assert "no such table" not in lines[0] and "Traceback" not in result.output
    engine = create_engine(empty_postgres_database)
    try:
        assert inspect(engine).get_table_names() == [], "nothing migrated it behind our back"
    finally:
        engine.dispose()
    assert run("db", "upgrade", env=env).exit_code == 0
    for command in commands:
        result = run(*command, env=env)
        assert "socstack db upgrade" not in result.output, (command, result.output)
    assert "summary: 1 archived" in result.output, "the last command, the ingest, now works"


# -- demo generate and a simulator's own seed --------------------------------------------------

SEEDED_MISSION = """\
name: seedtest
title: A mission whose simulator has a default seed of its own
code: .
simulator: seedtest_simulator:generate
instruments:
  a: {title: Instrument A}
products:
  raw:
    instrument: a
    level: l0
    descriptor: raw
    pattern: "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.csv"
    format: csv
    options: {columns: [seed], numeric: [seed]}
"""

SEEDED_SIMULATOR = '''\
"""Writes the seed it ran with, one file a day."""

OWN_SEED = 31337


def generate(start, days, out, *, mission, seed=OWN_SEED, progress=None):
    import datetime as dt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for k in range(days):
        day = start + dt.timedelta(days=k)
        path = out / f"seedtest_a_l0_raw_{day:%Y%m%d}_v1.0.0.csv"
        path.write_text(f"seed\\n{seed}\\n")
        written.append(path)
        if progress:
            progress(path)
    return written
'''


def test_demo_generate_leaves_the_simulators_own_seed_alone(tmp_path: Path) -> None:
    mission = tmp_path / "seedtest"
    mission.mkdir()
    (mission / "mission.yaml").write_text(SEEDED_MISSION)
    (mission / "seedtest_simulator.py").write_text(SEEDED_SIMULATOR)
    env = {"SOC_MISSIONS": str(mission)}
    name = "seedtest_a_l0_raw_20250301_v1.0.0.csv"
    for seed, expected in ((None, 31337), ("5", 5), ("2025", 2025)):
        out = tmp_path / f"out-{seed}"
        options = ("--seed", seed) if seed else ()
        result = run(
            "demo",
            "generate",
            "--mission",
            "seedtest",
            "--start",
            "2025-03-01",
            "--days",
            "1",
            "--out",
            str(out),
            *options,
            env=env,
        )
        assert result.exit_code == 0, result.output
        assert (out / name).read_text() == f"seed\n{expected}\n", f"--seed {seed}"
