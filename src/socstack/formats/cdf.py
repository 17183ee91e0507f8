"""NASA Common Data Format files, read with cdflib, carrying ISTP attributes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from socstack._exceptions import FormatError
from socstack.formats.base import Inspection, Reader, ReaderOptions

if TYPE_CHECKING:
    import xarray as xr

    from socstack.mission.model import Product

__all__ = ["CdfOptions", "CdfReader"]


class CdfOptions(ReaderOptions):
    """Options of a ``cdf`` product."""

    time_variable: str = "epoch"
    variables: list[str] = Field(default_factory=list, description="Variables the file must hold.")


def _open(path: Path):
    import cdflib

    try:
        return cdflib.CDF(path)
    except Exception as exc:  # cdflib raises OSError, ValueError, struct.error ... on bad files
        raise FormatError(f"does not open as CDF: {exc}") from exc


def _to_utc(values: np.ndarray) -> list[dt.datetime]:
    import cdflib

    times = cdflib.cdfepoch.to_datetime(values)
    return [
        dt.datetime.fromtimestamp(t.astype("datetime64[ns]").astype(np.int64) / 1e9, dt.UTC)
        for t in (times.min(), times.max())
    ]


class CdfReader(Reader):
    """Reader of CDF files with a time variable (CDF_TIME_TT2000 or CDF_EPOCH)."""

    name = "cdf"
    options_model = CdfOptions

    def inspect(self, path: Path, product: Product) -> Inspection:
        """Open, check the expected variables and read the time variable."""
        options: CdfOptions = product.format_options
        if path.stat().st_size == 0:
            raise FormatError("empty file")
        cdf = _open(path)
        try:
            info = cdf.cdf_info()
            names = set(info.zVariables) | set(info.rVariables)
            missing = [v for v in (options.time_variable, *options.variables) if v not in names]
            if missing:
                raise FormatError(f"lacks variable(s) {', '.join(missing)}")
            epochs = np.atleast_1d(cdf.varget(options.time_variable))
        except FormatError:
            raise
        except Exception as exc:
            raise FormatError(f"unreadable CDF content: {exc}") from exc
        if epochs.size == 0:
            return Inspection(records=0)
        start, stop = _to_utc(epochs)
        return Inspection(records=int(epochs.size), start=start, stop=stop)

    def read(self, path: Path, product: Product) -> xr.Dataset:
        """The whole file as a Dataset; the time variable becomes ``epoch``."""
        from cdflib.xarray import cdf_to_xarray

        options: CdfOptions = product.format_options
        try:
            dataset = cdf_to_xarray(str(path), to_datetime=True)
        except Exception as exc:
            raise FormatError(f"does not open as CDF: {exc}") from exc
        if options.time_variable != "epoch" and options.time_variable in dataset:
            dataset = dataset.rename({options.time_variable: "epoch"})
        return dataset
