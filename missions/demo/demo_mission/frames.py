"""Sensor frames of the demo spacecraft.

The spacecraft is three-axis stabilised and sun-pointing, so each sensor's frame is a
fixed rotation of GSE. The simulator turns true GSE vectors into sensor vectors with
these matrices; L2 processing turns them back.
"""

from __future__ import annotations

import numpy as np


def _rotation(z_deg: float, y_deg: float, x_deg: float) -> np.ndarray:
    z, y, x = np.radians([z_deg, y_deg, x_deg])
    rz = np.array([[np.cos(z), -np.sin(z), 0], [np.sin(z), np.cos(z), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    return rz @ ry @ rx


#: Rotate a magnetometer-sensor vector into GSE: ``v_gse = MAG_TO_GSE @ v_sensor``.
MAG_TO_GSE = _rotation(135.0, 20.0, -10.0)
#: Rotate a plasma-analyzer vector into GSE.
PLS_TO_GSE = _rotation(180.0, 0.0, 15.0)


def to_gse(vectors: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate (n, 3) sensor vectors into GSE."""
    return vectors @ rotation.T


def to_sensor(vectors: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Rotate (n, 3) GSE vectors into the sensor frame."""
    return vectors @ rotation
