"""Engines and sessions for the catalog, on SQLite (embedded) or PostgreSQL (cluster).

SQLite is opened in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE``: a transaction that reads and then writes would otherwise fail with
"database is locked" when another process wrote in between (SQLite cannot upgrade a
read lock while a writer is active). PostgreSQL URLs given as ``postgresql://`` use the
psycopg 3 driver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from socstack._exceptions import CatalogError, ConfigError

__all__ = ["Catalog", "normalize_url"]

logger = logging.getLogger(__name__)

# Any constant; it names the lock that orders event commits on PostgreSQL.
EVENT_LOCK_KEY = 7_316_512_001


def normalize_url(url: str) -> str:
    """Pick socstack's driver for a plain ``postgresql://`` URL; check the URL parses."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}", field="SOC_DATABASE_URL") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql",
            field="SOC_DATABASE_URL",
        )
    return parsed.render_as_string(hide_password=False)


def _reason(exc: SQLAlchemyError) -> str:
    """The driver's message, without SQLAlchemy's SQL echo and help links."""
    original = getattr(exc, "orig", None)
    return str(original if original is not None else exc).strip().splitlines()[0]


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the 'begin' hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Catalog:
    """The catalog database: one engine, read sessions and write transactions."""

    def __init__(self, url: str):
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(self.url)
            writer = self.engine.execution_options(sqlite_immediate=True)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            writer = self.engine
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(writer, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Catalog({make_url(self.url).render_as_string(hide_password=True)!r})"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session; database errors become :class:`CatalogError`."""
        try:
            with self._reader() as session:
                yield session
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog unavailable: {_reason(exc)}") from exc

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write transaction, committed on success and rolled back on any error."""
        try:
            with self._writer() as session, session.begin():
                yield session
        except IntegrityError:
            raise  # a constraint the caller expects (a concurrent insert of the same name)
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog write failed: {_reason(exc)}") from exc

    def lock_events(self, session: Session) -> None:
        """Serialise event commits so that event ids become visible in order.

        On PostgreSQL, ids come from a sequence when rows are inserted, not when
        transactions commit; without this lock a peer reading ``after=41`` could see 43
        before 42 commits and never see 42. SQLite already has one writer at a time.
        """
        if self.dialect == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_LOCK_KEY})

    def ping(self) -> None:
        """Check the database answers."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog unavailable: {exc}") from exc

    def dispose(self) -> None:
        """Close pooled connections (before a fork, or at exit)."""
        self.engine.dispose()
