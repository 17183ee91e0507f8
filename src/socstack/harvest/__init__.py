"""Harvest: peer HAPI datasets pulled day by day into the archive (ingest's third door)."""
