"""The outbox on PostgreSQL: runs written with INSERT … ON CONFLICT DO NOTHING, confirmations recorded with one
statement per batch that never waits for a row an executor holds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution
from scheduler_core.store.outbox import NewExecution, PublishedRun
from scheduler_core.store.portable.outbox import PortableOutbox

_EXECUTIONS: Final[Table] = ScheduledJobExecution.__table__  # type: ignore[assignment]

# Confirmations matter only for runs still pending (the relay looks at nothing else): a run already claimed is
# not touched, which spares a row version per run and never locks a row an executor is about to claim. Written
# without waiting: a row an executor holds locked at this instant (claiming it) is skipped, so the timekeeper's
# pass never waits on an executor's transaction, and never deadlocks with one while it holds its jobs' rows.
# Runs are read and written by id and slot, with the batch's slots as a constant list too: only the partitions of
# those slots are read. Shared with the pass's one-statement write (passes.py).
MARK_PUBLISHED_SQL: Final = f"""
    UPDATE scheduled_job_execution AS e
    SET published_at = m.published_at
    FROM (
        SELECT x.id, x.scheduled_at, p.published_at
        FROM unnest(CAST(:published_ids AS varchar[]), CAST(:published_slots AS timestamptz[]),
                    CAST(:published_ats AS timestamptz[]))
             AS p(execution_id, scheduled_at, published_at)
        JOIN scheduled_job_execution AS x ON x.execution_id = p.execution_id AND x.scheduled_at = p.scheduled_at
        WHERE x.status_id = {int(ExecutionStatus.PENDING)}
          AND x.scheduled_at = ANY(CAST(:published_slots AS timestamptz[]))
        FOR UPDATE OF x SKIP LOCKED
    ) AS m
    WHERE e.id = m.id AND e.scheduled_at = m.scheduled_at
      AND e.scheduled_at = ANY(CAST(:published_slots AS timestamptz[]))
    RETURNING e.execution_id
"""
_MARK_PUBLISHED = text(MARK_PUBLISHED_SQL)


def published_params(runs: Sequence[PublishedRun]) -> dict[str, list[Any]]:
    """The array parameters of MARK_PUBLISHED_SQL."""
    return {
        "published_ids": [r.execution_id for r in runs],
        "published_slots": [r.scheduled_at for r in runs],
        "published_ats": [r.published_at for r in runs],
    }


class PostgresOutbox(PortableOutbox):
    async def add(self, session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
        if not rows:
            return []
        values = [
            {
                "execution_id": row.execution_id,
                "job_id": row.job_id,
                "scheduled_at": row.scheduled_at,
                "status_id": int(row.status_id),
                "trigger": row.trigger,
                "coalesced_count": row.coalesced_count,
                "coalesced_from": row.coalesced_from,
                "error_message": row.error_message,
                "completed_at": row.completed_at,
                "rerun_of": row.rerun_of,
            }
            for row in rows
        ]
        statement = (
            insert(_EXECUTIONS)  # Core, not ORM: no per-row bookkeeping
            .on_conflict_do_nothing(index_elements=["job_id", "scheduled_at", "attempt"])
            .returning(_EXECUTIONS.c.execution_id)
        )
        # executemany: SQLAlchemy packs the rows into multi-row INSERTs of a bounded size, so thousands of slots
        # stay under asyncpg's bound-parameter limit (32,767).
        result = await session.execute(statement, values)
        written = {row[0] for row in result.all()}
        return [row.execution_id for row in rows if row.execution_id in written]

    async def record_published(self, session: AsyncSession, runs: Sequence[PublishedRun]) -> list[str]:
        if not runs:
            return []
        result = await session.execute(_MARK_PUBLISHED, published_params(runs))
        return [row[0] for row in result.all()]
