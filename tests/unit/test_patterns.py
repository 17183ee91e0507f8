import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socstack.mission.patterns import NamePattern, is_safe_name
from socstack.mission.versions import Version

FIXED = {"mission": "demo", "instrument": "mag", "level": "l2", "descriptor": "1s-gse"}
PATTERN = "{mission}_{instrument}_{level}_{descriptor}_{date:%Y%m%d}_v{version}.cdf"


def test_version_order_is_numeric() -> None:
    assert Version.parse("1.10.0") > Version.parse("1.9.3")
    assert Version.parse("v2.0.1") == Version(2, 0, 1)
    assert str(Version(1, 2, 3)) == "1.2.3"


@pytest.mark.parametrize(
    ("change", "expected"),
    [("interface", "2.0.0"), ("quality", "1.3.0"), ("revision", "1.2.4")],
)
def test_version_bumps(change: str, expected: str) -> None:
    assert str(Version(1, 2, 3).bump(change)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["1.2", "1.2.3.4", "a.b.c", "", "1.-2.3", "v"])
def test_bad_versions(text: str) -> None:
    with pytest.raises(ValueError, match=r"X\.Y\.Z"):
        Version.parse(text)


def test_format_and_parse() -> None:
    pattern = NamePattern.compile(PATTERN, **FIXED)
    name = pattern.format(dt.date(2025, 3, 9), Version(1, 0, 2))
    assert name == "demo_mag_l2_1s-gse_20250309_v1.0.2.cdf"
    assert pattern.parse(name) == (dt.date(2025, 3, 9), Version(1, 0, 2), None)


@pytest.mark.parametrize(
    "name",
    [
        "demo_mag_l2_1s-gse_20250309_v1.0.2.cdf.gz",
        "xdemo_mag_l2_1s-gse_20250309_v1.0.2.cdf",
        "demo_mag_l2_1s-gse_20251309_v1.0.2.cdf",  # month 13
        "demo_mag_l2_1s-gse_20250230_v1.0.2.cdf",  # 30 February
        "demo_mag_l2_1s-gse_2025039_v1.0.2.cdf",
        "demo_mag_l2_1s-gse_20250309_v1.0.cdf",
        "demo_pls_l2_1s-gse_20250309_v1.0.2.cdf",
        "demo_mag_l2_1sXgse_20250309_v1.0.2.cdf",
    ],
)
def test_names_that_do_not_match(name: str) -> None:
    assert NamePattern.compile(PATTERN, **FIXED).parse(name) is None


@given(
    date=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2199, 12, 31)),
    version=st.tuples(*[st.integers(0, 999_999)] * 3),
    fmt=st.sampled_from(["%Y%m%d", "%Y-%m-%d", "%Y%j", "%Y_%j"]),
)
def test_round_trip(date: dt.date, version: tuple[int, int, int], fmt: str) -> None:
    pattern = NamePattern.compile(
        "{mission}_{instrument}_{level}_{descriptor}_{date:" + fmt + "}_v{version}.cdf", **FIXED
    )
    name = pattern.format(date, Version(*version))
    assert pattern.parse(name) == (date, Version(*version), None)
    assert is_safe_name(name)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{mission}_v{version}.cdf", "must contain {date}"),
        ("{mission}_{orbit}_{date:%Y%m%d}_v{version}.cdf", "unknown field {orbit}"),
        ("{mission}_{date}_v{version}.cdf", "needs a format"),
        ("{mission}_{date:%Y%b}_v{version}.cdf", "only %Y"),
        ("{date:%Y}_{date:%m}_v{version}", "appears twice"),
        ("{mission}_{date:%Y%m%d}_v{version}.cdf}", "braces"),
        ("a/{mission}_{date:%Y%m%d}_v{version}", "path separator"),
    ],
)
def test_bad_patterns(pattern: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        NamePattern.compile(pattern, **FIXED)


@pytest.mark.parametrize(
    "name", ["../etc/passwd", ".hidden", "a/b", "a\\b", "", "x" * 256, "é.cdf"]
)
def test_unsafe_names(name: str) -> None:
    assert not is_safe_name(name)


def test_a_versionless_pattern_archives_each_version_under_a_name_of_its_own() -> None:
    pattern = NamePattern.compile("kou{date:%Y%m%d}dmin.min", **FIXED)
    assert not pattern.versioned
    assert pattern.archive_pattern == "kou{date:%Y%m%d}dmin_v{version}.min"
    assert pattern.parse("kou20250301dmin.min") == (dt.date(2025, 3, 1), None, None)
    archived = pattern.format(dt.date(2025, 3, 1), Version(1, 0, 2))
    assert archived == "kou20250301dmin_v1.0.2.min"
    assert pattern.parse(archived) == (dt.date(2025, 3, 1), Version(1, 0, 2), None)
    assert pattern.parse("kou20250301dmin_v1.0.min") is None
    no_extension = NamePattern.compile("{mission}-{date:%Y%j}", **FIXED)
    assert no_extension.format(dt.date(2025, 2, 1), Version(1, 0, 0)) == "demo-2025032_v1.0.0"


def test_a_calibration_pattern_carries_the_end_of_its_validity() -> None:
    pattern = NamePattern.compile(
        "{mission}_cal_{date:%Y%m%d}_{until:%Y%m%d}_v{version}.csv", **FIXED
    )
    name = pattern.format(dt.date(2025, 3, 1), Version(1, 0, 0), dt.date(2025, 3, 31))
    assert name == "demo_cal_20250301_20250331_v1.0.0.csv"
    assert pattern.parse(name) == (dt.date(2025, 3, 1), Version(1, 0, 0), dt.date(2025, 3, 31))
    assert pattern.parse("demo_cal_20250301_20250231_v1.0.0.csv") is None  # no 31 February
    with pytest.raises(ValueError, match="needs the end of validity"):
        pattern.format(dt.date(2025, 3, 1), Version(1, 0, 0))
