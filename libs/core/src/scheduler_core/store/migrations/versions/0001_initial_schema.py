"""Initial schema: the reference's seven tables plus the design's columns, and the lookup rows.

Revision ID: 0001
Revises:
Create Date: 2026-11-30 06:16:37.513581
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Lookup rows are copied here, not imported from the models: a migration must not change when the code does.
JOB_TYPES = [
    {"id": 1, "name": "interval", "name_en": "Interval", "name_ar": "فاصل زمني"},
    {"id": 2, "name": "cron", "name_en": "Cron", "name_ar": "جدول كرون"},
]
EXECUTION_STATUSES = [
    {"id": 1, "name": "pending", "name_en": "Pending", "name_ar": "قيد الانتظار"},
    {"id": 2, "name": "running", "name_en": "Running", "name_ar": "قيد التشغيل"},
    {"id": 3, "name": "success", "name_en": "Success", "name_ar": "ناجح"},
    {"id": 4, "name": "failed", "name_en": "Failed", "name_ar": "فشل"},
    {"id": 5, "name": "missed", "name_en": "Missed", "name_ar": "فائت"},
    {"id": 6, "name": "skipped", "name_en": "Skipped", "name_ar": "متجاوز"},
]
JSON_DOC = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scheduler_execution_status",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("name_ar", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_execution_status")),
    )
    op.create_table(
        "scheduler_instance",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("instance_name", sa.String(length=255), nullable=False),
        sa.Column("host_name", sa.String(length=255), nullable=False),
        sa.Column("process_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("role", sa.String(length=20), server_default="embedded", nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_instance")),
    )
    op.create_table(
        "scheduler_job_type",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("name_ar", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_job_type")),
    )
    op.create_table(
        "task_function",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("name_ar", sa.String(length=255), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("description_ar", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("parameters_schema", JSON_DOC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_function")),
        sa.UniqueConstraint("key", name=op.f("uq_task_function_key")),
    )
    op.create_table(
        "scheduled_job",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("task_function_id", sa.Integer(), nullable=False),
        sa.Column("job_type_id", sa.Integer(), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=True),
        sa.Column("name_ar", sa.String(length=255), nullable=True),
        sa.Column("description_en", sa.Text(), nullable=True),
        sa.Column("description_ar", sa.Text(), nullable=True),
        sa.Column("interval_seconds", sa.Integer(), nullable=True),
        sa.Column("interval_minutes", sa.Integer(), nullable=True),
        sa.Column("interval_hours", sa.Integer(), nullable=True),
        sa.Column("interval_days", sa.Integer(), nullable=True),
        sa.Column("cron_expression", sa.String(length=100), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("priority", sa.Integer(), server_default="0", nullable=False),
        sa.Column("max_instances", sa.Integer(), server_default="1", nullable=False),
        sa.Column("misfire_grace_time", sa.Integer(), server_default="60", nullable=False),
        sa.Column("coalesce", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("parameters", JSON_DOC, nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=True),
        sa.Column("is_enabled", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by_id", sa.String(length=36), nullable=True),
        sa.Column("updated_by_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_type_id"],
            ["scheduler_job_type.id"],
            name=op.f("fk_scheduled_job_job_type_id_scheduler_job_type"),
        ),
        sa.ForeignKeyConstraint(
            ["task_function_id"],
            ["task_function.id"],
            name=op.f("fk_scheduled_job_task_function_id_task_function"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_job")),
    )
    op.create_index(
        "ix_scheduled_job_due",
        "scheduled_job",
        ["next_run_at"],
        unique=False,
        postgresql_where=sa.text("is_enabled AND is_active AND NOT is_paused"),
        sqlite_where=sa.text("is_enabled = 1 AND is_active = 1 AND is_paused = 0"),
    )
    op.create_table(
        "scheduled_job_execution",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_traceback", sa.Text(), nullable=True),
        sa.Column("result_summary", sa.Text(), nullable=True),
        sa.Column("executor_id", sa.String(length=36), server_default="", nullable=False),
        sa.Column("host_name", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("trigger", sa.String(length=20), server_default="schedule", nullable=False),
        sa.Column("coalesced_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("coalesced_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scheduled_job.id"], name=op.f("fk_scheduled_job_execution_job_id_scheduled_job")
        ),
        sa.ForeignKeyConstraint(
            ["status_id"],
            ["scheduler_execution_status.id"],
            name=op.f("fk_scheduled_job_execution_status_id_scheduler_execution_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_job_execution")),
        sa.UniqueConstraint("execution_id", name=op.f("uq_scheduled_job_execution_execution_id")),
        sa.UniqueConstraint("job_id", "scheduled_at", name=op.f("uq_scheduled_job_execution_job_id_scheduled_at")),
    )
    op.create_index("ix_scheduled_job_execution_created_at", "scheduled_job_execution", ["created_at"], unique=False)
    op.create_index("ix_scheduled_job_execution_job_history", "scheduled_job_execution", ["job_id", "id"], unique=False)
    op.create_index(
        "ix_scheduled_job_execution_open",
        "scheduled_job_execution",
        ["status_id"],
        unique=False,
        postgresql_where=sa.text("status_id IN (1, 2)"),
        sqlite_where=sa.text("status_id IN (1, 2)"),
    )
    op.create_index(
        "ix_scheduled_job_execution_outbox",
        "scheduled_job_execution",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status_id = 1 AND published_at IS NULL"),
        sqlite_where=sa.text("status_id = 1 AND published_at IS NULL"),
    )
    op.create_table(
        "scheduled_job_lock",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("locked_by", sa.String(length=36), nullable=False),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["scheduled_job.id"], name=op.f("fk_scheduled_job_lock_job_id_scheduled_job")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_job_lock")),
        sa.UniqueConstraint("execution_id", name=op.f("uq_scheduled_job_lock_execution_id")),
    )
    op.create_index(op.f("ix_scheduled_job_lock_job_id"), "scheduled_job_lock", ["job_id"], unique=False)
    op.create_index(op.f("ix_scheduled_job_lock_locked_by"), "scheduled_job_lock", ["locked_by"], unique=False)

    job_type = sa.table("scheduler_job_type", *(sa.column(c) for c in ("id", "name", "name_en", "name_ar")))
    status = sa.table("scheduler_execution_status", *(sa.column(c) for c in ("id", "name", "name_en", "name_ar")))
    op.bulk_insert(job_type, JOB_TYPES)
    op.bulk_insert(status, EXECUTION_STATUSES)


def downgrade() -> None:
    op.drop_index(op.f("ix_scheduled_job_lock_locked_by"), table_name="scheduled_job_lock")
    op.drop_index(op.f("ix_scheduled_job_lock_job_id"), table_name="scheduled_job_lock")
    op.drop_table("scheduled_job_lock")
    op.drop_index(
        "ix_scheduled_job_execution_open",
        table_name="scheduled_job_execution",
        postgresql_where=sa.text("status_id IN (1, 2)"),
        sqlite_where=sa.text("status_id IN (1, 2)"),
    )
    op.drop_index("ix_scheduled_job_execution_outbox", table_name="scheduled_job_execution")
    op.drop_index("ix_scheduled_job_execution_job_history", table_name="scheduled_job_execution")
    op.drop_index("ix_scheduled_job_execution_created_at", table_name="scheduled_job_execution")
    op.drop_table("scheduled_job_execution")
    op.drop_index(
        "ix_scheduled_job_due",
        table_name="scheduled_job",
        postgresql_where=sa.text("is_enabled AND is_active AND NOT is_paused"),
        sqlite_where=sa.text("is_enabled = 1 AND is_active = 1 AND is_paused = 0"),
    )
    op.drop_table("scheduled_job")
    op.drop_table("task_function")
    op.drop_table("scheduler_job_type")
    op.drop_table("scheduler_instance")
    op.drop_table("scheduler_execution_status")
