"""What a rule is given and when it runs: named inputs, required windows, spans, expiring
calibrations, versionless deliveries and rules with nothing to make.

The windtest mission's rules write down the files they got. Jobs run through the same
planner and ``execute_job`` the workers use, in this process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from socstack.catalog.models import Event, File, FileSource, FileStatus, Job, JobStatus
from socstack.config import Settings, get_settings
from socstack.runtime import Runtime
from tests.conftest import drain

WINDTEST = Path(__file__).resolve().parent.parent / "data" / "missions" / "windtest"
D = {n: dt.date(2025, 6, n) for n in range(1, 31)}


@pytest.fixture
def windtest(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv("SOC_MISSIONS", str(WINDTEST))
    get_settings.cache_clear()
    runtime = Runtime(get_settings())
    yield runtime
    runtime.close()


def deliver(runtime: Runtime, name: str, content: str = "value\n1.0\n") -> str:
    folder = runtime.settings.data_dir / "deliveries"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(content)
    result = runtime.ingestor.ingest(path, source=FileSource.CLI)
    assert result.outcome.value in ("archived", "unchanged"), result
    return result.name


def raw(runtime: Runtime, *days: int) -> None:
    for n in days:
        deliver(runtime, f"windtest_a_l0_raw_{D[n]:%Y%m%d}_v1.0.0.csv")


def job(runtime: Runtime, rule: str, day: dt.date) -> Job | None:
    """The newest job of ``rule`` for ``day``."""
    with runtime.catalog.session() as session:
        return session.scalars(
            select(Job)
            .where((Job.rule == rule) & (Job.partition == day.isoformat()))
            .order_by(Job.id.desc())
        ).first()


def seen(runtime: Runtime, rule: str, day: dt.date) -> dict[str, list[str]]:
    """Input name -> the files the rule was given, from its archived output."""
    with runtime.catalog.session() as session:
        row = session.scalars(
            select(File).where(
                (File.product == f"seen_{rule}")
                & (File.partition == day.isoformat())
                & (File.status == FileStatus.ARCHIVED)
            )
        ).one()
    with runtime.archive.open(row.uri) as handle:
        lines = handle.read().decode().splitlines()[1:]
    out: dict[str, list[str]] = {}
    for line in lines:
        name, file = line.split(",")
        out.setdefault(name, []).append(file)
    return out


def name(day: int) -> str:
    return f"windtest_a_l0_raw_{D[day]:%Y%m%d}_v1.0.0.csv"


def test_each_input_is_given_its_own_days_files(windtest: Runtime) -> None:
    raw(windtest, 1, 2, 3)
    drain(windtest)
    assert seen(windtest, "neighbours", D[2]) == {
        "previous": [name(1)],
        "today": [name(2)],
        "next": [name(3)],
    }
    # The mission starts on the 1st: nothing waits for the day before it.
    assert seen(windtest, "neighbours", D[1]) == {"today": [name(1)], "next": [name(2)]}
    last = job(windtest, "neighbours", D[3])
    assert last is not None and last.status == JobStatus.BLOCKED
    assert last.missing == ["raw for 2025-06-04"]


def test_required_all_any_or_same_day(windtest: Runtime) -> None:
    raw(windtest, 2, 4)
    drain(windtest)
    every = job(windtest, "all_days", D[2])
    assert every is not None and every.status == JobStatus.BLOCKED
    assert every.missing == ["raw for 2025-06-01", "raw for 2025-06-03"], "each day named"
    assert seen(windtest, "any_day", D[3]) == {"raw": [name(2), name(4)]}
    own = job(windtest, "own_day", D[3])
    assert own is not None and own.status == JobStatus.BLOCKED
    assert own.missing == ["raw for 2025-06-03"]
    assert seen(windtest, "own_day", D[2]) == {"raw": [name(2)]}
    raw(windtest, 3)
    drain(windtest)
    assert seen(windtest, "all_days", D[3]) == {"raw": [name(2), name(3), name(4)]}
    any_again = job(windtest, "any_day", D[3])
    assert any_again is not None and any_again.status == JobStatus.SUCCEEDED
    assert seen(windtest, "any_day", D[3]) == {"raw": [name(2), name(3), name(4)]}


def test_nothing_waits_for_days_outside_the_span(windtest: Runtime) -> None:
    raw(windtest, 1)
    deliver(windtest, "st20250601.csv")  # the station's span starts on the 2nd
    drain(windtest)
    with windtest.catalog.session() as session:
        days = set(session.scalars(select(Job.partition).distinct()))
        quiet = list(session.scalars(select(Job).where(Job.rule == "quiet")))
    assert "2025-05-31" not in days, "no job for a day before the mission's start"
    assert quiet == [], "no job for a day before the station's start"
    first = job(windtest, "all_days", D[1])
    assert first is not None and first.missing == ["raw for 2025-06-02"]


def test_an_expired_calibration_is_never_chosen(windtest: Runtime) -> None:
    deliver(windtest, "windtest_a_anc_cal_20250601_20250602_v1.0.0.csv", "gain\n2\n")
    deliver(windtest, "windtest_a_anc_gain_20250601_v1.0.0.csv", "gain\n2\n")
    deliver(
        windtest,
        "windtest_a_anc_note_20250601_v1.0.0.csv",
        "# valid_until: 2025-06-01\ngain\n2\n",
    )
    raw(windtest, 1, 2, 3, 4)
    drain(windtest)
    cal = "windtest_a_anc_cal_20250601_20250602_v1.0.0.csv"
    assert seen(windtest, "by_name", D[2])["cal"] == [cal]
    expired = job(windtest, "by_name", D[3])
    assert expired is not None and expired.status == JobStatus.BLOCKED
    assert expired.missing == ["an a calibration (cal) valid on 2025-06-03"]
    by_yaml = job(windtest, "by_yaml", D[4])
    assert by_yaml is not None and by_yaml.status == JobStatus.BLOCKED, "P3D: 1st to 3rd"
    assert seen(windtest, "by_yaml", D[3])["gain"] == ["windtest_a_anc_gain_20250601_v1.0.0.csv"]
    by_content = job(windtest, "by_content", D[2])
    assert by_content is not None and by_content.status == JobStatus.BLOCKED, "the 1st only"
    with windtest.catalog.session() as session:
        stop = session.scalar(select(File.stop).where(File.name == cal))
    assert stop == dt.datetime(2025, 6, 3, tzinfo=dt.UTC), "valid through the 2nd"

    later = "windtest_a_anc_cal_20250603_20250630_v1.0.0.csv"
    deliver(windtest, later, "gain\n3\n")
    drain(windtest)
    assert seen(windtest, "by_name", D[3])["cal"] == [later]
    assert seen(windtest, "by_name", D[2])["cal"] == [cal], "days it does not hold keep theirs"


def test_a_calibration_that_ends_before_it_starts_is_quarantined(windtest: Runtime) -> None:
    path = windtest.settings.data_dir / "windtest_a_anc_note_20250605_v1.0.0.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# valid_until: 2025-06-01\ngain\n2\n")
    result = windtest.ingestor.ingest(path, source=FileSource.CLI)
    assert result.outcome.value == "quarantined"
    assert "valid from 2025-06-05 but only until 2025-06-02" in (result.reason or "")
    missing = windtest.settings.data_dir / "windtest_a_anc_note_20250606_v1.0.0.csv"
    missing.write_text("gain\n2\n")
    result = windtest.ingestor.ingest(missing, source=FileSource.CLI)
    assert result.outcome.value == "quarantined"
    assert "valid_until" in (result.reason or "")


def test_a_redelivered_versionless_file_is_the_next_revision(windtest: Runtime) -> None:
    first = deliver(windtest, "st20250602.csv", "value\n1.0\n")
    assert first == "st20250602_v1.0.0.csv"
    again = windtest.ingestor.ingest(
        windtest.settings.data_dir / "deliveries" / "st20250602.csv", source=FileSource.DROPBOX
    )
    assert (again.outcome.value, again.name) == ("unchanged", "st20250602_v1.0.0.csv")
    second = deliver(windtest, "st20250602.csv", "value\n2.0\n")
    assert second == "st20250602_v1.0.1.csv"
    with windtest.catalog.session() as session:
        rows = session.execute(
            select(File.name, File.status).where(File.product == "station").order_by(File.id)
        ).all()
    assert [(n, s.value) for n, s in rows] == [
        ("st20250602_v1.0.0.csv", "superseded"),
        ("st20250602_v1.0.1.csv", "archived"),
    ]
    drain(windtest)
    assert seen(windtest, "quiet", D[2]) == {"station": ["st20250602_v1.0.1.csv"]}


def test_a_rule_with_nothing_to_make_ends_skipped(windtest: Runtime) -> None:
    deliver(windtest, "st20250603.csv", "value\n0\n0\n")
    drain(windtest)
    quiet = job(windtest, "quiet", D[3])
    assert quiet is not None and quiet.status == JobStatus.SKIPPED
    assert quiet.reason == "the station recorded nothing but zeros"
    with windtest.catalog.session() as session:
        made = session.scalar(select(File.id).where(File.product == "seen_quiet"))
        kinds = list(session.scalars(select(Event.kind)))
    assert made is None
    assert "job.skipped" in kinds and "job.failed" not in kinds
