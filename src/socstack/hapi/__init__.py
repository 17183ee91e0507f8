"""The HAPI 3.3 server (Heliophysics API): metadata and data streamed from the archive."""
