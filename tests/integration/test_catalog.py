"""The catalog on SQLite and the real PostgreSQL: schema, time handling, event order."""

from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import StatementError

from socstack._exceptions import CatalogError, ConfigError
from socstack.catalog.db import Catalog, normalize_url
from socstack.catalog.events import append_event
from socstack.catalog.migrate import current_revision, ensure_current, head_revision, upgrade
from socstack.catalog.models import Base, Event
from socstack.catalog.queries import events_after


def test_migrations_match_the_models(database_url: str) -> None:
    catalog = Catalog(database_url)
    assert current_revision(catalog) == head_revision()
    ensure_current(catalog)
    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert upgrade(catalog) == head_revision(), "upgrading twice is harmless"
    catalog.dispose()


def test_times_are_utc_in_and_out(database_url: str) -> None:
    catalog = Catalog(database_url)
    at = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with catalog.transaction() as session:
        session.add(Event(kind="test", subject="x", payload={}, at=at))
    with catalog.session() as session:
        (event,) = events_after(session, 0, limit=10)
    assert event.at == dt.datetime(2025, 1, 1, 10, 0, tzinfo=dt.UTC)
    with (
        pytest.raises((StatementError, CatalogError), match="naive datetime"),
        catalog.transaction() as session,
    ):
        session.add(Event(kind="test", subject="y", payload={}, at=dt.datetime(2025, 1, 1)))
    catalog.dispose()


def test_an_embedded_catalog_is_migrated_on_first_use(tmp_path) -> None:
    fresh = Catalog(f"sqlite:///{tmp_path}/fresh/catalog.sqlite")
    ensure_current(fresh)
    assert current_revision(fresh) == head_revision()
    fresh.dispose()
    older = Catalog(f"sqlite:///{tmp_path}/older.sqlite")
    upgrade(older, "0003")
    ensure_current(older)
    assert current_revision(older) == head_revision(), "an older schema is brought up too"
    older.dispose()


@pytest.mark.integration
def test_an_unmigrated_postgresql_catalog_is_refused(empty_postgres_database: str) -> None:
    catalog = Catalog(empty_postgres_database)
    with pytest.raises(CatalogError, match=r"is not migrated.*run `socstack db upgrade`$"):
        ensure_current(catalog)
    assert current_revision(catalog) is None, "a server database is migrated only on purpose"
    upgrade(catalog, "0003")
    with pytest.raises(CatalogError, match="is at schema 0003, and this socstack needs"):
        ensure_current(catalog)
    catalog.dispose()


def test_database_urls() -> None:
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("postgres://u@h/db").startswith("postgresql+psycopg://")
    with pytest.raises(ConfigError, match="unsupported database 'mysql'"):
        normalize_url("mysql://u@h/db")
    with pytest.raises(ConfigError, match="not a database URL"):
        normalize_url("nonsense")


def test_a_catalog_that_is_down_is_a_catalog_error() -> None:
    catalog = Catalog("postgresql://postgres@127.0.0.1:1/none")
    with pytest.raises(CatalogError, match="catalog unavailable"):
        catalog.ping()
    with pytest.raises(CatalogError), catalog.session() as session:
        events_after(session, 0, limit=1)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_readers_following_last_id_never_skip_an_event(database_url: str) -> None:
    """Writers commit in random order; a reader polling ``after=last_id`` sees every id."""
    catalog = Catalog(database_url)
    writers, per_writer = 6, 15
    seen: list[int] = []
    done = threading.Event()

    def write(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(per_writer):
            with catalog.transaction() as session:
                append_event(catalog, session, "test", f"w{seed}", {})
                session.flush()
                time.sleep(rng.uniform(0, 0.01))  # hold the transaction open a while

    def read() -> None:
        last = 0
        while not done.is_set() or len(seen) < writers * per_writer:
            with catalog.session() as session:
                batch = events_after(session, last, limit=1000)
            for event in batch:
                seen.append(event.id)
                last = event.id
            if done.is_set() and not batch:
                break
            time.sleep(0.001)

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=30)
    with catalog.session() as session:
        every = [e.id for e in events_after(session, 0, limit=10_000)]
    assert len(every) == writers * per_writer
    assert seen == every, "the reader skipped or reordered an event"
    catalog.dispose()
