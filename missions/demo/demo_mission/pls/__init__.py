"""Plasma analyzer: one module per processing level."""
