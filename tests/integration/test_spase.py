"""SPASE NumericalData descriptions and checksum manifests of the released demo datasets."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from socstack.access import ANONYMOUS
from socstack.catalog.models import File
from socstack.cli import main
from socstack.export.cloudcatalog import public_intervals, released_files
from socstack.export.spase import SPASE_NAMESPACE, manifest, write_spase
from socstack.hapi.source import ArchiveSource
from socstack.runtime import Runtime
from tests.conftest import explicit_settings

NS = {"s": SPASE_NAMESPACE}


@pytest.fixture
def runtime(processed_archive: Path, tmp_path: Path) -> Iterator[Runtime]:
    folder = tmp_path / "data"
    shutil.copytree(processed_archive, folder)
    rt = Runtime(
        explicit_settings(
            folder, spase_authority="DemoSOC", public_url="https://soc.example/x", port=0
        )
    )
    yield rt
    rt.close()


def _parse(path: Path) -> ET.Element:
    """A document this test wrote itself (not untrusted input)."""
    return ET.parse(path).getroot()  # noqa: S314


def _released(runtime: Runtime) -> dict[str, str]:
    """Dataset id -> product of the data datasets anyone may see files of (file listings
    are not data: they are not described)."""
    return {
        d.id: d.product
        for m, d in runtime.missions.datasets()
        if not d.files
        and runtime.access.visible(ANONYMOUS, m.name, d.product)
        and released_files(runtime, m, d)
    }


def test_every_released_dataset_is_described(runtime: Runtime, tmp_path: Path) -> None:
    result = write_spase(runtime, tmp_path / "spase")
    expected = _released(runtime)
    assert {"demo_mag_l2_1s", "demo_pls_l2", "demo_sw_l2"} <= set(expected)
    assert "demo_mag_l1a" not in expected and "demo_mag_l1a" in result.skipped
    assert {p.stem for p in result.written} == set(expected)
    source = ArchiveSource(runtime)
    for mission, dataset in runtime.missions.datasets():
        if dataset.id not in expected:
            continue
        root = _parse(tmp_path / "spase" / f"{dataset.id}.xml")
        assert root.tag == f"{{{SPASE_NAMESPACE}}}Spase"
        assert root.findtext("s:Version", namespaces=NS)
        data = root.find("s:NumericalData", NS)
        assert data is not None
        order = [child.tag.split("}")[1] for child in data]
        head = ["ResourceID", "ResourceHeader", "AccessInformation", "ProcessingLevel"]
        assert order[:5] == [*head, "InstrumentID"]
        assert order.index("MeasurementType") < order.index("TemporalDescription")
        assert order[order.index("TemporalDescription") + 1 :] == ["Parameter"] * (
            order.count("Parameter")
        )
        rid = data.findtext("s:ResourceID", namespaces=NS)
        assert rid == f"spase://DemoSOC/NumericalData/demo/{dataset.id}"
        header = data.find("s:ResourceHeader", NS)
        assert [c.tag.split("}")[1] for c in header] == [
            "ResourceName",
            "ReleaseDate",
            "Description",
            "Contact",
        ]
        assert header.findtext("s:Contact/s:Role", namespaces=NS) == "GeneralContact"
        assert header.findtext("s:Contact/s:PersonID", namespaces=NS).startswith(
            "spase://DemoSOC/Person/"
        )
        urls = [u.text for u in data.findall("s:AccessInformation/s:AccessURL/s:URL", NS)]
        assert urls[0] == f"https://soc.example/x/hapi/info?dataset={dataset.id}"
        assert urls[1].startswith("https://soc.example/x/api/files?mission=demo&product=")
        assert data.findtext("s:AccessInformation/s:Format", namespaces=NS) == "CDF"
        product = mission.products[dataset.product]
        assert data.findtext("s:InstrumentID", namespaces=NS).endswith(
            f"/Instrument/demo/{product.instrument}"
        )
        kinds = [e.text for e in data.findall("s:MeasurementType", NS)]
        assert kinds == list(dataset.measurement_type)

        hapi = source.dataset(dataset.id)
        seen = public_intervals(runtime.access, mission, dataset.product)
        info = hapi.info(source.coverage(hapi, seen), source.support(hapi, seen))
        span = data.find("s:TemporalDescription/s:TimeSpan", NS)
        assert span.findtext("s:StartDate", namespaces=NS) == info["startDate"]
        assert span.findtext("s:StopDate", namespaces=NS) == info["stopDate"]
        assert info["startDate"] == "2025-01-01T00:00:00Z"
        assert info["stopDate"] == "2025-01-03T00:00:00Z"
        assert data.findtext("s:TemporalDescription/s:Cadence", namespaces=NS) == (dataset.cadence)
        parameters = data.findall("s:Parameter", NS)
        assert [p.findtext("s:Name", namespaces=NS) for p in parameters] == [
            p["name"] for p in info["parameters"]
        ]
        for element, described in zip(parameters, info["parameters"], strict=True):
            assert element.findtext("s:ParameterKey", namespaces=NS) == described["name"]
            assert element.findtext("s:Units", namespaces=NS) == described.get("units")
            assert element.findtext("s:FillValue", namespaces=NS) == described.get("fill")
            size = element.findtext("s:Structure/s:Size", namespaces=NS)
            assert size == (" ".join(map(str, described["size"])) if "size" in described else None)
            # Each says what it measures (SPASE requires one kind), last, as the schema orders.
            last = list(element)[-1]
            kind = last.tag.split("}")[1]
            assert kind in ("Field", "Particle", "Wave", "Mixed", "Support")
            assert last.findtext(f"s:{kind}Quantity", namespaces=NS)
            if described["type"] == "isotime":
                assert (kind, last.findtext("s:SupportQuantity", namespaces=NS)) == (
                    "Support",
                    "Temporal",
                )
    kinds = _measured(_parse(tmp_path / "spase" / "demo_pls_l2.xml"))
    assert kinds["density"] == ("Particle", "Proton", "NumberDensity")  # from the YAML
    assert kinds["quality"] == ("Support", None, "DataQuality")
    kinds = _measured(_parse(tmp_path / "spase" / "demo_mag_l2_1s.xml"))
    assert kinds["B_GSE"] == ("Field", None, "Magnetic")  # nT: said without the YAML


def _measured(root: ET.Element) -> dict[str, tuple[str, str | None, str | None]]:
    """Parameter name -> its kind, particle type and quantity."""
    out = {}
    for element in root.findall("s:NumericalData/s:Parameter", NS):
        last = list(element)[-1]
        kind = last.tag.split("}")[1]
        quantity = last.findtext(f"s:{kind}Quantity", namespaces=NS)
        out[element.findtext("s:Name", namespaces=NS)] = (
            kind,
            last.findtext("s:ParticleType", namespaces=NS),
            quantity,
        )
    return out


def test_the_pls_spectrum_and_a_yaml_resource_id(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mission = runtime.missions.mission("demo")
    dataset = mission.datasets["demo_mag_l2_1s"]
    monkeypatch.setattr(dataset, "resource_id", "spase://NASA/NumericalData/Demo/MAG/PT1S")
    write_spase(runtime, tmp_path, "demo_mag_l2_1s")
    write_spase(runtime, tmp_path, "demo_pls_l2")
    root = _parse(tmp_path / "demo_mag_l2_1s.xml")
    rid = root.findtext("s:NumericalData/s:ResourceID", namespaces=NS)
    assert rid == "spase://NASA/NumericalData/Demo/MAG/PT1S"
    pls = _parse(tmp_path / "demo_pls_l2.xml")
    eflux = next(
        p
        for p in pls.findall("s:NumericalData/s:Parameter", NS)
        if p.findtext("s:Name", namespaces=NS) == "eflux"
    )
    assert eflux.findtext("s:Structure/s:Size", namespaces=NS) == "32"
    # The text is escaped, not pasted: the files URL's & survives a parse.
    text = (tmp_path / "demo_pls_l2.xml").read_text()
    assert "mission=demo&amp;product=pls_l2" in text


def test_manifest_uses_the_catalog_and_sha256sum_accepts_it(
    runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    def no_hashing(*args: object) -> None:
        raise AssertionError("the catalog has the checksums: nothing is hashed")

    monkeypatch.setattr(hashlib, "sha256", no_hashing)
    text = manifest(runtime, "demo_mag_l2_1s")
    monkeypatch.undo()
    lines = text.splitlines()
    assert len(lines) == 2  # two processed days, the newest version of each
    with runtime.catalog.session() as session:
        for line in lines:
            digest, name = line.split("  ", 1)
            row = session.query(File).filter(File.uri == name).one()
            assert row.sha256 == digest
    root = runtime.archive.local_path("")
    (tmp_path / "SHA256SUMS").write_text(text)
    done = subprocess.run(
        ["sha256sum", "-c", str(tmp_path / "SHA256SUMS")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 2


def test_cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socstack.config import get_settings

    monkeypatch.setenv("SOC_DATA_DIR", str(runtime.settings.data_dir))
    monkeypatch.setenv("SOC_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("SOC_ARCHIVE_URL", runtime.settings.archive_url)
    get_settings.cache_clear()
    cli = CliRunner()
    out = tmp_path / "out"
    done = cli.invoke(main, ["export", "spase", "--dataset", "demo_pls_l2", "--dest", str(out)])
    assert done.exit_code == 0, done.output
    assert (out / "demo_pls_l2.xml").is_file()
    done = cli.invoke(main, ["export", "manifest", "--dataset", "demo_pls_l2"])
    assert done.exit_code == 0, done.output
    assert done.output == manifest(runtime, "demo_pls_l2")
    done = cli.invoke(main, ["export", "spase", "--dataset", "nope", "--dest", str(out)])
    assert done.exit_code != 0
    get_settings.cache_clear()
