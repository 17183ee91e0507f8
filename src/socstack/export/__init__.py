"""Deliveries to long-term archives: ISTP checks, SPASE, CloudCatalog."""
