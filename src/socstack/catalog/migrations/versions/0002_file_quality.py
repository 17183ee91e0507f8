"""files.quality: the rule quality level that made a pipeline output

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the revision."""
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quality", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Revert the revision."""
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_column("quality")
