"""Cancel requests on the lock row: a running run's cancel request (an operator's, or a replacing run's) is
mirrored on its lock as `cancel_requested_by`, so that an executor's lease renewal, an UPDATE of its locks, hands
the requests back in its RETURNING: one statement per heartbeat, which never reads the executions table (there,
a lookup by execution_id alone would probe every partition of a table partitioned by slot).

Existing locks of runs already asked to cancel get the request copied from their execution.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCK = "scheduled_job_lock"


def upgrade() -> None:
    with op.batch_alter_table(LOCK) as lock:
        lock.add_column(sa.Column("cancel_requested_by", sa.String(length=255), nullable=True))
    op.execute(
        """
        UPDATE scheduled_job_lock
        SET cancel_requested_by = (
            SELECT COALESCE(e.cancelled_by, '') FROM scheduled_job_execution AS e
            WHERE e.execution_id = scheduled_job_lock.execution_id)
        WHERE execution_id IN (
            SELECT execution_id FROM scheduled_job_execution WHERE cancel_requested_at IS NOT NULL)
        """
    )


def downgrade() -> None:
    with op.batch_alter_table(LOCK) as lock:
        lock.drop_column("cancel_requested_by")
