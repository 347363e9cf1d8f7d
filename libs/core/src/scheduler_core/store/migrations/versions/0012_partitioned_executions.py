"""Executions partitioned by week on PostgreSQL, so that retention drops a week's partition instead of deleting its
rows one by one (store/postgres/partitions.py keeps the weeks ahead and drops the expired ones).

PostgreSQL: `scheduled_job_execution` becomes a table partitioned by RANGE (scheduled_at), one partition per UTC week
from Monday (`scheduled_job_execution_wYYYYMMDD`), plus a DEFAULT partition for slots outside every week's partition
(a backfill of a week already dropped, a slot beyond the weeks made ahead), so that no run can ever fail to be
written. Every
unique index of a partitioned table must contain the partition key: the primary key becomes (id, scheduled_at),
and execution_id's uniqueness (execution_id, scheduled_at); execution ids are UUIDv4s the product makes, and every
statement on a run's path names its slot. UNIQUE(job_id, scheduled_at, attempt), guarantee 1's constraint, already
contains it.

The existing table is not rewritten: it becomes the partition of every slot before next Monday
(`scheduled_job_execution_legacy_<next Monday>`), after a CHECK constraint proves its range (validated here; it reads
the table once, under this migration's lock). Attaching it builds the two new unique indexes on it (the others are
the parent's own definitions, so they are adopted as they are). It is dropped whole once its newest slot and
creation are older than the retention, and until then the cleanup deletes its old runs in batches, as before.
An empty table (a new database) is dropped instead, and this week's partition made. Measured on a copy with 1 M runs:
`python -m benchmarks.legs migration`.

SQLite keeps one table (embedded sizes; retention there stays batch deletes); only execution_id's uniqueness
changes, to (execution_id, scheduled_at), so that both backends match the models.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EXECUTION = "scheduled_job_execution"
SEQUENCE = "scheduled_job_execution_id_seq"
PRIMARY_KEY = "pk_scheduled_job_execution"
OLD_UNIQUE = "uq_scheduled_job_execution_execution_id"
NEW_UNIQUE = "uq_scheduled_job_execution_execution_id_scheduled_at"
SLOT_UNIQUE = "uq_scheduled_job_execution_job_id_scheduled_at_attempt"
FOREIGN_KEYS = {
    "fk_scheduled_job_execution_job_id_scheduled_job": "FOREIGN KEY (job_id) REFERENCES scheduled_job (id)",
    "fk_scheduled_job_execution_status_id_scheduler_execution_status": (
        "FOREIGN KEY (status_id) REFERENCES scheduler_execution_status (id)"
    ),
}
# Migration 0003's thresholds, which a partitioned table cannot hold: each partition carries them.
PARTITION_OPTIONS = "autovacuum_vacuum_scale_factor = 0.05, autovacuum_analyze_scale_factor = 0.05"
DAYS_AHEAD = 7  # store/postgres/partitions.py keeps partitions for as many days ahead from then on
WEEK = timedelta(days=7)


def _week_of(day: date) -> date:
    return day - timedelta(days=day.weekday())  # Monday


def _week_name(start: date) -> str:
    return f"{EXECUTION}_w{start:%Y%m%d}"


def _instant(day: date) -> str:
    return f"'{day.isoformat()} 00:00:00+00'"


def _make_week(start: date) -> None:
    # Made apart, then attached: ATTACH takes a lock that does not block the runs being written, PARTITION OF
    # would not (the same steps as store/postgres/partitions.py, whose naming this must keep).
    name = _week_name(start)
    op.execute(f"CREATE TABLE {name} (LIKE {EXECUTION} INCLUDING DEFAULTS) WITH ({PARTITION_OPTIONS})")
    op.execute(
        f"ALTER TABLE {EXECUTION} ATTACH PARTITION {name} "
        f"FOR VALUES FROM ({_instant(start)}) TO ({_instant(start + WEEK)})"
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table(EXECUTION) as execution:
            execution.drop_constraint(OLD_UNIQUE, type_="unique")
            execution.create_unique_constraint(NEW_UNIQUE, ["execution_id", "scheduled_at"])
        return
    today = bind.execute(sa.text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one()
    first_day = _week_of(today) + WEEK  # next Monday: the old table keeps this week's slots
    legacy = f"{EXECUTION}_legacy_{first_day:%Y%m%d}"
    op.execute(f"LOCK TABLE {EXECUTION} IN ACCESS EXCLUSIVE MODE")
    # The indexes that are not constraints, as they are defined now: the parent gets the same, by name, and the
    # old table's are adopted by them when it is attached (same definitions), instead of being built again.
    definitions = bind.execute(
        sa.text(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = CAST(:table AS regclass) AND NOT EXISTS "
            "(SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname"
        ),
        {"table": EXECUTION},
    ).all()
    op.execute(f"ALTER TABLE {EXECUTION} RENAME TO {legacy}")
    for name, _ in definitions:
        op.execute(f"ALTER INDEX {name} RENAME TO {_legacy_name(name)}")
    op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {PRIMARY_KEY}")
    op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {OLD_UNIQUE}")
    op.execute(f"ALTER TABLE {legacy} RENAME CONSTRAINT {SLOT_UNIQUE} TO {_legacy_name(SLOT_UNIQUE)}")

    op.execute(f"CREATE TABLE {EXECUTION} (LIKE {legacy} INCLUDING DEFAULTS) PARTITION BY RANGE (scheduled_at)")
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {EXECUTION}.id")  # not dropped with the old table
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (id, scheduled_at)")
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {NEW_UNIQUE} UNIQUE (execution_id, scheduled_at)")
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {SLOT_UNIQUE} UNIQUE (job_id, scheduled_at, attempt)")
    for name, definition in FOREIGN_KEYS.items():
        op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {name} {definition}")
    for _, definition in definitions:
        op.execute(definition)  # CREATE INDEX <name> ON public.scheduled_job_execution …: now the parent

    if bind.execute(sa.text(f"SELECT EXISTS (SELECT FROM {legacy})")).scalar_one():
        op.execute(f"ALTER TABLE {legacy} ADD CONSTRAINT {legacy}_range CHECK (scheduled_at < {_instant(first_day)})")
        op.execute(
            f"ALTER TABLE {EXECUTION} ATTACH PARTITION {legacy} FOR VALUES FROM (MINVALUE) TO ({_instant(first_day)})"
        )
        op.execute(f"ALTER TABLE {legacy} DROP CONSTRAINT {legacy}_range")  # the partition bound says it now
        first = first_day
    else:
        op.execute(f"DROP TABLE {legacy}")
        first = _week_of(today)
    for start in sorted({_week_of(today + timedelta(days=n)) for n in range(DAYS_AHEAD + 1)} | {first}):
        if start >= first:
            _make_week(start)
    op.execute(f"CREATE TABLE {EXECUTION}_default PARTITION OF {EXECUTION} DEFAULT WITH ({PARTITION_OPTIONS})")


def _legacy_name(name: str) -> str:
    return f"{name[:55]}_legacy"


def downgrade() -> None:
    """Back to one table: the partitions' rows copied into it (a rewrite of the whole history; on a large
    database, expect it to take as long as loading it)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table(EXECUTION) as execution:
            execution.drop_constraint(NEW_UNIQUE, type_="unique")
            execution.create_unique_constraint(OLD_UNIQUE, ["execution_id"])
        return
    definitions = (
        bind.execute(
            sa.text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = CAST(:table AS regclass) AND NOT EXISTS "
                "(SELECT FROM pg_constraint k WHERE k.conindid = i.indexrelid) ORDER BY c.relname"
            ),
            {"table": EXECUTION},
        )
        .scalars()
        .all()
    )
    flat = f"{EXECUTION}_flat"
    op.execute(f"CREATE TABLE {flat} (LIKE {EXECUTION} INCLUDING DEFAULTS) WITH ({PARTITION_OPTIONS})")
    op.execute(f"INSERT INTO {flat} SELECT * FROM {EXECUTION}")
    op.execute(f"ALTER SEQUENCE {SEQUENCE} OWNED BY {flat}.id")
    op.execute(f"DROP TABLE {EXECUTION}")  # and every partition with it
    op.execute(f"ALTER TABLE {flat} RENAME TO {EXECUTION}")
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {PRIMARY_KEY} PRIMARY KEY (id)")
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {OLD_UNIQUE} UNIQUE (execution_id)")
    op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {SLOT_UNIQUE} UNIQUE (job_id, scheduled_at, attempt)")
    for name, definition in FOREIGN_KEYS.items():
        op.execute(f"ALTER TABLE {EXECUTION} ADD CONSTRAINT {name} {definition}")
    for definition in definitions:
        op.execute(definition.replace(" ON ONLY ", " ON ", 1))  # a partitioned index's definition says ONLY
