"""The data-center REST API (FastAPI)."""
