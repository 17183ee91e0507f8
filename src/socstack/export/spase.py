"""SPASE ``NumericalData`` descriptions and checksum manifests of the released datasets.

Why: SPDF and the other heliophysics archives register what they hold in SPASE, the
field's metadata model, and take a delivery with a checksum list they verify on arrival.
A socstack archive already knows all of it: the mission YAML says what each dataset is
(its product, instrument, level, cadence and ``measurement_type``), the HAPI info says
its parameters (names, units, fill values, sizes) and the catalog holds its coverage and
each file's SHA-256. So both are generated, never written by hand, and say exactly what
the HAPI server and CloudCatalog say.

What is described: the same files CloudCatalog lists
(:func:`socstack.export.cloudcatalog.released_files`: what anyone may see, the newest
version per day). A dataset with no released file has no description and no manifest.

The XML follows the SPASE base model 2.x element order for ``NumericalData``:
``ResourceID``, ``ResourceHeader``, ``AccessInformation``, ``ProcessingLevel``,
``InstrumentID``, ``MeasurementType``, ``TemporalDescription``, ``Parameter``...
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from socstack._exceptions import ConfigError, NotFoundError
from socstack.access.intervals import Intervals, intersect
from socstack.export.cloudcatalog import public_intervals, released_files
from socstack.hapi.metadata import HapiDataset, build_dataset, iso
from socstack.hapi.source import ArchiveSource
from socstack.mission.datasets import Dataset
from socstack.mission.model import Mission
from socstack.mission.spase import SpaseQuantity, parse_spase_quantity

if TYPE_CHECKING:
    from socstack.runtime import Runtime

__all__ = [
    "SPASE_NAMESPACE",
    "SPASE_VERSION",
    "SpaseResult",
    "check_describable",
    "manifest",
    "spase_document",
    "write_spase",
]

SPASE_NAMESPACE = "http://www.spase-group.org/data/schema"
#: The SPASE base model version the documents declare.
SPASE_VERSION = "2.6.1"
#: socstack levels as SPASE ProcessingLevel (Raw, Uncalibrated, Calibrated, ValueAdded).
_PROCESSING_LEVELS = {
    "l0": "Raw",
    "l1a": "Uncalibrated",
    "l1b": "Calibrated",
    "l2": "Calibrated",
    "l3": "ValueAdded",
    "ql": "ValueAdded",
}
#: socstack format names as SPASE Format values.
_FORMATS = {"cdf": "CDF", "csv": "CSV", "fits": "FITS", "netcdf": "NetCDF", "png": "PNG"}


@dataclass(frozen=True)
class SpaseResult:
    """What one export wrote, and the datasets skipped because nothing of them is released."""

    written: tuple[Path, ...]
    skipped: tuple[str, ...]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "contact"


def _text(parent: ET.Element, tag: str, value: object) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = str(value)
    return element


def _find(runtime: Runtime, dataset_id: str) -> tuple[Mission, Dataset]:
    for mission, dataset in runtime.missions.datasets():
        if dataset.id == dataset_id and dataset.files:
            raise NotFoundError(
                f"{dataset_id} is a file listing, not data: SPASE describes its product's"
                " data dataset, whose description lists where the files are"
            )
        if dataset.id == dataset_id:
            return mission, dataset
    raise NotFoundError(f"no dataset {dataset_id!r}")


def _units(value: Any) -> str | None:
    """SPASE has one Units per parameter: HAPI's per-element units, joined if they differ."""
    if isinstance(value, list):
        flat = [str(v) for v in _flatten(value) if v is not None]
        return ", ".join(dict.fromkeys(flat)) or None
    return None if value is None else str(value)


