"""Magnetometer daily quicklook: the field in GSE and its magnitude."""

from __future__ import annotations

from pathlib import Path

from demo_mission.quicklook import figure, finish, masked
from socstack.pipeline.context import RuleContext


def process(context: RuleContext) -> Path:
    """A PNG of the day's L2 field."""
    data = context.one("mag_l2").read()
    epoch = data["epoch"].values
    field = masked(data["b_gse"].values)
    fig, axes = figure(2, f"demo magnetometer, {context.partition.isoformat()} (L2, GSE, 1 s)")
    for k, (label, color) in enumerate(
        zip(("Bx", "By", "Bz"), ("tab:blue", "tab:green", "tab:red"), strict=True)
    ):
        axes[0].plot(epoch, field[:, k], lw=0.6, color=color, label=label)
    axes[0].set_ylabel("B GSE (nT)")
    axes[0].legend(loc="upper right", ncol=3, fontsize="small")
    axes[1].plot(epoch, masked(data["b_mag"].values), lw=0.6, color="k")
    axes[1].set_ylabel("|B| (nT)")
    return finish(fig, axes, context.scratch / "quicklook.png")
