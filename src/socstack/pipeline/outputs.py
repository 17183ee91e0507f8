"""Write what a processing function returned as the product's file."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from socstack._exceptions import SocError
from socstack.formats.cdf import CdfOptions, write_cdf
from socstack.mission.model import Product, Rule
from socstack.mission.versions import Version

__all__ = ["write_output"]


def write_output(
    product: Product,
    value: Any,
    path: Path,
    *,
    rule: Rule,
    version: Version,
    parents: list[str],
) -> Path:
    """Write ``value`` to ``path`` (a CDF for Datasets; a copy for files) and return it."""
    import xarray as xr

    if isinstance(value, Path | str):
        source = Path(value)
        if not source.is_file():
            raise SocError(
                f"rule {rule.id} returned {source} for {product.id}, which is not a file"
            )
        shutil.copyfile(source, path)
        return path
    if not isinstance(value, xr.Dataset):
        raise SocError(f"rule {rule.id} returned {type(value).__name__} for {product.id}")
    if product.format != "cdf":
        raise SocError(
            f"rule {rule.id} returned a Dataset for {product.id}, a {product.format} product"
        )
    options: CdfOptions = product.format_options
    generated = {
        "Logical_file_id": path.stem,
        "Logical_source": "_".join(
            (product.mission, product.instrument, product.level, product.descriptor)
        ),
        "Data_version": str(version),
        "Generation_date": dt.datetime.now(dt.UTC).strftime("%Y%m%d"),
        "Software_version": rule.code_version,
        "Parents": list(parents) or None,
    }
    write_cdf(
        value,
        path,
        global_attributes={
            **options.global_attributes,
            **{k: v for k, v in generated.items() if v},
        },
        variable_attributes=options.variable_attributes,
    )
    return path
