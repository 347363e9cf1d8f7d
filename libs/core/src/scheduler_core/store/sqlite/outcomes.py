"""Outcomes on SQLite, as plain statements on the transaction's sqlite3 connection (connection.py says why):
one UPDATE per outcome (a few µs each in-process, and the runs recorded are known), one DELETE releasing the
caller's locks of the batch, one UPDATE resetting the failure counts of jobs with a success (no write for a count
already 0), and one per job releasing its earliest queued run; failures' retries follow in portable.followups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outcomes import FinishResult, RunOutcome
from scheduler_core.store.portable.followups import EndedRun
from scheduler_core.store.portable.outcomes import PortableOutcomes
from scheduler_core.store.sqlite.connection import from_instant, placeholders, sqlite_connection, to_instant

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing.
_RECORD_OUTCOME: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = ?, completed_at = ?, duration_ms = ?, result_summary = ?, error_message = ?, error_traceback = ?,
        started_at = coalesce(?, started_at)
    WHERE execution_id = ? AND status_id = {int(ExecutionStatus.RUNNING)} AND executor_id = ?
    RETURNING job_id, scheduled_at, trigger, attempt, first_execution_id
"""
_RELEASE_LOCKS: Final = "DELETE FROM scheduled_job_lock WHERE execution_id IN ({}) AND locked_by = ?"
_RESET_FAILURES: Final = (
    "UPDATE scheduled_job SET consecutive_failures = 0 WHERE id IN ({}) AND consecutive_failures <> 0"
)
_RELEASE_QUEUED: Final = """
    UPDATE scheduled_job_execution SET release_at = ?
    WHERE id = (SELECT id FROM scheduled_job_execution
                WHERE job_id = ? AND queued_at IS NOT NULL AND status_id IN (1, 8) AND status_id = 8
                  AND release_at IS NULL
                ORDER BY scheduled_at, attempt LIMIT 1)
"""


class SqliteOutcomes(PortableOutcomes):
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> FinishResult:
        if not outcomes:
            return FinishResult(set())
        connection = await sqlite_connection(session)
        now = datetime.now(UTC)  # the database clock (see clock.py)
        completed_at = to_instant(now)
        ended: list[EndedRun] = []
        for o in outcomes:
            values = (
                int(o.status),
                completed_at,
                o.duration_ms,
                o.result_summary,
                o.error_message,
                o.error_traceback,
                to_instant(o.started_at),
                o.execution_id,
                instance_id,
            )
            row = connection.execute(_RECORD_OUTCOME, values).fetchone()
            if row is not None:
                job_id, slot, trigger, attempt, first = row
                ended.append(
                    EndedRun(o.execution_id, job_id, from_instant(slot), trigger, attempt, first, o.status, now)
                )
        ids = [o.execution_id for o in outcomes]
        connection.execute(_RELEASE_LOCKS.format(placeholders(len(ids))), [*ids, instance_id])
        succeeded = list({run.job_id for run in ended if run.status == ExecutionStatus.SUCCESS})
        if succeeded:
            connection.execute(_RESET_FAILURES.format(placeholders(len(succeeded))), succeeded)
        freed = sum(
            connection.execute(_RELEASE_QUEUED, (completed_at, job_id)).rowcount for job_id in {r.job_id for r in ended}
        )
        failed = [run for run in ended if run.status == ExecutionStatus.FAILED]
        retries = await self._followups.after_failures(session, failed)
        return FinishResult({run.execution_id for run in ended}, wake=bool(retries or freed))
