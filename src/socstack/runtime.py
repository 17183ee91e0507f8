"""The objects a socstack process works with, built once from its settings.

Entry points (CLI commands, the API app, workers) build a :class:`Runtime` and pass it
down; nothing below reads settings or opens engines on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from socstack.archive.store import Store, storage_options
from socstack.catalog.db import Catalog
from socstack.config import Settings
from socstack.mission.loader import MissionRegistry, load_missions

if TYPE_CHECKING:
    from socstack.access.service import Access
    from socstack.ingest.service import Ingestor

__all__ = ["Runtime"]


@dataclass
class Runtime:
    """Settings plus the catalog, the stores and the missions they name."""

    settings: Settings

    @cached_property
    def catalog(self) -> Catalog:
        """The catalog database."""
        return Catalog(self.settings.database_url)

    @cached_property
    def archive(self) -> Store:
        """The archive store."""
        return self._store(self.settings.archive_url)

    @cached_property
    def quarantine(self) -> Store:
        """Where rejected files are kept."""
        return self._store(self.settings.quarantine_url)

    def _store(self, url: str) -> Store:
        options = storage_options(url, s3_endpoint_url=self.settings.s3_endpoint_url)
        return Store(url, fsync=self.settings.archive_fsync, storage_options=options)

    @cached_property
    def missions(self) -> MissionRegistry:
        """Every configured mission."""
        return load_missions(self.settings.missions, queues=self.settings.queues)

    @cached_property
    def access(self) -> Access:
        """Accounts, releases and the one authorization function."""
        from socstack.access.service import Access

        return Access(self.catalog, self.missions, self.settings)

    @cached_property
    def ingestor(self) -> Ingestor:
        """The ingest path every door uses."""
        from socstack.ingest.service import Ingestor

        return Ingestor(self.catalog, self.archive, self.quarantine, self.missions)

    def close(self) -> None:
        """Release database connections."""
        if "catalog" in self.__dict__:
            self.catalog.dispose()
