"""Format readers: what they accept, and every kind of bad file they must refuse."""

import datetime as dt
import hashlib
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from socstack._exceptions import FormatError
from socstack.formats import get
from socstack.formats.ccsds import scan_packets
from socstack.mission import MissionRegistry

MAG = "demo_mag_l0_raw_20250101_v1.0.0.pkts"
PLS = "demo_pls_l0_raw_20250101_v1.0.0.pkts"
CAL = "demo_mag_anc_cal_20250101_v1.0.0.csv"


def product(registry: MissionRegistry, name: str):
    return registry.parse_name(name)[0]


def test_ccsds_inspection_reads_coverage(demo_files: Path, demo_missions: MissionRegistry) -> None:
    found = get("ccsds").inspect(demo_files / MAG, product(demo_missions, MAG))
    assert found.start == dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert (
        dt.datetime(2025, 1, 1, 23, 50, tzinfo=dt.UTC)
        < found.stop
        < dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    )
    assert found.details["packets_per_apid"] == {1040: found.records}
    assert 1300 < found.records <= 1440  # one packet a minute, minus gaps


def test_ccsds_full_decode_agrees_with_inspection(
    demo_files: Path, demo_missions: MissionRegistry
) -> None:
    mag = product(demo_missions, MAG)
    data = get("ccsds").read(demo_files / MAG, mag)
    assert data.sizes["epoch"] == get("ccsds").inspect(demo_files / MAG, mag).records
    assert set(data["PKT_APID"].values) == {1040}
    assert (np.diff(data["epoch"].values).astype("timedelta64[s]").astype(int) >= 60).all()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b"", "empty file"),
        (lambda b: b[:5], "less than one packet"),
        (lambda b: b[:-10], "truncated: packet .* needs 378 bytes but only 368 remain"),
        (lambda b: b + b"\x00\x01\x02", "truncated"),
        (lambda b: bytes([b[0] | 0x20]) + b[1:], "has version 1"),
        (lambda b: np.random.default_rng(1).bytes(len(b)), "truncated|version|APID"),
    ],
    ids=["empty", "tiny", "cut-short", "trailing-bytes", "bad-version", "random-bytes"],
)
def test_ccsds_refuses_damaged_files(
    demo_files: Path, demo_missions: MissionRegistry, tmp_path: Path, damage, reason: str
) -> None:
    bad = tmp_path / MAG
    bad.write_bytes(damage((demo_files / MAG).read_bytes()))
    with pytest.raises(FormatError, match=reason):
        get("ccsds").inspect(bad, product(demo_missions, MAG))


def test_ccsds_refuses_another_instruments_packets(
    demo_files: Path, demo_missions: MissionRegistry, tmp_path: Path
) -> None:
    bad = tmp_path / MAG
    bad.write_bytes((demo_files / PLS).read_bytes())
    with pytest.raises(FormatError, match=r"APID 1120 .* product mag_l0 holds APID 1040"):
        get("ccsds").inspect(bad, product(demo_missions, MAG))


def test_ccsds_refuses_packets_the_definition_does_not_describe(
    demo_files: Path, demo_missions: MissionRegistry, tmp_path: Path
) -> None:
    # A MAG packet with 12 extra bytes: headers are consistent, the XTCE layout is not.
    first = (demo_files / MAG).read_bytes()[:378]
    longer = bytearray(first + bytes(12))
    longer[4:6] = struct.pack(">H", len(longer) - 7)
    bad = tmp_path / MAG
    bad.write_bytes(bytes(longer) * 3)
    with pytest.raises(FormatError, match=r"has 390 bytes but packets/mag\.xml describes 378"):
        get("ccsds").inspect(bad, product(demo_missions, MAG))


def test_scan_takes_the_slow_path_for_mixed_lengths(demo_files: Path) -> None:
    mixed = (demo_files / MAG).read_bytes()[: 378 * 3] + (demo_files / PLS).read_bytes()[: 152 * 2]
    index = scan_packets(np.frombuffer(mixed, dtype=np.uint8))
    assert list(index.apids) == [1040] * 3 + [1120] * 2
    assert list(index.lengths) == [378] * 3 + [152] * 2


