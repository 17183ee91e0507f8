"""initial catalog: files, provenance, jobs, events, quarantine

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply the revision."""
    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_kind"), ["kind"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("dependency_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "blocked",
                "queued",
                "running",
                "succeeded",
                "failed",
                "timed_out",
                name="jobstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "inputs",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "missing",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("code_version", sa.String(length=32), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("worker", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("log_tail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint(
            "mission",
            "rule",
            "partition",
            "dependency_hash",
            name=op.f("uq_jobs_mission_rule_partition_dependency_hash"),
        ),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobs_status"), ["status"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "cli",
                "upload",
                "dropbox",
                "harvest",
                "pipeline",
                name="filesource",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=True),
        sa.Column("product", sa.String(length=64), nullable=True),
        sa.Column("quarantined_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quarantine_quarantined_at"), ["quarantined_at"], unique=False
        )

    op.create_table(
        "files",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("mission", sa.String(length=32), nullable=False),
        sa.Column("product", sa.String(length=64), nullable=False),
        sa.Column("instrument", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=32), nullable=False),
        sa.Column("descriptor", sa.String(length=64), nullable=False),
        sa.Column("partition", sa.String(length=32), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=True),
        sa.Column("stop", sa.DateTime(), nullable=True),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("version_major", sa.Integer(), nullable=False),
        sa.Column("version_minor", sa.Integer(), nullable=False),
        sa.Column("version_patch", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uri", sa.String(length=1024), nullable=False),
        sa.Column("records", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "archived",
                "superseded",
                "quarantined",
                name="filestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "cli",
                "upload",
                "dropbox",
                "harvest",
                "pipeline",
                name="filesource",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("ingested_at", sa.DateTime(), nullable=False),
        sa.Column("job_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("code_version", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_files_job_id_jobs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
        sa.UniqueConstraint("name", name=op.f("uq_files_name")),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_files_ingested_at"), ["ingested_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_files_mission_instrument_level_status"),
            ["mission", "instrument", "level", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_files_mission_product_partition"),
            ["mission", "product", "partition"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_files_start_stop"), ["start", "stop"], unique=False)

    op.create_table(
        "provenance",
        sa.Column(
            "output_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("input_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(
            ["input_id"], ["files.id"], name=op.f("fk_provenance_input_id_files")
        ),
        sa.ForeignKeyConstraint(
            ["output_id"], ["files.id"], name=op.f("fk_provenance_output_id_files")
        ),
        sa.PrimaryKeyConstraint("output_id", "input_id", name=op.f("pk_provenance")),
    )
    with op.batch_alter_table("provenance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_provenance_input_id"), ["input_id"], unique=False)


def downgrade() -> None:
    """Revert the revision."""
    with op.batch_alter_table("provenance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_provenance_input_id"))

    op.drop_table("provenance")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_start_stop"))
        batch_op.drop_index(batch_op.f("ix_files_mission_product_partition"))
        batch_op.drop_index(batch_op.f("ix_files_mission_instrument_level_status"))
        batch_op.drop_index(batch_op.f("ix_files_ingested_at"))

    op.drop_table("files")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_quarantined_at"))

    op.drop_table("quarantine")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_status"))

    op.drop_table("jobs")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_kind"))

    op.drop_table("events")
