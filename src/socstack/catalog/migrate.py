"""Schema migrations with Alembic, run from code (``socstack db upgrade``, ``socstack up``).

The migration scripts ship inside the package, so an installed socstack (a container
image) migrates without an ``alembic.ini``. Concurrent upgrades (two containers starting
at once) are serialised with an advisory lock on PostgreSQL and by SQLite's own write
lock.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from socstack._exceptions import CatalogError
from socstack.catalog.db import Catalog

__all__ = ["current_revision", "ensure_current", "head_revision", "upgrade"]

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK_KEY = 7_316_512_002


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None  # noqa: S101 - the package ships at least one revision
    return head


def current_revision(catalog: Catalog) -> str | None:
    """The revision the database is at (None if it was never migrated)."""
    try:
        with catalog.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        raise CatalogError(f"catalog unavailable: {exc}") from exc


def upgrade(catalog: Catalog, revision: str = "head") -> str | None:
    """Migrate the catalog to ``revision``; return the revision reached."""
    config = _config()
    writer = catalog.engine.execution_options(sqlite_immediate=True)
    try:
        with writer.begin() as connection:
            if catalog.dialect == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise CatalogError(f"migration failed: {exc}") from exc
    reached = current_revision(catalog)
    logger.info("catalog at revision %s", reached)
    return reached


def ensure_current(catalog: Catalog) -> None:
    """Refuse to serve on a catalog whose schema the code does not match."""
    current, head = current_revision(catalog), head_revision()
    if current != head:
        raise CatalogError(
            f"catalog schema is at {current or 'nothing'} but this socstack needs {head}:"
            " run `socstack db upgrade`"
        )
