"""History indexes: every history page is one ordered index range scan, whatever its filter and depth.

History is listed in slot order, newest first: (scheduled_at, id) descending, paged by keyset (the last row's
(scheduled_at, id) bounds the next page). Each filter's column leads an index that then holds that order, so a
filtered page, a time range (scheduled_at from/to) and a cursor all bound one range scan that stops after the
page:

- ix_scheduled_job_execution_slot          (scheduled_at, id)             no filter, or a time range only
- ix_scheduled_job_execution_job_slot      (job_id, scheduled_at, id)     a job's history; replaces (job_id, id)
- ix_scheduled_job_execution_status_slot   (status_id, scheduled_at, id)  by status
- ix_scheduled_job_execution_job_status_slot (job_id, status_id, scheduled_at, id)  a job's runs by status, for
  the statuses after 3 only (partial: failed, missed, skipped, cancelled, waiting): a job's successes are nearly
  all its runs (its slot index, dropping the rest), its open runs are few (the open runs' index).
- ix_scheduled_job_execution_trigger_slot  (trigger, scheduled_at, id)    manual and backfill runs only (partial):
  scheduled runs are nearly every row, so `trigger = 'schedule'` reads the slot index and drops the rest.

Why not CREATE INDEX CONCURRENTLY: `jobscheduler migrate` applies every pending revision in ONE transaction (a
failure leaves the schema as it was: store/migration.py), and PostgreSQL refuses CONCURRENTLY inside a
transaction block. So the indexes are built in the migration's transaction, which holds a SHARE lock on the
executions table meanwhile: runs cannot be written or finished until it commits (timed on a copy with 1 M rows:
see the README's history section). On a large table, build them beforehand without blocking writers, with the
statements of `concurrent_statements()` (the README lists them); this migration then finds them and only checks
them: an index a failed concurrent build left INVALID is dropped and built again here.

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-14
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXECUTION = "scheduled_job_execution"
RARE_TRIGGERS = "trigger <> 'schedule'"
# On SQLite `+status_id`: queries state the term to use the index there (SQLite does not infer it from
# `status_id = 4`), and the unary plus keeps it from being taken for the index's range.
RARE_STATUSES = {"postgresql": "status_id > 3", "sqlite": "+status_id > 3"}
# name: (columns, partial index predicate by dialect, or None)
INDEXES: dict[str, tuple[list[str], dict[str, str] | None]] = {
    "ix_scheduled_job_execution_slot": (["scheduled_at", "id"], None),
    "ix_scheduled_job_execution_job_slot": (["job_id", "scheduled_at", "id"], None),
    "ix_scheduled_job_execution_status_slot": (["status_id", "scheduled_at", "id"], None),
    "ix_scheduled_job_execution_job_status_slot": (["job_id", "status_id", "scheduled_at", "id"], RARE_STATUSES),
    "ix_scheduled_job_execution_trigger_slot": (
        ["trigger", "scheduled_at", "id"],
        {"postgresql": RARE_TRIGGERS, "sqlite": RARE_TRIGGERS},
    ),
}
REPLACED = ("ix_scheduled_job_execution_job_history", ["job_id", "id"])


def concurrent_statements() -> list[str]:
    """The statements that build this revision's indexes on PostgreSQL without blocking writes (run them one by
    one outside a transaction, e.g. in psql, before `jobscheduler migrate`)."""
    return [
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {EXECUTION} ({', '.join(columns)})"
        + (f" WHERE {where['postgresql']}" if where else "")
        for name, (columns, where) in INDEXES.items()
    ]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        invalid = bind.execute(
            sa.text(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE NOT i.indisvalid AND c.relname = ANY(:names)"
            ),
            {"names": list(INDEXES)},
        ).scalars()
        for name in invalid:
            op.drop_index(name, table_name=EXECUTION)
    for name, (columns, where) in INDEXES.items():
        postgresql = sa.text(where["postgresql"]) if where else None
        sqlite = sa.text(where["sqlite"]) if where else None
        op.create_index(name, EXECUTION, columns, if_not_exists=True, postgresql_where=postgresql, sqlite_where=sqlite)
    op.drop_index(REPLACED[0], table_name=EXECUTION)


def downgrade() -> None:
    op.create_index(REPLACED[0], EXECUTION, REPLACED[1])
    for name in INDEXES:
        op.drop_index(name, table_name=EXECUTION)
