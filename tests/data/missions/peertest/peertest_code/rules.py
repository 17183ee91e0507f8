"""An hourly mean of a harvested field: a rule over a product no instrument of ours made."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from socstack.formats.cdf import read_variables
from socstack.pipeline.context import RuleContext


def hourly(context: RuleContext) -> Path:
    """The mean |B| of each hour of the day."""
    found = read_variables(context.one("mag").path, ["epoch", "B_mag"])
    hours = found["epoch"].astype("datetime64[h]") - found["epoch"][0].astype("datetime64[D]")
    hour = hours.astype(np.int64)
    values = np.where(found["B_mag"] < -1e30, np.nan, found["B_mag"])
    path = context.scratch / "hourly.csv"
    lines = ["hour,b_mag"]
    for h in np.unique(hour):
        lines.append(f"{h},{np.nanmean(values[hour == h]):.6f}")
    path.write_text("\n".join(lines) + "\n")
    return path
