"""Autovacuum thresholds for the tables every run rewrites (PostgreSQL only).

Each run inserts and deletes a scheduled_job_lock row, rewrites its execution row two or three times and its
job's row once (next_run_at). With the server's defaults a table is vacuumed once 20 % of it is dead, so at
hundreds of runs a second the lock table's job_id index and the due-jobs index fill with dead entries that
every claim and every scheduling pass step over. These thresholds have autovacuum visit the small, hot tables
after a fixed number of dead rows (a few seconds of churn) and the execution history at 5 % instead of 20 %.
Cost delay 0 on the small tables: vacuuming a few hundred pages should not be throttled into minutes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SETTINGS = {
    "scheduled_job_lock": (
        "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, "
        "autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000, "
        "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000, autovacuum_vacuum_cost_delay = 0"
    ),
    "scheduled_job": (
        "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0"
    ),
    "scheduled_job_execution": "autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05",
}
RESET = {table: ", ".join(item.split("=")[0].strip() for item in value.split(",")) for table, value in SETTINGS.items()}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite has no autovacuum thresholds
    for table, settings in SETTINGS.items():
        op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, names in RESET.items():
        op.execute(f"ALTER TABLE {table} RESET ({names})")
