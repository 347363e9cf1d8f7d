"""Fewer index entries per run: two full indexes of the executions replaced by what already exists, and one
partial index.

Every run is one insert and three updates of its execution row (published, claimed, finished), and none of the
updates is HOT (status_id is indexed), so each full index of the table gets four entries per run. 0008 added two
full ones that the run's own path never reads:

- ix_scheduled_job_execution_job_slot (job_id, scheduled_at, id): a job's history. Dropped: the unique
  (job_id, scheduled_at, attempt) holds the same order within a job, since a slot's attempts are written in
  attempt order (a retry is inserted after the attempt it follows, so a later attempt has a larger id); a job's
  pages are read in (scheduled_at, attempt) order (portable.history.history_order).
- ix_scheduled_job_execution_status_slot (status_id, scheduled_at, id): history by status. Replaced by
  ix_scheduled_job_execution_rare_status_slot, the same columns for the statuses after success only (failed,
  missed, skipped, cancelled, waiting), which a successful run never enters. Successes, nearly every row, are read
  in the slot index, dropping the few others; pending and running runs are few, and are found by the open runs'
  index (ix_scheduled_job_execution_open) and sorted.

So a successful run writes 8 index entries fewer (24 instead of 32): 4 for each dropped full index, none in the
partial one (benchmarks/harness/storage.py measures the bytes and WAL per run).

Building the partial index reads the whole table under a SHARE lock (runs cannot be written meanwhile) but writes
only the rare rows. On a large table, build it beforehand without blocking writers with `concurrent_statements()`
(outside a transaction); this migration then finds it, as 0008 does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXECUTION = "scheduled_job_execution"
RARE_STATUS_SLOT = "ix_scheduled_job_execution_rare_status_slot"
RARE_STATUS_COLUMNS = ["status_id", "scheduled_at", "id"]
# On SQLite `+status_id`, as 0008's job_status_slot: a query states the term to use the index there.
RARE_STATUSES = {"postgresql": "status_id > 3", "sqlite": "+status_id > 3"}
DROPPED = {
    "ix_scheduled_job_execution_job_slot": ["job_id", "scheduled_at", "id"],
    "ix_scheduled_job_execution_status_slot": ["status_id", "scheduled_at", "id"],
}


def concurrent_statements() -> list[str]:
    """The statement that builds this revision's index on PostgreSQL without blocking writes."""
    return [
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {RARE_STATUS_SLOT} ON {EXECUTION} "
        f"({', '.join(RARE_STATUS_COLUMNS)}) WHERE {RARE_STATUSES['postgresql']}"
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        invalid = bind.execute(
            sa.text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = :name"
            ),
            {"name": RARE_STATUS_SLOT},
        ).scalars()
        for name in invalid:
            op.drop_index(name, table_name=EXECUTION)
    op.create_index(
        RARE_STATUS_SLOT,
        EXECUTION,
        RARE_STATUS_COLUMNS,
        if_not_exists=True,
        postgresql_where=sa.text(RARE_STATUSES["postgresql"]),
        sqlite_where=sa.text(RARE_STATUSES["sqlite"]),
    )
    for name in DROPPED:
        op.drop_index(name, table_name=EXECUTION)


def downgrade() -> None:
    for name, columns in DROPPED.items():
        op.create_index(name, EXECUTION, columns)
    op.drop_index(RARE_STATUS_SLOT, table_name=EXECUTION)
