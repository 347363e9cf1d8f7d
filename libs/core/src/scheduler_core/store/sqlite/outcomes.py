"""Outcomes on SQLite, as plain statements on the transaction's sqlite3 connection (connection.py says why):
one UPDATE per outcome (a few µs each in-process, and the runs recorded are known), one DELETE releasing the
caller's locks of the batch, one SELECT of the jobs with a success that have a streak of failed slots or a silence
watch (none, usually: then no write) and one UPDATE each ending the streak and moving the watch on, one SELECT of
the jobs with a queued run waiting and one UPDATE per such job releasing its earliest; failures' retries, and the
events of failures and successes, follow in portable.followups."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outcomes import FinishResult, RunOutcome
from scheduler_core.store.portable.followups import EndedRun, WatchedJob
from scheduler_core.store.portable.outcomes import PortableOutcomes
from scheduler_core.store.sqlite.connection import from_instant, placeholders, sqlite_connection, to_instant

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing.
_RECORD_OUTCOME: Final = f"""
    UPDATE scheduled_job_execution
    SET status_id = ?, completed_at = ?, duration_ms = ?, result_summary = ?, error_message = ?, error_traceback = ?,
        started_at = coalesce(?, started_at)
    WHERE execution_id = ? AND scheduled_at = ? AND status_id = {int(ExecutionStatus.RUNNING)} AND executor_id = ?
    RETURNING job_id, scheduled_at, trigger, attempt, first_execution_id
"""
_RELEASE_LOCKS: Final = "DELETE FROM scheduled_job_lock WHERE execution_id IN ({}) AND locked_by = ?"
_WATCHED: Final = """
    SELECT id, failing_since, success_expected_by, expect_success_within_seconds,
           is_enabled = 1 AND is_active = 1 AND is_paused = 0
    FROM scheduled_job
    WHERE id IN ({})
      AND (consecutive_failures <> 0 OR failing_since IS NOT NULL OR expect_success_within_seconds IS NOT NULL)
"""
_RESET: Final = (
    "UPDATE scheduled_job SET consecutive_failures = 0, failing_since = NULL, success_expected_by = ? WHERE id = ?"
)
# The jobs of the batch with a queued run waiting for a place: one statement (an index probe per job, in SQLite's
# own loop, of the queue's partial index, normally empty), so that the per-job release below runs only for them
# and not once per run (a Python-level statement per job was a quarter of the finish's CPU at 1,000 runs/s).
_QUEUE_WAITING: Final = """
    SELECT DISTINCT job_id FROM scheduled_job_execution
    WHERE job_id IN ({}) AND queued_at IS NOT NULL AND status_id IN (1, 8) AND status_id = 8 AND release_at IS NULL
"""
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
                to_instant(o.scheduled_at),
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
        succeeded = [run for run in ended if run.status == ExecutionStatus.SUCCESS]
        watched = self._end_streaks(connection, succeeded, now)
        freed = 0
        job_ids = list({run.job_id for run in ended})
        if job_ids:
            waiting = connection.execute(_QUEUE_WAITING.format(placeholders(len(job_ids))), job_ids).fetchall()
            freed = sum(connection.execute(_RELEASE_QUEUED, (completed_at, job_id)).rowcount for (job_id,) in waiting)
        failed = [run for run in ended if run.status == ExecutionStatus.FAILED]
        retries = await self._followups.after_failures(session, failed)
        await self._followups.after_successes(session, succeeded, watched)
        return FinishResult({run.execution_id for run in ended}, wake=bool(retries or freed))

    @staticmethod
    def _end_streaks(connection: sqlite3.Connection, succeeded: Sequence[EndedRun], now: datetime) -> list[WatchedJob]:
        """End the streak of failed slots of each job with a success, and move its silence watch on to now plus
        its expectation (none while it cannot run); returns how each such job was."""
        job_ids = list({run.job_id for run in succeeded})
        if not job_ids:
            return []
        watched = []
        for job_id, failing, expected, within, schedulable in connection.execute(
            _WATCHED.format(placeholders(len(job_ids))), job_ids
        ).fetchall():
            next_due = now + timedelta(seconds=within) if within is not None and schedulable else None
            connection.execute(_RESET, (to_instant(next_due), job_id))
            watched.append(WatchedJob(job_id, from_instant(failing), from_instant(expected), within, now))
        return watched
