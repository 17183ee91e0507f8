"""Solar-wind parameters that need both instruments."""
