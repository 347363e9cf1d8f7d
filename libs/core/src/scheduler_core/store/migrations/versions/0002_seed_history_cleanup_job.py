"""Seed the primary job: the daily execution-history cleanup (03:00 UTC, 30 days kept).

Its task function row is created here too, so the job exists before any executor has started; executors
refresh the row (names, parameter schema) when they register their tasks. The job's next_run_at is left
NULL: the timekeeper's sweep schedules jobs that have none, from the database clock.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TASK_KEY = "cleanup_history"
JSON_DOC = sa.JSON(none_as_null=True).with_variant(
    postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
)

task_function = sa.table(
    "task_function",
    sa.column("id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("name_en", sa.String),
    sa.column("name_ar", sa.String),
    sa.column("description_en", sa.Text),
    sa.column("description_ar", sa.Text),
    sa.column("is_active", sa.Boolean),
)
scheduled_job = sa.table(
    "scheduled_job",
    sa.column("task_function_id", sa.Integer),
    sa.column("job_type_id", sa.Integer),
    sa.column("name_en", sa.String),
    sa.column("name_ar", sa.String),
    sa.column("description_en", sa.Text),
    sa.column("description_ar", sa.Text),
    sa.column("cron_expression", sa.String),
    sa.column("timezone", sa.String),
    sa.column("parameters", JSON_DOC),
    sa.column("is_primary", sa.Boolean),
)


def upgrade() -> None:
    bind = op.get_bind()
    select_task = sa.select(task_function.c.id).where(task_function.c.key == TASK_KEY)
    task_id = bind.execute(select_task).scalar()
    if task_id is None:
        bind.execute(
            task_function.insert().values(
                key=TASK_KEY,
                name_en="Execution history cleanup",
                name_ar="تنظيف سجل التنفيذ",
                description_en="Deletes finished executions older than the retention period (never running ones).",
                description_ar="يحذف عمليات التنفيذ المنتهية الأقدم من فترة الاحتفاظ (لا يحذف الجارية).",
                is_active=True,
            )
        )
        task_id = bind.execute(select_task).scalar_one()
    bind.execute(
        scheduled_job.insert().values(
            task_function_id=task_id,
            job_type_id=2,  # cron
            name_en="Execution history cleanup",
            name_ar="تنظيف سجل التنفيذ",
            description_en="Keeps 30 days of execution history.",
            description_ar="يحتفظ بسجل التنفيذ لمدة 30 يومًا.",
            cron_expression="0 3 * * *",
            timezone="UTC",
            parameters={"retention_days": 30},
            is_primary=True,
        )
    )


def downgrade() -> None:
    bind = op.get_bind()
    task_id = bind.execute(sa.select(task_function.c.id).where(task_function.c.key == TASK_KEY)).scalar()
    if task_id is not None:
        bind.execute(
            scheduled_job.delete().where(
                scheduled_job.c.task_function_id == task_id, scheduled_job.c.is_primary.is_(True)
            )
        )
