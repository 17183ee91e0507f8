"""Alembic environment: migrations run on the connection socstack hands over."""

from alembic import context

from socstack.catalog.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - socstack always passes its connection
    raise RuntimeError("run migrations with `socstack db upgrade`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite alters tables by copying them
    compare_type=True,
)
context.run_migrations()
