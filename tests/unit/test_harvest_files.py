"""A harvested day's CDF, written from the decoded arrays without an xarray Dataset.

The direct path must write the file the Dataset path writes (the same bytes: what the
archive, HAPI and ISTP checks saw before), and that file must pass the ISTP check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cdflib
import numpy as np
import pytest
import xarray as xr

from socstack.client.hapi import Table
from socstack.export.istp import check_istp
from socstack.formats.cdf import RECORD_DIM, write_cdf, write_cdf_variables
from socstack.harvest.files import attributes_for, day_variables
from socstack.mission import load_missions
from socstack.times import parse_time
from tests.conftest import REPO

PEERTEST = REPO / "tests" / "data" / "missions" / "peertest"
NAMES = ["B_GSE", "B_mag", "spectrum", "quality", "count"]
INFO: dict[str, Any] = {
    "description": "A peer's field",
    "contact": "someone@peer.example",
    "parameters": [
        {"name": "Time", "type": "isotime", "length": 24, "units": "UTC", "fill": None},
        {"name": "B_GSE", "type": "double", "size": [3], "units": "nT", "fill": "-1e31",
         "label": ["Bx", "By", "Bz"], "description": "Field in GSE"},
        {"name": "B_mag", "type": "double", "units": "nT", "fill": "NaN"},
        {"name": "spectrum", "type": "double", "size": [4], "units": "counts", "fill": None,
         "bins": [{"name": "energy", "units": "eV", "centers": [10.0, 20.0, 40.0, 80.0]}]},
        {"name": "quality", "type": "string", "length": 4, "units": None, "fill": None},
        {"name": "count", "type": "integer", "units": None, "fill": "-1"},
    ],
}  # fmt: skip


def _table() -> Table:
    rows = 5
    field = np.asfortranarray(np.arange(rows * 3, dtype=np.float64).reshape(rows, 3))
    field[2, 1] = np.nan
    magnitude = np.linspace(1.0, 2.0, rows)
    magnitude[4] = np.nan
    return Table(
        parse_time("2025-01-01") + np.arange(rows, dtype=np.int64) * 10**9,
        {
            "B_GSE": field,
            "B_mag": magnitude,
            "spectrum": np.asfortranarray(np.ones((rows, 4))),
            "quality": np.array([b"good", b"bad", b"good", b"ok", b"good"], dtype="S4"),
            "count": np.arange(rows, dtype="<i4"),
        },
    )


def _attributes(
    names: list[str] = NAMES,
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    product = load_missions([PEERTEST]).mission("peertest").products["mag"]
    return attributes_for(
        product, INFO, names, url="http://peer.example/hapi", dataset="peer_mag",
        file_stem="peertest_peer_l2_mag_20250101_v1.0.0", version="1.0.0",
    )  # fmt: skip


def _through_a_dataset(table: Table, path: Path) -> None:
    """The day as the harvester wrote it before: an xarray Dataset, then write_cdf."""
    variables = day_variables(INFO, NAMES, table)
    dataset = xr.Dataset(
        {n: (v.dims, v.values) for n, v in variables.items() if n != RECORD_DIM},
        coords={RECORD_DIM: table.time.astype("datetime64[ns]")},
    )
    global_attributes, variable_attributes = _attributes()
    write_cdf(
        dataset,
        path,
        global_attributes=global_attributes,
        variable_attributes=variable_attributes,
    )


def _directly(table: Table, path: Path, names: list[str] = NAMES) -> None:
    global_attributes, variable_attributes = _attributes(names)
    write_cdf_variables(
        day_variables(INFO, names, table),
        path,
        global_attributes=global_attributes,
        variable_attributes=variable_attributes,
    )


def test_the_direct_file_is_the_datasets_byte_for_byte(tmp_path: Path) -> None:
    table = _table()
    _through_a_dataset(table, tmp_path / "dataset.cdf")
    _directly(table, tmp_path / "direct.cdf")
    assert (tmp_path / "direct.cdf").read_bytes() == (tmp_path / "dataset.cdf").read_bytes()


def test_the_direct_file_passes_istp_and_holds_the_records(tmp_path: Path) -> None:
    table = _table()
    path = tmp_path / "day.cdf"
    # The measurements (attributes_for gives text and integer parameters no ISTP range).
    _directly(table, path, ["B_GSE", "B_mag", "spectrum"])
    assert [str(p) for p in check_istp(path)] == []
    cdf = cdflib.CDF(path)
    assert cdf.varget("B_GSE")[2, 1] == -1.0e31  # NaN is the parameter's fill
    assert cdf.varget("B_mag")[4] == -1.0e31  # a NaN fill: ISTP's own
    assert np.array_equal(cdf.varget("B_GSE")[0], [0.0, 1.0, 2.0])
    assert cdf.varattsget("B_GSE")["LABL_PTR_1"] == "B_GSE_labl"
    assert cdf.varattsget("spectrum")["DEPEND_1"] == "spectrum_bins"
    epochs = cdflib.cdfepoch.to_datetime(cdf.varget(RECORD_DIM))
    assert (epochs.astype("datetime64[ns]").astype(np.int64) == table.time).all()


def test_the_table_is_written_as_it_came(tmp_path: Path) -> None:
    table = _table()
    before = {k: v.copy() for k, v in table.values.items()}
    _directly(table, tmp_path / "day.cdf")
    cdf = cdflib.CDF(tmp_path / "day.cdf")
    assert list(cdf.varget("quality")) == ["good", "bad", "good", "ok", "good"]
    assert cdf.varinq("count").Data_Type_Description == "CDF_INT4"
    for name, values in before.items():
        assert np.array_equal(table.values[name], values, equal_nan=values.dtype.kind == "f")


@pytest.mark.parametrize("name", ["B_GSE", "spectrum"])
def test_a_day_without_missing_values_keeps_its_arrays(name: str) -> None:
    table = _table()
    table.values[name][:] = 1.0
    assert day_variables(INFO, NAMES, table)[name].values is table.values[name]
