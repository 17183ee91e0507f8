"""``socstack export deliver``: the released CDFs, checked, described and listed, delivered
incrementally to a folder or a bucket, and recorded in the catalog."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from s3fs import S3FileSystem
from sqlalchemy import inspect, select

from socstack._exceptions import StorageError
from socstack.catalog.db import Catalog
from socstack.catalog.deliveries import Delivery, DeliveryStatus
from socstack.catalog.migrate import upgrade
from socstack.catalog.models import FileSource
from socstack.cli import main
from socstack.config import get_settings
from socstack.export.cloudcatalog import released_files
from socstack.export.deliver import MANIFEST, DeliveryResult, deliver, destination_url
from socstack.export.spase import SPASE_NAMESPACE
from socstack.ingest.results import Outcome
from socstack.runtime import Runtime
from tests.conftest import explicit_settings
from tests.integration.test_s3 import bucket, s3, s3_endpoint  # noqa: F401 - fixtures
from tests.unit.test_istp import rewrite

MAG = "demo_mag_l2_1s"
NS = f"{{{SPASE_NAMESPACE}}}"
DAY2 = "demo_mag_l2_1s-gse_20250102_v1.0.0.cdf"


@pytest.fixture
def runtime(processed_copy: Path) -> Iterator[Runtime]:
    rt = Runtime(explicit_settings(processed_copy))
    yield rt
    rt.close()


def _released(runtime: Runtime) -> dict[str, list[str]]:
    """Dataset id -> the names of its released files, for the data datasets."""
    found = {}
    for mission, dataset in runtime.missions.datasets():
        if not dataset.files:
            names = [f.name for f in released_files(runtime, mission, dataset)]
            if names:
                found[dataset.id] = names
    return found


def _by_dataset(result: DeliveryResult) -> dict[str, object]:
    return {d.dataset: d for d in result.datasets}


def _parse(path: Path) -> ET.Element:
    """A document this test's delivery wrote (not untrusted input)."""
    return ET.parse(path).getroot()  # noqa: S314


def _stamps(folder: Path) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


def _sha256sum(folder: Path) -> str:
    done = subprocess.run(
        ["sha256sum", "-c", MANIFEST], cwd=folder, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _rows(runtime: Runtime, **where: object) -> list[Delivery]:
    statement = select(Delivery).filter_by(**where).order_by(Delivery.id)
    with runtime.catalog.session() as session:
        return list(session.scalars(statement))


def _archived(runtime: Runtime, name: str) -> Path:
    return next(Path(runtime.archive.root).glob(f"**/{name}"))


def _ingest_version(runtime: Runtime, tmp_path: Path, version: str, **changes: object) -> str:
    """A new version of the 1 s field's second day (its first records), ingested."""
    name = DAY2.replace("_v1.0.0", f"_v{version}")
    path = rewrite(_archived(runtime, DAY2), tmp_path / name, **changes)  # type: ignore[arg-type]
    assert runtime.ingestor.ingest(path, source=FileSource.CLI).outcome == Outcome.ARCHIVED
    return name


def test_the_first_delivery_copies_every_released_cdf_with_spase_and_manifest(
    runtime: Runtime, tmp_path: Path
) -> None:
    dest = tmp_path / "spdf"
    result = deliver(runtime, str(dest))
    assert result.ok and result.destination == dest.resolve().as_uri()
    expected = _released(runtime)
    assert {MAG, "demo_pls_l2", "demo_sw_l2"} <= set(expected)
    datasets = _by_dataset(result)
    assert not {"demo_mag_l2_files", "demo_mag_ql", "demo_pls_ql"} & set(datasets)
    assert datasets["demo_mag_l1a"].skipped == "nothing of it is released"
    archive = Path(runtime.archive.root)
    for ident, names in expected.items():
        done = datasets[ident]
        assert sorted(done.delivered) == sorted(names) and done.held == () == done.unchanged
        assert set(done.written) == {f"{ident}/{ident}.xml", f"{ident}/{MANIFEST}"}
        folder = dest / ident
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [*names, f"{ident}.xml", MANIFEST]
        )
        for name in names:
            assert (folder / name).read_bytes() == next(archive.glob(f"**/{name}")).read_bytes()
        assert _sha256sum(folder).count(": OK") == len(names)
        span = _parse(folder / f"{ident}.xml").find(f"{NS}NumericalData/{NS}TemporalDescription")
        assert span is not None
        assert span.findtext(f"{NS}TimeSpan/{NS}StartDate") == "2025-01-01T00:00:00Z"
        assert span.findtext(f"{NS}TimeSpan/{NS}StopDate") == "2025-01-03T00:00:00Z"
        rows = _rows(runtime, destination=result.destination, dataset=ident)
        assert sorted(r.name for r in rows) == sorted(names)
        assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}
        for row in rows:
            data = (folder / row.name).read_bytes()
            assert (row.sha256, row.size) == (hashlib.sha256(data).hexdigest(), len(data))
            assert row.version == "1.0.0" and row.delivered_at is not None
            assert row.mission == "demo" and row.name.count(row.partition.replace("-", ""))


