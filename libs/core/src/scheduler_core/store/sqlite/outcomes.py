"""Outcomes on SQLite, as plain statements on the transaction's sqlite3 connection (connection.py says why):
one UPDATE per outcome (a few µs each in-process, and the ids recorded are known), then one DELETE releasing the
caller's locks of the batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outcomes import RunOutcome
from scheduler_core.store.portable.outcomes import PortableOutcomes
from scheduler_core.store.sqlite.connection import placeholders, sqlite_connection, to_instant

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing.
_RECORD_OUTCOME: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = ?, completed_at = ?, duration_ms = ?, result_summary = ?, error_message = ?, error_traceback = ?
    WHERE execution_id = ? AND status_id = {int(ExecutionStatus.RUNNING)} AND executor_id = ?
"""
_RELEASE_LOCKS: Final = "DELETE FROM scheduled_job_lock WHERE execution_id IN ({}) AND locked_by = ?"


class SqliteOutcomes(PortableOutcomes):
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> set[str]:
        if not outcomes:
            return set()
        connection = await sqlite_connection(session)
        completed_at = to_instant(datetime.now(UTC))  # the database clock (see clock.py)
        recorded: set[str] = set()
        for o in outcomes:
            values = (
                int(o.status),
                completed_at,
                o.duration_ms,
                o.result_summary,
                o.error_message,
                o.error_traceback,
                o.execution_id,
                instance_id,
            )
            if connection.execute(_RECORD_OUTCOME, values).rowcount:
                recorded.add(o.execution_id)
        ids = [o.execution_id for o in outcomes]
        connection.execute(_RELEASE_LOCKS.format(placeholders(len(ids))), [*ids, instance_id])
        return recorded
