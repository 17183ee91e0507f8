"""Ingest: three doors (CLI, upload, drop box), one path to the archive or quarantine."""

from socstack.ingest.results import IngestResult, Outcome
from socstack.ingest.service import Ingestor
from socstack.ingest.watcher import DropBox

__all__ = ["DropBox", "IngestResult", "Ingestor", "Outcome"]
