"""Harvest from peer HAPI servers: sources and days

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply the revision."""
    op.create_table(
        "harvest_sources",
        sa.Column("id", _Id, nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("dataset", sa.String(length=128), nullable=False),
        sa.Column("info_hash", sa.String(length=64), nullable=False),
        sa.Column("interface", sa.Integer(), nullable=False),
        sa.Column("peer_modified", sa.String(length=40), nullable=False),
        sa.Column("conditional", sa.Boolean(), nullable=False),
        sa.Column("last_pass_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_sources")),
        sa.UniqueConstraint("mission", "product", name=op.f("uq_harvest_sources_mission_product")),
    )
    op.create_table(
        "harvest_days",
        sa.Column("id", _Id, nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("interface", sa.Integer(), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_harvest_days")),
        sa.UniqueConstraint(
            "mission",
            "product",
            "partition",
            name=op.f("uq_harvest_days_mission_product_partition"),
        ),
    )
    op.create_index(
        op.f("ix_harvest_days_mission_product_status"),
        "harvest_days",
        ["mission", "product", "status"],
        unique=False,
    )


def downgrade() -> None:
    """Revert the revision."""
    op.drop_index(op.f("ix_harvest_days_mission_product_status"), table_name="harvest_days")
    op.drop_table("harvest_days")
    op.drop_table("harvest_sources")
