"""Constants of the magnetometer, shared by the simulator and the processing."""

from __future__ import annotations

import numpy as np

VECTORS_PER_PACKET = 60
AXES = ("x", "y", "z")
SENSOR_LABELS = ("Bx sensor", "By sensor", "Bz sensor")
GSE_LABELS = ("Bx GSE", "By GSE", "Bz GSE")
FILL = -1.0e31


def resolution(range_index: np.ndarray | int) -> np.ndarray:
    """nT per count in range ``k``: full scale 128 * 4^k nT over 32768 counts."""
    return 128.0 * 4.0 ** np.asarray(range_index, dtype=np.float64) / 32768.0
