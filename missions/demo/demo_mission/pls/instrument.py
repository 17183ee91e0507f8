"""Constants of the plasma analyzer, shared by the simulator and the processing."""

from __future__ import annotations

import numpy as np

STEPS = 32
#: Energy per charge at the centre of each step (eV/q), log-spaced, ascending.
ENERGIES = np.geomspace(10.0, 20_000.0, STEPS)
_RATIO = ENERGIES[1] / ENERGIES[0]
#: Lower and upper edges of each step: the geometric midpoints between centres.
ENERGY_MIN = ENERGIES / np.sqrt(_RATIO)
ENERGY_MAX = ENERGIES * np.sqrt(_RATIO)
SWEEP_SECONDS = 4.0
#: Time spent on each energy step of a sweep (s).
STEP_SECONDS = SWEEP_SECONDS / STEPS
#: Geometric factor of the analyzer (cm^2 sr eV/eV).
GEOMETRIC_FACTOR = 5.0e-4
MOMENTS = ("density", "vx", "vy", "vz", "temperature")
VELOCITY_SENSOR_LABELS = ("Vx sensor", "Vy sensor", "Vz sensor")
VELOCITY_GSE_LABELS = ("Vx GSE", "Vy GSE", "Vz GSE")
FILL = -1.0e31


def energy_flux(counts: np.ndarray, efficiency: np.ndarray) -> np.ndarray:
    """Differential energy flux, eV/(cm^2 s sr eV), from counts per step."""
    return counts / (GEOMETRIC_FACTOR * efficiency * STEP_SECONDS)