def test_csv_reads_calibration(demo_files: Path, demo_missions: MissionRegistry) -> None:
    cal = product(demo_missions, CAL)
    assert get("csv").inspect(demo_files / CAL, cal).records == 3
    table = get("csv").read(demo_files / CAL, cal)
    assert list(table["channel"].values) == ["x", "y", "z"]
    assert np.all(np.abs(table["gain"].values - 1) < 0.05)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"# only a comment\n", "empty file|no header"),
        (b"channel,offset\nx,1\n", "lacks column"),
        (b"channel,offset,gain\n", "no data rows"),
        (b"channel,offset,gain\nx,1.0,abc\n", "row 2, column gain: 'abc' is not a number"),
        (b"channel,offset,gain\nx,1.0\n", "row 2 has 2 fields"),
        (b"channel,offset,gain\nx,1.0,\xff\xfe\n", "not UTF-8"),
        (b'channel,offset,gain\n"x,1.0,1\n', "not valid CSV|fields"),
    ],
)
def test_csv_refuses_bad_tables(
    demo_missions: MissionRegistry, tmp_path: Path, content: bytes, reason: str
) -> None:
    bad = tmp_path / CAL
    bad.write_bytes(content)
    with pytest.raises(FormatError, match=reason):
        get("csv").inspect(bad, product(demo_missions, CAL))


def test_cdf_inspection(tmp_path: Path, demo_missions: MissionRegistry) -> None:
    import xarray as xr
    from cdflib.xarray import xarray_to_cdf

    from socstack.mission.model import Product

    cdf_product = Product.model_validate(
        {
            "id": "x",
            "mission": "demo",
            "instrument": "mag",
            "level": "l2",
            "descriptor": "test",
            "pattern": "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.cdf",
            "format": "cdf",
            "options": {"variables": ["b"]},
        }
    )
    epoch = np.array(["2025-01-01T00:00:00", "2025-01-01T12:00:00"], dtype="datetime64[ns]")
    data = xr.Dataset(
        {"b": (("epoch",), np.array([1.0, 2.0]), {"VAR_TYPE": "data", "DEPEND_0": "epoch"})},
        coords={"epoch": ("epoch", epoch, {"VAR_TYPE": "support_data"})},
        attrs={
            "Project": "x",
            "Source_name": "x",
            "Discipline": "x",
            "Data_type": "x",
            "Descriptor": "x",
            "Data_version": "1",
            "Logical_file_id": "x",
            "PI_name": "x",
            "PI_affiliation": "x",
            "TEXT": "x",
            "Instrument_type": "x",
            "Mission_group": "x",
            "Logical_source": "x",
            "Logical_source_description": "x",
        },
    )
    path = tmp_path / "test.cdf"
    xarray_to_cdf(data, str(path))
    found = get("cdf").inspect(path, cdf_product)
    assert (found.records, found.start, found.stop) == (
        2,
        dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC),
    )
    assert list(get("cdf").read(path, cdf_product)["b"].values) == [1.0, 2.0]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(FormatError, match="CDF"):
        get("cdf").inspect(path, cdf_product)
    path.write_bytes(b"not a cdf at all" * 10)
    with pytest.raises(FormatError, match="does not open as CDF"):
        get("cdf").inspect(path, cdf_product)


def _png(width: int = 2, height: int = 1) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + bytes(width) for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"GIF89a....", "not a PNG"),
        (_png()[:-6], "truncated"),
        (_png()[:-12], "no IEND"),
        (_png()[:19] + b"\x07" + _png()[20:], "fails its CRC"),
    ],
)
def test_png_checks(
    tmp_path: Path, demo_missions: MissionRegistry, content: bytes, reason: str
) -> None:
    path = tmp_path / "q.png"
    path.write_bytes(_png(30, 20))
    assert get("png").inspect(path, product(demo_missions, MAG)).details == {
        "width": 30,
        "height": 20,
    }
    path.write_bytes(content)
    with pytest.raises(FormatError, match=reason):
        get("png").inspect(path, product(demo_missions, MAG))


def test_unknown_format() -> None:
    with pytest.raises(
        ValueError, match="unknown format 'fits'; known: ccsds, cdf, csv, png, text"
    ):
        get("fits")


def test_unknown_options_name_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"^options.colums: unknown option \(a typo\?\); known: columns, numeric, "
        r"time_column, comment, max_rows, valid_until$",
    ):
        get("csv").validate_options({"columns": ["a"], "colums": ["b"]}, tmp_path)
    with pytest.raises(
        ValueError, match=r"^options.time.fin: unknown option .*; known: coarse, fine,"
    ):
        get("ccsds").validate_options(
            {
                "xtce": "mag.xml",
                "apids": [1],
                "time": {"coarse": "T", "fin": "F", "epoch": "2010-01-01"},
            },
            tmp_path,
        )


