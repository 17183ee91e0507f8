"""Deliveries to long-term archives: each file delivered or held, per destination

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply the revision."""
    op.create_table(
        "deliveries",
        sa.Column("id", _Id, nullable=False),
        sa.Column("destination", sa.String(length=1024), nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "delivered",
                "held",
                name="deliverystatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("reasons", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "destination",
            "dataset",
            "name",
            "sha256",
            name=op.f("uq_deliveries_destination_dataset_name_sha256"),
        ),
    )
    op.create_index(
        op.f("ix_deliveries_destination_dataset_status"),
        "deliveries",
        ["destination", "dataset", "status"],
        unique=False,
    )


def downgrade() -> None:
    """Revert the revision."""
    op.drop_index(op.f("ix_deliveries_destination_dataset_status"), table_name="deliveries")
    op.drop_table("deliveries")
