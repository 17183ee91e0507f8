"""Jobs as the pipeline's system of record: claims, heartbeats, dispatch; planner cursor

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    """Apply the revision."""
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("outputs", _JSON, nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("quality", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(
            sa.Column("queue", sa.String(length=64), nullable=False, server_default="processing")
        )
        batch_op.add_column(sa.Column("timeout", sa.Float(), nullable=False, server_default="600"))
        batch_op.add_column(sa.Column("reason", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("input_arrival", sa.DateTime(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_jobs_status_dispatched_at"), ["status", "dispatched_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_jobs_mission_rule_partition"),
            ["mission", "rule", "partition"],
            unique=False,
        )
    op.create_table(
        "planner_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_planner_state")),
    )


def downgrade() -> None:
    """Revert the revision."""
    op.drop_table("planner_state")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_mission_rule_partition"))
        batch_op.drop_index(batch_op.f("ix_jobs_status_dispatched_at"))
        for column in (
            "input_arrival",
            "heartbeat_at",
            "retry_at",
            "dispatched_at",
            "reason",
            "timeout",
            "queue",
            "quality",
            "outputs",
        ):
            batch_op.drop_column(column)
