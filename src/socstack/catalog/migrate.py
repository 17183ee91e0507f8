"""Schema migrations with Alembic, run from code (``socstack db upgrade``, ``socstack up``).

The migration scripts ship inside the package, so an installed socstack (a container
image) migrates without an ``alembic.ini``. Concurrent upgrades (two containers starting
at once) are serialised with an advisory lock on PostgreSQL and by SQLite's own write
lock. Commands that use the catalog call :func:`ensure_current` first: an embedded
(SQLite) catalog is migrated on first use, a PostgreSQL one must be migrated on purpose.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
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
    """Make sure the catalog's schema is the one this code needs, before a command uses it.

    On SQLite (embedded mode) the catalog is a file in the data folder that this process
    owns, and a fresh folder must just work: it is migrated now, as ``socstack up``
    does (SQLite's write lock serialises processes that start at once). A server
    database (PostgreSQL) is shared by every service of a deployment, and changing its
    schema is an operator's deliberate step (the migration job, ``socstack db upgrade``),
    never a side effect of whichever process starts first: there a catalog at another
    revision is refused with one line saying what to run.

    Raises
    ------
    CatalogError
        The server database is not at the code's revision, or the catalog is
        unreachable, or the migration failed.
    """
    current, head = current_revision(catalog), head_revision()
    if current == head:
        return
    if catalog.dialect == "sqlite":
        logger.info("migrating the embedded catalog from %s to %s", current or "nothing", head)
        upgrade(catalog)
        return
    where = make_url(catalog.url).render_as_string(hide_password=True)
    state = "is not migrated" if current is None else f"is at schema {current}"
    raise CatalogError(
        f"the catalog {where} {state}, and this socstack needs {head}: run `socstack db upgrade`"
    )
