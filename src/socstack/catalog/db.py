"""Engines and sessions for the catalog, on SQLite (embedded) or PostgreSQL (cluster).

SQLite is opened in WAL mode with a busy timeout, and write transactions start with
``BEGIN IMMEDIATE``: a transaction that reads and then writes would otherwise fail with
"database is locked" when another process wrote in between (SQLite cannot upgrade a
read lock while a writer is active). PostgreSQL URLs given as ``postgresql://`` use the
psycopg 3 driver.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.dml import ReturningInsert

from socstack._exceptions import CatalogError, ConfigError

__all__ = ["Catalog", "normalize_url"]

logger = logging.getLogger(__name__)

# Any constant; it names the lock that orders event commits on PostgreSQL.
EVENT_LOCK_KEY = 7_316_512_001
IDLE_PING_SECONDS = 10.0


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


def _ping_when_idle(engine: Engine, idle: float = IDLE_PING_SECONDS) -> None:
    """Check a pooled connection before use only if it sat idle for ``idle`` seconds.

    A connection used moments ago is alive; pinging it on every checkout (SQLAlchemy's
    ``pool_pre_ping``) would add a round trip to each transaction. One that sat idle may
    have been cut (a database restart, a firewall): a failed ping raises
    ``DisconnectionError``, and the pool replaces the connection transparently.
    """

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) > idle:
            try:
                alive = engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:  # any driver error means the connection is unusable
                raise DisconnectionError(str(exc)) from exc
            if not alive:
                raise DisconnectionError("ping failed")

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()


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
            reader = self.engine
        else:
            self.engine = create_engine(self.url, pool_size=5, max_overflow=10)
            _ping_when_idle(self.engine)
            writer = self.engine
            # Reads need no transaction of their own: autocommit saves BEGIN and ROLLBACK
            # round trips on every lookup.
            reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._inserts: dict[tuple[Any, ...], ReturningInsert[tuple[int]]] = {}
        self._read_engine = reader
        self._reader = sessionmaker(reader, expire_on_commit=False)
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
    def connect(self) -> Iterator[Connection]:
        """A plain read connection (no ORM), for hot lookups."""
        try:
            with self._read_engine.connect() as connection:
                yield connection
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

    def insert(
        self,
        session: Session,
        table: type[Any],
        values: dict[str, Any],
        *,
        lock: str | None = None,
        events: bool = False,
    ) -> int:
        """Insert one row, first taking transaction-long locks (PostgreSQL); return its id.

        ``lock`` names a lock (ingest locks the partition it writes, so two versions of
        one partition arriving at once are compared rather than both archived as the
        newest). ``events`` takes the event lock: PostgreSQL draws ids from a sequence
        at insert, not at commit, so without it a peer reading ``after=41`` could see 43
        before 42 commits and never see 42. The locks are taken inside the INSERT, in
        the same round trip, before its row (and id) is made; statements after it see
        everything committed before the locks were granted. SQLite has one writer at a
        time and needs none of this. Statements are built once per shape and reused.
        """
        columns = tuple(values)
        shape = (table, columns, lock is not None, events)
        statement = self._inserts.get(shape)
        if statement is None:
            statement = self._insert_statement(table, columns, lock is not None, events)
            self._inserts[shape] = statement
        params = dict(values)
        if lock is not None:
            params["lock_name_"] = lock
        return int(session.execute(statement, params).scalar_one())

    def _insert_statement(
        self, table: type[Any], columns: tuple[str, ...], lock: bool, events: bool
    ) -> ReturningInsert[tuple[int]]:
        core = table.__table__  # the Table, not the entity: a plain INSERT, not an ORM bulk one
        types = core.c
        if self.dialect != "postgresql" or not (lock or events):
            binds = {name: bindparam(name, type_=types[name].type) for name in columns}
            return insert(core).values(binds).returning(types.id)
        gates = []
        if lock:
            name = bindparam("lock_name_", type_=String())
            gates.append(func.pg_advisory_xact_lock(func.hashtextextended(name, 0)))
        if events:
            gates.append(func.pg_advisory_xact_lock(EVENT_LOCK_KEY))
        gate = select(*(g.label(f"gate{i}") for i, g in enumerate(gates))).subquery("gate")
        row = select(*(bindparam(name, type_=types[name].type) for name in columns))
        return insert(core).from_select(list(columns), row.select_from(gate)).returning(types.id)

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
