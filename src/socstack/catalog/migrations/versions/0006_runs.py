"""Notebook runs: what a run has beside its job

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply the revision."""
    op.create_table(
        "runs",
        sa.Column("id", _Id, nullable=False),
        sa.Column("job_id", _Id, nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("notebook", sa.String(length=255), nullable=False),
        sa.Column("notebook_sha256", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("parameters", _Json, nullable=False),
        sa.Column("submitter", sa.String(length=64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("cells_done", sa.Integer(), nullable=False),
        sa.Column("cells_total", sa.Integer(), nullable=False),
        sa.Column("outputs", _Json, nullable=False),
        sa.Column("reads", _Json, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("token_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_runs_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("job_id", name=op.f("uq_runs_job_id")),
    )
    op.create_index(op.f("ix_runs_submitter"), "runs", ["submitter"], unique=False)
    op.create_index(op.f("ix_runs_submitted_at"), "runs", ["submitted_at"], unique=False)


def downgrade() -> None:
    """Revert the revision."""
    op.drop_index(op.f("ix_runs_submitted_at"), table_name="runs")
    op.drop_index(op.f("ix_runs_submitter"), table_name="runs")
    op.drop_table("runs")
