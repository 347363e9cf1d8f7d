"""Run lock ids never reused, so that a lock's id can serve as the run's fencing token (SQLite only).

A task that writes to an external store passes its run's fencing token along, and the store refuses a writer
whose token is lower than one it has seen: the token must grow with every claim of a job. PostgreSQL's
identity sequence already never goes back. SQLite's INTEGER PRIMARY KEY without AUTOINCREMENT reuses the
highest id after a delete (the lock of the last run that finished), so the table is rebuilt with AUTOINCREMENT,
whose ids only grow (kept in sqlite_sequence).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "scheduled_job_lock", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.alter_column("id", autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "scheduled_job_lock", recreate="always", table_kwargs={"sqlite_autoincrement": False}
    ) as batch:
        batch.alter_column("id", autoincrement=True)
