"""Run control: retries, overlap policies, pause after failures, cancel and re-run, backfill, honest run times.

Jobs gain their retry policy (max_retries, retry_delay_seconds, retry_backoff_factor, retry_max_delay_seconds),
overlap_policy (skip | queue | replace), pause_after_failures with the counter it reads (consecutive_failures)
and the reason a job paused itself (paused_reason).

Executions gain their attempt (1-based; a slot's attempts share job_id and scheduled_at, so the slot's unique key
takes the attempt), the slot's first attempt (first_execution_id, NULL on a first attempt) and the attempt that
retried this one (retried_by), claimed_at (the claim's instant; started_at becomes the task's real start),
queued_at and release_at (a run held back: status 8 `waiting`), rerun_of, and a cancellation request
(cancel_requested_at, cancelled_by) with its outcome, status 7 `cancelled`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Lookup rows copied here, not imported from the models: a migration must not change when the code does.
NEW_STATUSES = [
    {"id": 7, "name": "cancelled", "name_en": "Cancelled", "name_ar": "ملغى"},
    {"id": 8, "name": "waiting", "name_en": "Waiting", "name_ar": "مؤجل"},
]
EXECUTION = "scheduled_job_execution"
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    status = sa.table("scheduler_execution_status", *(sa.column(c) for c in ("id", "name", "name_en", "name_ar")))
    op.bulk_insert(status, NEW_STATUSES)

    with op.batch_alter_table("scheduled_job") as job:
        job.add_column(sa.Column("max_retries", sa.Integer(), server_default="0", nullable=False))
        job.add_column(sa.Column("retry_delay_seconds", sa.Integer(), server_default="10", nullable=False))
        job.add_column(sa.Column("retry_backoff_factor", sa.Float(), server_default="2.0", nullable=False))
        job.add_column(sa.Column("retry_max_delay_seconds", sa.Integer(), server_default="3600", nullable=False))
        job.add_column(sa.Column("overlap_policy", sa.String(length=10), server_default="skip", nullable=False))
        job.add_column(sa.Column("pause_after_failures", sa.Integer(), server_default="0", nullable=False))
        job.add_column(sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False))
        job.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))

    with op.batch_alter_table(EXECUTION) as execution:
        execution.add_column(sa.Column("attempt", sa.Integer(), server_default="1", nullable=False))
        execution.add_column(sa.Column("first_execution_id", sa.String(length=36), nullable=True))
        execution.add_column(sa.Column("retried_by", sa.String(length=36), nullable=True))
        execution.add_column(sa.Column("claimed_at", TIMESTAMP, nullable=True))
        execution.add_column(sa.Column("queued_at", TIMESTAMP, nullable=True))
        execution.add_column(sa.Column("release_at", TIMESTAMP, nullable=True))
        execution.add_column(sa.Column("rerun_of", sa.String(length=36), nullable=True))
        execution.add_column(sa.Column("cancel_requested_at", TIMESTAMP, nullable=True))
        execution.add_column(sa.Column("cancelled_by", sa.String(length=255), nullable=True))
        execution.drop_constraint("uq_scheduled_job_execution_job_id_scheduled_at", type_="unique")
        execution.create_unique_constraint(
            "uq_scheduled_job_execution_job_id_scheduled_at_attempt", ["job_id", "scheduled_at", "attempt"]
        )
    # Waiting runs whose time is known (retries, released queued runs), for the pass that releases them.
    op.create_index(
        "ix_scheduled_job_execution_waiting",
        EXECUTION,
        ["release_at"],
        postgresql_where=sa.text("status_id = 8"),
        sqlite_where=sa.text("status_id = 8"),
    )
    # Each job's queue (overlap_policy queue or replace): queued runs not yet running, in slot order.
    op.create_index(
        "ix_scheduled_job_execution_queue",
        EXECUTION,
        ["job_id", "scheduled_at"],
        postgresql_where=sa.text("queued_at IS NOT NULL AND status_id IN (1, 8)"),
        sqlite_where=sa.text("queued_at IS NOT NULL AND status_id IN (1, 8)"),
    )


def downgrade() -> None:
    op.drop_index("ix_scheduled_job_execution_queue", table_name=EXECUTION)
    op.drop_index("ix_scheduled_job_execution_waiting", table_name=EXECUTION)
    # Attempts after the first and held runs have no place in the old schema.
    op.execute(sa.text(f"DELETE FROM {EXECUTION} WHERE attempt > 1 OR status_id IN (7, 8)"))
    with op.batch_alter_table(EXECUTION) as execution:
        execution.drop_constraint("uq_scheduled_job_execution_job_id_scheduled_at_attempt", type_="unique")
        execution.create_unique_constraint("uq_scheduled_job_execution_job_id_scheduled_at", ["job_id", "scheduled_at"])
        for column in (
            "cancelled_by",
            "cancel_requested_at",
            "rerun_of",
            "release_at",
            "queued_at",
            "claimed_at",
            "retried_by",
            "first_execution_id",
            "attempt",
        ):
            execution.drop_column(column)
    with op.batch_alter_table("scheduled_job") as job:
        for column in (
            "paused_reason",
            "consecutive_failures",
            "pause_after_failures",
            "overlap_policy",
            "retry_max_delay_seconds",
            "retry_backoff_factor",
            "retry_delay_seconds",
            "max_retries",
        ):
            job.drop_column(column)
    op.execute(sa.text("DELETE FROM scheduler_execution_status WHERE id IN (7, 8)"))
