"""Notifications: channels, the outbox of their deliveries, and what jobs need for job.silent and job.recovered.

notification_channels: where events go (url, the event types, an optional list of jobs, the signing secret, the
body's format, enabled). notification_deliveries: one row per event and channel, written in the transaction of the
event (UNIQUE(channel_id, event_id)), with the state of its delivery (pending, delivered, failed; attempts, the
next attempt's instant, the last error and status code).

Jobs gain their silence watch (expect_success_within_seconds, and success_expected_by: when the next success is
due, indexed for the sweep) and failing_since (the start of the current streak of failed slots).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
# JSONB on PostgreSQL, JSON text elsewhere (as the models' JsonDoc).
JSON_DOC = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("scheduled_job") as job:
        job.add_column(sa.Column("failing_since", TIMESTAMP, nullable=True))
        job.add_column(sa.Column("expect_success_within_seconds", sa.Integer(), nullable=True))
        job.add_column(sa.Column("success_expected_by", TIMESTAMP, nullable=True))
    # Jobs failing at the upgrade (their count of failed slots is running): their next success is a recovery. When
    # the streak began is not recorded anywhere: it began at the upgrade at the latest.
    op.execute(sa.text("UPDATE scheduled_job SET failing_since = CURRENT_TIMESTAMP WHERE consecutive_failures > 0"))
    op.create_index(
        "ix_scheduled_job_silence",
        "scheduled_job",
        ["success_expected_by"],
        postgresql_where=sa.text("success_expected_by IS NOT NULL"),
        sqlite_where=sa.text("success_expected_by IS NOT NULL"),
    )

    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", JSON_DOC, nullable=False),
        sa.Column("job_ids", JSON_DOC, nullable=True),
        sa.Column("secret", sa.String(length=255), nullable=True),
        sa.Column("format", sa.String(length=10), server_default="json", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
    )
    op.create_table(
        "notification_deliveries",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("payload", JSON_DOC, nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notification_channels.id"],
            name=op.f("fk_notification_deliveries_channel_id_notification_channels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint("channel_id", "event_id", name=op.f("uq_notification_deliveries_channel_id_event_id")),
    )
    op.create_index(
        "ix_notification_deliveries_due",
        "notification_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_index("ix_notification_deliveries_channel_history", "notification_deliveries", ["channel_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_notification_deliveries_channel_history", table_name="notification_deliveries")
    op.drop_index("ix_notification_deliveries_due", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
    op.drop_table("notification_channels")
    op.drop_index("ix_scheduled_job_silence", table_name="scheduled_job")
    with op.batch_alter_table("scheduled_job") as job:
        job.drop_column("success_expected_by")
        job.drop_column("expect_success_within_seconds")
        job.drop_column("failing_since")
