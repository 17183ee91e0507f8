"""The ISTP check names what a broken CDF misses: copies of a demo file with one thing wrong.

Each copy rewrites the first records of the demo mission's level 2 field (every variable
and attribute, with cdflib's writer) with one change; the unchanged copy passes, so each
problem found is the change's.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import cdflib
import pytest
from cdflib import cdfwrite

from socstack.export.istp import REQUIRED_GLOBAL, IstpProblem, check_istp

Attributes = dict[str, Any]
RECORDS = 60


@pytest.fixture(scope="module")
def demo_cdf(processed_archive: Path) -> Path:
    """The demo level 2 field of a day: b_gse (with LABL_PTR_1), b_mag (with LABLAXIS)."""
    return next((processed_archive / "archive").glob("**/demo_mag_l2_1s-gse_*.cdf"))


def rewrite(
    source: Path,
    target: Path,
    change_global: Callable[[Attributes], None] = lambda attrs: None,
    change_variables: Callable[[dict[str, Attributes]], None] = lambda attrs: None,
) -> Path:
    """Copy ``source`` to ``target`` (its first records), changing its attributes first."""
    cdf = cdflib.CDF(source)
    names = list(cdf.cdf_info().zVariables)
    global_attrs: Attributes = cdf.globalattsget()
    variable_attrs = {
        name: {key: cdf.attget(key, name) for key in cdf.varattsget(name)} for name in names
    }
    change_global(global_attrs)
    change_variables(variable_attrs)
    writer = cdfwrite.CDF(str(target), cdf_spec={"Compressed": 0})
    try:
        writer.write_globalattrs(
            {key: dict(enumerate(values)) for key, values in global_attrs.items()}
        )
        for name in names:
            inquiry = cdf.varinq(name)
            spec = {
                "Variable": name,
                "Data_Type": inquiry.Data_Type,
                "Num_Elements": inquiry.Num_Elements,
                "Rec_Vary": inquiry.Rec_Vary,
                "Dim_Sizes": inquiry.Dim_Sizes,
                "Compress": 0,
            }
            data = (
                cdf.varget(name, startrec=0, endrec=RECORDS - 1)
                if inquiry.Rec_Vary
                else cdf.varget(name)
            )
            attrs = {
                key: value if isinstance(value, str) else [value.Data, value.Data_Type]
                for key, value in variable_attrs[name].items()
            }
            writer.write_var(spec, var_attrs=attrs, var_data=data)
    finally:
        writer.close()
    return target


def found(problems: list[IstpProblem]) -> list[tuple[str | None, str]]:
    return [(p.variable, p.attribute) for p in problems]


def test_the_unchanged_copy_passes(demo_cdf: Path, tmp_path: Path) -> None:
    assert check_istp(rewrite(demo_cdf, tmp_path / "copy.cdf")) == []


@pytest.mark.parametrize("key", REQUIRED_GLOBAL)
def test_a_missing_global_attribute_is_named(demo_cdf: Path, tmp_path: Path, key: str) -> None:
    copy = rewrite(demo_cdf, tmp_path / "copy.cdf", change_global=lambda g: g.pop(key))
    assert found(check_istp(copy)) == [(None, key)]


def test_a_blank_global_attribute_counts_as_missing(demo_cdf: Path, tmp_path: Path) -> None:
    copy = rewrite(
        demo_cdf, tmp_path / "copy.cdf", change_global=lambda g: g.update(PI_name=["  "])
    )
    assert found(check_istp(copy)) == [(None, "PI_name")]


def test_a_logical_file_id_of_another_source_is_named(demo_cdf: Path, tmp_path: Path) -> None:
    def other_id(attrs: Attributes) -> None:
        attrs["Logical_file_id"] = ["demo_mag_l1a_raw_20250101_v1.0.0"]

    problems = check_istp(rewrite(demo_cdf, tmp_path / "copy.cdf", change_global=other_id))
    assert found(problems) == [(None, "Logical_file_id")]
    assert "does not start with Logical_source 'demo_mag_l2_1s-gse'" in problems[0].message


def variable_change(name: str, **changes: str | None) -> Callable[[dict[str, Attributes]], None]:
    """Set (or with None remove) attributes of one variable."""

    def change(attrs: dict[str, Attributes]) -> None:
        for key, value in changes.items():
            if value is None:
                del attrs[name][key]
            else:
                attrs[name][key] = value

    return change


@pytest.mark.parametrize(
    ("variable", "changes", "expected", "words"),
    [
        ("b_mag", {"DEPEND_0": None}, [("b_mag", "DEPEND_0")], "missing"),
        ("b_gse", {"DEPEND_0": "time"}, [("b_gse", "DEPEND_0")], "names 'time'"),
        ("b_gse", {"FILLVAL": None}, [("b_gse", "FILLVAL")], "missing"),
        ("b_mag", {"UNITS": None}, [("b_mag", "UNITS")], "missing"),
        ("b_mag", {"LABLAXIS": None}, [("b_mag", "LABLAXIS")], "LABL_PTR_1"),
        ("b_gse", {"LABL_PTR_1": None}, [("b_gse", "LABLAXIS")], "LABL_PTR_1"),
        ("b_gse", {"LABL_PTR_1": "b_labels"}, [("b_gse", "LABL_PTR_1")], "'b_labels'"),
        ("b_mag", {"FORMAT": None}, [("b_mag", "FORMAT")], "FORM_PTR"),
        ("b_mag", {"VAR_TYPE": "science"}, [("b_mag", "VAR_TYPE")], "'science' is not one of"),
        ("b_mag", {"VAR_TYPE": None}, [("b_mag", "VAR_TYPE")], "missing"),
        ("b_mag", {"DELTA_PLUS_VAR": "b_err"}, [("b_mag", "DELTA_PLUS_VAR")], "'b_err'"),
        ("b_gse_label", {"VAR_TYPE": None}, [("b_gse_label", "VAR_TYPE")], "missing"),
        ("epoch", {"CATDESC": None}, [("epoch", "CATDESC")], "support_data"),
        ("epoch", {"VAR_TYPE": "metadata"}, [("epoch", "VAR_TYPE")], "must be support_data"),
    ],
)
def test_a_broken_variable_is_named(
    demo_cdf: Path,
    tmp_path: Path,
    variable: str,
    changes: dict[str, str | None],
    expected: list[tuple[str, str]],
    words: str,
) -> None:
    copy = rewrite(
        demo_cdf, tmp_path / "copy.cdf", change_variables=variable_change(variable, **changes)
    )
    problems = check_istp(copy)
    assert found(problems) == expected
    assert words in problems[0].message
    assert str(problems[0]).startswith(f"{variable}.{expected[0][1]}: ")


def test_blank_units_are_dimensionless_not_missing(demo_cdf: Path, tmp_path: Path) -> None:
    change = variable_change("b_mag", UNITS=" ")
    assert check_istp(rewrite(demo_cdf, tmp_path / "copy.cdf", change_variables=change)) == []


def test_form_ptr_and_labl_ptr_stand_for_format_and_lablaxis(
    demo_cdf: Path, tmp_path: Path
) -> None:
    change = variable_change("b_mag", FORMAT=None, LABLAXIS=None, FORM_PTR="b_gse_label")
    change_more = variable_change("b_mag", LABL_PTR_1="b_gse_label")

    def both(attrs: dict[str, Attributes]) -> None:
        change(attrs)
        change_more(attrs)

    assert check_istp(rewrite(demo_cdf, tmp_path / "copy.cdf", change_variables=both)) == []


def unreadable(problems: list[IstpProblem]) -> None:
    assert found(problems) == [(None, "file")]
    assert problems[0].message.startswith("not a readable CDF: ")
    assert str(problems[0]).startswith("file: not a readable CDF: ")


def test_a_truncated_file_is_not_readable(demo_cdf: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.cdf"
    truncated.write_bytes(demo_cdf.read_bytes()[:5000])
    unreadable(check_istp(truncated))


def test_a_file_cut_in_its_last_records_is_not_readable(demo_cdf: Path, tmp_path: Path) -> None:
    content = rewrite(demo_cdf, tmp_path / "copy.cdf").read_bytes()
    cut = tmp_path / "cut.cdf"
    cut.write_bytes(content[:-200])  # the header opens, the records are cut
    unreadable(check_istp(cut))


def test_a_file_that_is_no_cdf_is_not_readable(tmp_path: Path) -> None:
    text = tmp_path / "notes.cdf"
    text.write_text("demo_mag_l2_1s-gse_20250101 v1.0.0\n", encoding="utf-8")
    unreadable(check_istp(text))
    unreadable(check_istp(tmp_path / "absent.cdf"))