def test_a_second_delivery_copies_and_rewrites_nothing(runtime: Runtime, tmp_path: Path) -> None:
    dest = tmp_path / "spdf"
    deliver(runtime, str(dest))
    stamps = _stamps(dest)
    # The same folder named another way is the same destination.
    again = deliver(runtime, f"{dest}/../spdf/")
    assert again.ok and again.destination == dest.resolve().as_uri()
    for done in again.datasets:
        assert done.delivered == () and done.written == () and done.held == ()
    assert {d.dataset: sorted(d.unchanged) for d in again.datasets if d.unchanged} == {
        k: sorted(v) for k, v in _released(runtime).items()
    }
    assert _stamps(dest) == stamps
    rows = _rows(runtime)
    assert len(rows) == sum(len(v) for v in _released(runtime).values())


def test_a_new_version_of_a_day_is_delivered_alone(runtime: Runtime, tmp_path: Path) -> None:
    dest = tmp_path / "spdf"
    deliver(runtime, str(dest))
    newer = _ingest_version(
        runtime, tmp_path, "1.0.1", change_global=lambda g: g.update(TEXT=["a recalibration"])
    )
    result = deliver(runtime, str(dest))
    datasets = _by_dataset(result)
    assert result.ok
    assert {d.dataset: d.delivered for d in result.datasets if d.delivered} == {MAG: (newer,)}
    # The SPASE's release date is the last delivery's, to the second: rewritten if it moved.
    assert f"{MAG}/{MANIFEST}" in datasets[MAG].written
    assert set(datasets[MAG].written) <= {f"{MAG}/{MANIFEST}", f"{MAG}/{MAG}.xml"}
    assert all(not d.written for d in result.datasets if d.dataset != MAG)
    folder = dest / MAG
    assert (folder / DAY2).is_file(), "the older version stays where it was delivered"
    manifest = (folder / MANIFEST).read_text()
    assert newer in manifest and DAY2 not in manifest  # the newest version of each day
    assert _sha256sum(folder).count(": OK") == 2
    versions = [(r.name, r.version) for r in _rows(runtime, dataset=MAG, partition="2025-01-02")]
    assert versions == [(DAY2, "1.0.0"), (newer, "1.0.1")]


