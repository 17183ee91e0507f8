"""Event lists people make: uploaded catalogs and similarity searches

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply the revision."""
    op.create_table(
        "event_lists",
        sa.Column("id", _Id, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("job_id", _Id, nullable=True),
        sa.Column("request", _Json, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.Column("stop", sa.DateTime(), nullable=True),
        sa.Column("reads", _Json, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_event_lists_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_lists")),
        sa.UniqueConstraint("job_id", name=op.f("uq_event_lists_job_id")),
    )
    op.create_index(op.f("ix_event_lists_owner"), "event_lists", ["owner"], unique=False)
    op.create_index(op.f("ix_event_lists_created_at"), "event_lists", ["created_at"], unique=False)


def downgrade() -> None:
    """Revert the revision."""
    op.drop_index(op.f("ix_event_lists_created_at"), table_name="event_lists")
    op.drop_index(op.f("ix_event_lists_owner"), table_name="event_lists")
    op.drop_table("event_lists")