def test_declared_variables(demo_missions: MissionRegistry) -> None:
    cal = product(demo_missions, CAL)
    assert get("csv").declared_variables(cal.format_options) == {
        "channel": (),
        "offset": (),
        "gain": (),
    }
    timed = get("csv").validate_options(
        {"columns": ["time", "a"], "numeric": ["b"], "time_column": "time"}, Path()
    )
    assert get("csv").declared_variables(timed) == {"a": (), "b": ()}
    mag = product(demo_missions, MAG)
    assert get("ccsds").declared_variables(mag.format_options) is None  # not declared: unknown
    with pytest.raises(TypeError, match="csv options expected"):
        get("csv").declared_variables(mag.format_options)


def _cdflib_values(path: Path) -> dict[str, np.ndarray]:
    """Every variable as cdflib's record-level API decodes it (the reference)."""
    import cdflib

    from socstack.formats.cdf import _decode

    cdf = cdflib.CDF(path)
    return {name: np.asarray(_decode(cdf, name)) for name in cdf.cdf_info().zVariables}


def test_served_reads_equal_cdflib_on_every_demo_product(processed_archive: Path) -> None:
    """pycdfpp serves what cdflib reads: values, dtypes and shapes, every variable."""
    from socstack.formats.cdf import read_variables

    kinds: dict[str, Path] = {}
    for path in sorted(processed_archive.rglob("*.cdf")):
        kinds.setdefault(path.name.rsplit("_", 2)[0], path)  # one file per product
    assert len(kinds) >= 8, sorted(kinds)
    checked = set()
    for path in kinds.values():
        expected = _cdflib_values(path)
        served = read_variables(path, list(expected), sha256=_sha256(path))
        for name, want in expected.items():
            got = served[name]
            assert (got.shape, got.dtype) == (want.shape, want.dtype), (path.name, name)
            checked.add((want.dtype.kind, want.ndim))
            if want.dtype.kind == "M":
                got, want = got.view(np.int64), want.view(np.int64)  # noqa: PLW2901 - NaT == NaT
            assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), (path.name, name)
    assert {("M", 1), ("f", 1), ("f", 2), ("U", 1)} <= checked  # times, scalars, vectors, labels


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_served_reads_refuse_damaged_files(tmp_path: Path, processed_archive: Path) -> None:
    """A file that is not the one ingest checked never reaches the C++ parser."""
    from socstack.formats.cdf import read_variables

    path = next(processed_archive.rglob("demo_mag_l2_1s*.cdf"))
    checksum = _sha256(path)
    with pytest.raises(FormatError, match="no variable 'nope'"):
        read_variables(path, ["epoch", "nope"], sha256=checksum)
    # A truncated copy crashes pycdfpp (SIGSEGV), as 6 in 60 files with bytes flipped did.
    cut = tmp_path / path.name
    flipped = bytearray(path.read_bytes())
    flipped[700] ^= 0xFF
    for content in (path.read_bytes()[:5000], bytes(flipped)):
        cut.write_bytes(content)
        with pytest.raises(FormatError, match="damaged: its checksum differs"):
            read_variables(cut, ["epoch", "b_gse"], sha256=checksum)
    cut.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(FormatError):  # without a checksum to vouch for it: cdflib raises
        read_variables(cut, ["epoch", "b_gse"])
    cut.write_bytes(b"not a cdf at all" * 10)
    with pytest.raises(FormatError, match="does not open as CDF"):
        read_variables(cut, ["epoch"], sha256=_sha256(cut))


def test_a_file_changed_after_its_check_is_checked_again(
    tmp_path: Path, processed_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks remembered per file (stat identity) never vouch for new bytes."""
    from socstack.formats import cdf

    source = next(processed_archive.rglob("demo_mag_l2_1s*.cdf"))
    checksum = _sha256(source)
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes())
    monkeypatch.setattr(cdf, "_SETTLED_NS", 50_000_000)
    settled = path.stat().st_ctime_ns + cdf._SETTLED_NS
    while time.time_ns() <= settled:  # the file must be old enough to be remembered
        time.sleep(0.01)
    first = cdf.read_variables(path, ["b_mag"], sha256=checksum)["b_mag"]
    assert cdf._VERIFIED[str(path)][0] == checksum
    again = cdf.read_variables(path, ["b_mag"], sha256=checksum)["b_mag"]  # remembered
    np.testing.assert_array_equal(first, again)
    flipped = bytearray(source.read_bytes())
    flipped[700] ^= 0xFF
    path.write_bytes(bytes(flipped))  # same size, same inode: only its times differ
    with pytest.raises(FormatError, match="damaged"):
        cdf.read_variables(path, ["b_mag"], sha256=checksum)
    assert str(path) not in cdf._VERIFIED