def test_a_file_failing_istp_is_held_with_its_reason_until_a_version_passes(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "spdf"
    deliver(runtime, str(dest))
    before = (dest / MAG / MANIFEST).read_text()
    stamps = _stamps(dest)
    broken = _ingest_version(runtime, tmp_path, "1.0.1", change_global=lambda g: g.pop("PI_name"))
    held = deliver(runtime, str(dest))
    assert all(not d.written and not d.delivered for d in held.datasets)
    assert _stamps(dest) == stamps, "a held file changes nothing there (nor the SPASE dates)"

    monkeypatch.setenv("SOC_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOC_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("SOC_ARCHIVE_URL", runtime.settings.archive_url)
    get_settings.cache_clear()
    cli = CliRunner()
    done = cli.invoke(main, ["export", "deliver", "--dest", str(dest)])
    assert done.exit_code == 1, done.output
    assert f"{MAG}: 0 delivered, 1 unchanged, 1 held" in done.output
    assert f"held {broken}:" in done.output
    assert "PI_name: required global attribute is missing or empty" in done.output
    assert not (dest / MAG / broken).exists()
    assert (dest / MAG / MANIFEST).read_text() == before
    (row,) = _rows(runtime, name=broken)
    assert row.status == DeliveryStatus.HELD and row.delivered_at is None
    assert row.reasons == "PI_name: required global attribute is missing or empty"

    # Still held on the next run (and still said): cron keeps failing until it is fixed.
    done = cli.invoke(main, ["export", "deliver", "--dest", str(dest), "--json"])
    assert done.exit_code == 1
    found = json.loads(done.output)
    (mag,) = [d for d in found["datasets"] if d["dataset"] == MAG]
    assert mag["held"] == [{"name": broken, "reasons": [row.reasons]}]

    fixed = _ingest_version(runtime, tmp_path, "1.0.2")
    done = cli.invoke(main, ["export", "deliver", "--dest", str(dest), "--dataset", MAG])
    assert done.exit_code == 0, done.output
    assert f"{MAG}: 1 delivered, 1 unchanged, 0 held" in done.output
    assert done.output.endswith(f"{dest.resolve().as_uri()}: 1 delivered, 1 unchanged, 0 held\n")
    assert fixed in (dest / MAG / MANIFEST).read_text()
    assert _sha256sum(dest / MAG).count(": OK") == 2
    statuses = {r.name: r.status for r in _rows(runtime, dataset=MAG)}
    assert statuses[broken] == DeliveryStatus.HELD and statuses[fixed] == DeliveryStatus.DELIVERED
    get_settings.cache_clear()


def test_a_damaged_archive_copy_is_held(runtime: Runtime, tmp_path: Path) -> None:
    archived = _archived(runtime, DAY2)
    rewrite(archived, tmp_path / "other.cdf")  # a valid CDF, not the bytes catalogued
    shutil.copyfile(tmp_path / "other.cdf", archived)
    result = deliver(runtime, str(tmp_path / "spdf"), MAG)
    assert not result.ok
    ((ident, held),) = result.held
    assert (ident, held.name) == (MAG, DAY2)
    assert "not those the catalog recorded" in held.reasons[0]
    assert not (tmp_path / "spdf" / MAG / DAY2).exists()
    assert DAY2 not in (tmp_path / "spdf" / MAG / MANIFEST).read_text()


def test_a_product_that_is_not_cdf_is_skipped(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mission = runtime.missions.mission("demo")
    monkeypatch.setattr(mission.products["pls_l2"], "format", "csv")
    result = deliver(runtime, str(tmp_path / "spdf"), "demo_pls_l2")
    (done,) = result.datasets
    assert done.skipped == "its product's files are csv, not CDF (SPDF takes CDF)"
    assert result.ok and not (tmp_path / "spdf" / "demo_pls_l2").exists()


def test_a_dataset_spase_cannot_describe_is_not_delivered_half(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset = runtime.missions.mission("demo").datasets["demo_pls_l2"]
    monkeypatch.setattr(dataset, "measurement_type", [])
    result = deliver(runtime, str(tmp_path / "spdf"), "demo_pls_l2")
    (done,) = result.datasets
    assert done.error is not None and "measurement_type" in done.error
    assert not result.ok and not (tmp_path / "spdf" / "demo_pls_l2").exists()
    assert _rows(runtime) == []


def test_cli_errors_are_one_line(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOC_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOC_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("SOC_ARCHIVE_URL", runtime.settings.archive_url)
    get_settings.cache_clear()
    cli = CliRunner()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    cases = {
        ("--dest", str(tmp_path / "out"), "--dataset", "nope"): "no dataset 'nope'",
        ("--dest", str(tmp_path / "out"), "--dataset", "demo_mag_ql"): "is a file listing",
        ("--dest", str(a_file)): "cannot deliver to",
        ("--dest", "nope://x/y"): "cannot open storage",
        ("--dest", runtime.settings.archive_url): "cannot deliver into the archive itself",
    }
    for args, message in cases.items():
        done = cli.invoke(main, ["export", "deliver", *args])
        assert done.exit_code != 0, (args, done.output)
        assert isinstance(done.exception, SystemExit), (args, done.exception)
        assert message in done.output, (args, done.output)
        assert "Traceback" not in done.output
    get_settings.cache_clear()


def test_destination_url() -> None:
    assert destination_url("s3://bucket/prefix/") == "s3://bucket/prefix"
    assert destination_url("file:///srv/a/../b") == "file:///srv/b"
    assert destination_url("file://localhost/srv/b/") == "file:///srv/b"
    assert destination_url("/srv/out/") == "file:///srv/out"


def test_the_migration_adds_the_table(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    upgrade(catalog, "0008")
    assert "deliveries" not in inspect(catalog.engine).get_table_names()
    assert upgrade(catalog) == "0009"
    columns = {c["name"] for c in inspect(catalog.engine).get_columns("deliveries")}
    assert {"destination", "name", "version", "sha256", "status", "reasons"} <= columns
    catalog.dispose()


@pytest.mark.integration
def test_delivery_to_a_bucket(
    processed_copy: Path,
    s3_endpoint: str,  # noqa: F811 - the fixture
    s3: S3FileSystem,  # noqa: F811 - the fixture
    bucket: str,  # noqa: F811 - the fixture
    tmp_path: Path,
) -> None:
    runtime = Runtime(explicit_settings(processed_copy, s3_endpoint_url=s3_endpoint))
    try:
        dest = f"s3://{bucket}/spdf"
        first = deliver(runtime, dest)
        assert first.ok and first.destination == dest
        names = _released(runtime)[MAG]
        keys = sorted(
            p.removeprefix(f"{bucket}/spdf/{MAG}/") for p in s3.find(f"{bucket}/spdf/{MAG}")
        )
        assert keys == sorted([*names, f"{MAG}.xml", MANIFEST])
        folder = tmp_path / MAG
        s3.get(f"{bucket}/spdf/{MAG}/", str(folder), recursive=True)
        assert _sha256sum(folder).count(": OK") == len(names)

        again = deliver(runtime, dest + "/")
        assert all(not d.delivered and not d.written for d in again.datasets)
        assert sorted(_by_dataset(again)[MAG].unchanged) == sorted(names)
        with pytest.raises(StorageError, match="no such bucket"):
            deliver(runtime, f"s3://{bucket}-missing/spdf")
    finally:
        runtime.close()