def _flatten(values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in values:
        out.extend(_flatten(v) if isinstance(v, list) else [v])
    return out


def _parameter(root: ET.Element, described: dict[str, Any], spase: str | None) -> None:
    element = ET.SubElement(root, "Parameter")
    _text(element, "Name", described["name"])
    _text(element, "ParameterKey", described["name"])
    description = described.get("description")
    if description:
        _text(element, "Description", description)
    units = _units(described.get("units"))
    if units:
        _text(element, "Units", units)
    if described.get("size"):
        structure = ET.SubElement(element, "Structure")
        _text(structure, "Size", " ".join(str(n) for n in described["size"]))
    if described.get("fill") is not None:
        _text(element, "FillValue", described["fill"])
    measured = _measured(described, spase)
    kind = ET.SubElement(element, measured.kind)
    if measured.particle_type:
        _text(kind, "ParticleType", measured.particle_type)
    _text(kind, measured.element, measured.quantity)


def _measured(described: dict[str, Any], spase: str | None) -> SpaseQuantity:
    """What the parameter measures: the YAML's ``spase``, else a guess that is never wrong.

    SPASE requires the kind. Times are temporal support; a field in nT is magnetic;
    anything else the YAML does not say is ``Support:Other`` (valid, and plainly
    unspecific) rather than a guess a registry would repeat as fact.
    """
    if spase is not None:
        return parse_spase_quantity(spase)
    if described.get("type") == "isotime":
        return SpaseQuantity("Support", "Temporal")
    if _units(described.get("units")) == "nT":
        return SpaseQuantity("Field", "Magnetic")
    return SpaseQuantity("Support", "Other")


def _access(
    data: ET.Element, runtime: Runtime, mission: str, dataset: str, *, product: str, fmt: str
) -> None:
    """AccessInformation: the public HAPI info and the files API, at SOC_PUBLIC_URL."""
    settings = runtime.settings
    authority = settings.spase_authority
    access = ET.SubElement(data, "AccessInformation")
    _text(access, "RepositoryID", f"spase://{authority}/Repository/{_slug(settings.hapi_id)}")
    _text(access, "Availability", "Online")
    _text(access, "AccessRights", "Open")
    base = settings.public_url
    urls = (
        ("HAPI", f"{base}/hapi/info?{urlencode({'dataset': dataset})}", "HAPI info"),
        (
            "Files",
            f"{base}/api/files?{urlencode({'mission': mission, 'product': product})}",
            "The dataset's files (socstack files API)",
        ),
    )
    for name, url, description in urls:
        entry = ET.SubElement(access, "AccessURL")
        _text(entry, "Name", name)
        _text(entry, "URL", url)
        _text(entry, "ProductKey", dataset)
        _text(entry, "Description", description)
    _text(access, "Format", _FORMATS.get(fmt.lower(), "Binary"))


def check_describable(mission: Mission, dataset: Dataset) -> None:
    """Raise :class:`ConfigError` if the YAML lacks what SPASE requires of ``dataset``."""
    if not dataset.measurement_type:
        raise ConfigError(
            "SPASE needs a measurement_type (e.g. [MagneticField])",
            source=f"mission {mission.name}",
            field=f"datasets.{dataset.id}.measurement_type",
        )


def spase_document(
    runtime: Runtime,
    mission: Mission,
    dataset: Dataset,
    *,
    source: ArchiveSource | None = None,
    within: Intervals | None = None,
    release_date: dt.datetime | None = None,
) -> bytes | None:
    """The SPASE ``NumericalData`` XML of ``dataset`` (None: nothing of it is released).

    Coverage, release date and the parameters' bins come from the released files only,
    as the public HAPI info shows them. A delivery describes what it holds: ``within``
    cuts the coverage to the days it delivered, and ``release_date`` (when it last
    delivered a file) replaces the archive's last change, so a file held back changes
    neither.
    """
    check_describable(mission, dataset)
    if not released_files(runtime, mission, dataset):
        return None
    settings = runtime.settings
    source = source or ArchiveSource(runtime)
    hapi: HapiDataset = source.dataset(dataset.id) or build_dataset(mission, dataset)
    seen: Intervals = public_intervals(runtime.access, mission, dataset.product)
    if within is not None:
        seen = intersect(seen, within)
    coverage = source.coverage(hapi, seen) if seen else None
    if coverage is None:
        return None
    info = hapi.info(coverage, source.support(hapi, seen))
    product = hapi.product
    authority = settings.spase_authority

    root = ET.Element("Spase", xmlns=SPASE_NAMESPACE)
    _text(root, "Version", SPASE_VERSION)
    data = ET.SubElement(root, "NumericalData")
    resource_id = dataset.resource_id
    if not (resource_id and resource_id.startswith("spase://")):
        resource_id = f"spase://{authority}/NumericalData/{mission.name}/{dataset.id}"
    _text(data, "ResourceID", resource_id)

    header = ET.SubElement(data, "ResourceHeader")
    _text(header, "ResourceName", hapi.title)
    _text(header, "ReleaseDate", iso(release_date or coverage.modified))
    _text(header, "Description", info["description"] or hapi.title)
    contact = ET.SubElement(header, "Contact")
    person = settings.hapi_contact_id
    if not person.startswith("spase://"):
        person = f"spase://{authority}/Person/{_slug(settings.hapi_contact)}"
    _text(contact, "PersonID", person)
    _text(contact, "Role", "GeneralContact")

    _access(data, runtime, mission.name, dataset.id, product=product.id, fmt=product.format)

    level = _PROCESSING_LEVELS.get(product.level)
    if level:
        _text(data, "ProcessingLevel", level)
    _text(
        data, "InstrumentID", f"spase://{authority}/Instrument/{mission.name}/{product.instrument}"
    )
    for kind in dataset.measurement_type:
        _text(data, "MeasurementType", kind)
    temporal = ET.SubElement(data, "TemporalDescription")
    span = ET.SubElement(temporal, "TimeSpan")
    _text(span, "StartDate", info["startDate"])
    _text(span, "StopDate", info["stopDate"])
    if dataset.cadence:
        _text(temporal, "Cadence", dataset.cadence)
    declared = {p.name: p.spase for p in dataset.parameters}
    for described in info["parameters"]:
        _parameter(data, described, declared.get(described["name"]))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_spase(runtime: Runtime, dest: Path, dataset_id: str | None = None) -> SpaseResult:
    """Write ``<dataset>.xml`` into ``dest`` for one dataset, or every released one."""
    if dataset_id is not None:
        chosen = [_find(runtime, dataset_id)]
    else:
        every = runtime.missions.datasets()
        chosen = list({d.id: (m, d) for m, d in every if not d.files}.values())
    dest.mkdir(parents=True, exist_ok=True)
    source = ArchiveSource(runtime)
    written, skipped = [], []
    for mission, dataset in chosen:
        document = spase_document(runtime, mission, dataset, source=source)
        if document is None:
            skipped.append(dataset.id)
            continue
        path = dest / f"{dataset.id}.xml"
        path.write_bytes(document)
        written.append(path)
    return SpaseResult(tuple(written), tuple(skipped))


def manifest(runtime: Runtime, dataset_id: str) -> str:
    """The released files of a dataset in ``sha256sum`` format, names below the archive root.

    The checksums are the catalog's, taken when each file was archived; a file is read
    and hashed only if its row has none. ``sha256sum -c`` in the archive's root checks
    a delivery against it.
    """
    mission, dataset = _find(runtime, dataset_id)
    lines = []
    for f in released_files(runtime, mission, dataset):
        digest = f.sha256
        if not digest:
            hasher = hashlib.sha256()
            with runtime.archive.open(f.uri) as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    hasher.update(chunk)
            digest = hasher.hexdigest()
        lines.append(f"{digest}  {f.uri}\n")
    return "".join(lines)
