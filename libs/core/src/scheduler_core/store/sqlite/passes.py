"""The scheduling pass on SQLite: the claim and the write as plain statements on the transaction's sqlite3
connection (connection.py says why). One writer at a time (BEGIN IMMEDIATE): nothing to skip or lock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outbox import NewExecution, OutboxRun, PublishedRun
from scheduler_core.store.passes import DueClaim, DueJob, JobAdvance, PassRecord
from scheduler_core.store.portable.passes import DUE_SQL_COLUMNS, PortablePasses
from scheduler_core.store.sqlite.connection import from_instant, sqlite_connection, to_instant
from scheduler_core.store.sqlite.outbox import insert_executions, record_published

# The schedulable predicate exactly as ix_scheduled_job_due declares it on SQLite.
_SCHEDULABLE: Final = "is_enabled = 1 AND is_active = 1 AND is_paused = 0"
_CLAIM_DUE: Final = f"""
    SELECT {DUE_SQL_COLUMNS}
    FROM scheduled_job
    WHERE {_SCHEDULABLE} AND next_run_at <= ?
    ORDER BY next_run_at
    LIMIT ?
"""
_ADVANCE: Final = "UPDATE scheduled_job SET next_run_at = ?, last_run_at = COALESCE(?, last_run_at) WHERE id = ?"
_EARLIEST: Final = f"SELECT min(next_run_at) FROM scheduled_job WHERE {_SCHEDULABLE}"
# Waiting runs due (the waiting runs' partial index, normally empty): pending again, to be published; release_at
# becomes when it was released if later (the relay leaves a run alone for its grace after that: see postgres/).
_RELEASE: Final = f"""
    UPDATE scheduled_job_execution SET status_id = {int(ExecutionStatus.PENDING)}, release_at = MAX(release_at, ?)
    WHERE id IN (SELECT id FROM scheduled_job_execution WHERE status_id = 8 AND release_at <= ?
                 ORDER BY release_at LIMIT ?)
    RETURNING execution_id, job_id, scheduled_at, (SELECT priority FROM scheduled_job AS j WHERE j.id = job_id)
"""
_EARLIEST_RELEASE: Final = "SELECT min(release_at) FROM scheduled_job_execution WHERE status_id = 8 AND release_at > ?"


def _due_job(row: Sequence[Any]) -> DueJob:
    """A _CLAIM_DUE row (DUE_SQL_COLUMNS, in DueJob's order), its instant and flag converted."""
    job_id, job_type_id, seconds, minutes, hours, days, cron, timezone, next_run_at, grace, coalesce, priority = row
    return DueJob(
        job_id, job_type_id, seconds, minutes, hours, days, cron, timezone,
        from_instant(next_run_at), grace, bool(coalesce), priority,
    )  # fmt: skip


class SqlitePasses(PortablePasses):
    async def claim_due(self, session: AsyncSession, limit: int, lookahead: float) -> DueClaim:
        connection = await sqlite_connection(session)
        now = datetime.now(UTC)  # the database clock (see clock.py)
        horizon = now + timedelta(seconds=lookahead)
        found = connection.execute(_CLAIM_DUE, (to_instant(horizon), limit))
        return DueClaim(now, [_due_job(row) for row in found], horizon)

    async def record(
        self,
        session: AsyncSession,
        rows: Sequence[NewExecution],
        advances: Sequence[JobAdvance],
        published: Sequence[PublishedRun] = (),
        *,
        release_until: datetime | None = None,
        release_limit: int = 0,
    ) -> PassRecord:
        connection = await sqlite_connection(session)
        record_published(connection, published)
        written = insert_executions(connection, rows)
        await self.announce_missed(session, rows, written)
        if advances:
            values = [(to_instant(a.next_run_at), to_instant(a.last_run_at), a.job_id) for a in advances]
            connection.executemany(_ADVANCE, values)
        earliest: str | None = connection.execute(_EARLIEST).fetchone()[0]
        if release_until is None:
            return PassRecord(written, from_instant(earliest))
        until = to_instant(release_until)
        released = [
            OutboxRun(execution_id, job_id, from_instant(slot), priority)
            for execution_id, job_id, slot, priority in connection.execute(
                _RELEASE, (to_instant(datetime.now(UTC)), until, release_limit)
            )
        ]
        earliest_release: str | None = connection.execute(_EARLIEST_RELEASE, (until,)).fetchone()[0]
        return PassRecord(written, from_instant(earliest), released, from_instant(earliest_release))
