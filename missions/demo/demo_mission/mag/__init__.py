"""Fluxgate magnetometer: one module per processing level."""
