"""Jobs record the seconds spent in the rule's own code

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the revision."""
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_seconds", sa.Float(), nullable=True))


def downgrade() -> None:
    """Revert the revision."""
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("rule_seconds")
