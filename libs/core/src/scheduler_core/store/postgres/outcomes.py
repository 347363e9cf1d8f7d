"""Outcomes on PostgreSQL: a batch of outcomes recorded, their locks released, their jobs' failure streaks ended
and silence watches moved on, and their jobs' queues moved on, by one statement; failures' retries, and the events
of failures and successes, follow in portable.followups."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import JSON, Integer, String, column, text
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outcomes import FinishResult, Renewal, RunOutcome
from scheduler_core.store.portable.followups import EndedRun, WatchedJob
from scheduler_core.store.portable.outcomes import PortableOutcomes, renewal
from scheduler_core.store.types import UTCDateTime

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing. The caller's locks of
# these runs are released either way, in the same statement. `status_id + 0`: see claims.py. Then, for the runs
# recorded: a job with a success has its streak of failed slots ended and its silence watch moved on (`prior` reads
# how it was, under the row lock the update takes anyway, so that a concurrent sweep's report of its silence is
# seen; only jobs with a streak or a watch are touched: no write, and no lock, for the others), and each job
# releases its earliest queued run still waiting for a place (an index probe of the queue's partial index, normally
# empty, on the common path). Data-modifying CTEs run whether or not the final SELECT reads them. Runs are named
# by execution id and slot (the partition key: only the partitions of the batch's slots are read); the queued run
# `freed` releases is found by its job through the queue's partial index, and then updated by id and slot.
_RECORD_OUTCOMES = text(
    f"""
    WITH released AS (
        DELETE FROM scheduled_job_lock
        WHERE execution_id = ANY(CAST(:ids AS varchar[])) AND locked_by = :instance_id
    ),
    done AS (
        UPDATE scheduled_job_execution AS e
        SET status_id = o.status_id,
            completed_at = clock_timestamp(),
            duration_ms = o.duration_ms,
            result_summary = o.result_summary,
            error_message = o.error_message,
            error_traceback = o.error_traceback,
            started_at = COALESCE(o.started_at, e.started_at)
        FROM unnest(CAST(:ids AS varchar[]), CAST(:slots AS timestamptz[]), CAST(:statuses AS integer[]),
                    CAST(:durations AS integer[]), CAST(:results AS text[]), CAST(:errors AS text[]),
                    CAST(:tracebacks AS text[]), CAST(:starts AS timestamptz[]))
             AS o(execution_id, scheduled_at, status_id, duration_ms, result_summary, error_message, error_traceback,
                  started_at)
        WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.scheduled_at = ANY(CAST(:slots AS timestamptz[]))
          AND e.execution_id = o.execution_id AND e.scheduled_at = o.scheduled_at
          AND e.status_id + 0 = {int(ExecutionStatus.RUNNING)} AND e.executor_id = :instance_id
        RETURNING e.execution_id, e.job_id, e.scheduled_at, e.trigger, e.attempt, e.first_execution_id, e.status_id,
                  e.completed_at
    ),
    succeeded AS (
        SELECT job_id, max(completed_at) AS completed_at FROM done
        WHERE status_id = {int(ExecutionStatus.SUCCESS)} GROUP BY job_id
    ),
    prior AS (
        SELECT j.id, j.failing_since, j.success_expected_by, j.expect_success_within_seconds
        FROM scheduled_job AS j
        WHERE j.id IN (SELECT job_id FROM succeeded)
          AND (j.consecutive_failures <> 0 OR j.failing_since IS NOT NULL
               OR j.expect_success_within_seconds IS NOT NULL)
        ORDER BY j.id  -- in one order, so that two finishes succeeding on the same jobs do not deadlock
        FOR NO KEY UPDATE
    ),
    reset AS (
        UPDATE scheduled_job AS j
        SET consecutive_failures = 0, failing_since = NULL,
            success_expected_by = CASE
                WHEN j.is_enabled AND j.is_active AND NOT j.is_paused
                THEN s.completed_at + j.expect_success_within_seconds * interval '1 second'
            END
        FROM prior AS p, succeeded AS s
        WHERE j.id = p.id AND s.job_id = p.id
          -- A one-time filter (an InitPlan): no job is read when none had a streak or a watch, the common case,
          -- whatever plan the statement has (a generic plan made while the tables are tiny scans every job here).
          AND EXISTS (SELECT FROM prior)
        RETURNING j.id, p.failing_since, p.success_expected_by, p.expect_success_within_seconds, s.completed_at
    ),
    freed AS (
        UPDATE scheduled_job_execution AS q SET release_at = clock_timestamp()
        WHERE (q.id, q.scheduled_at) IN (
            SELECT h.id, h.scheduled_at
            FROM (SELECT DISTINCT job_id FROM done) AS d
            CROSS JOIN LATERAL (
                SELECT w.id, w.scheduled_at FROM scheduled_job_execution AS w
                WHERE w.job_id = d.job_id AND w.queued_at IS NOT NULL AND w.status_id IN (1, 8)
                  AND w.status_id = 8 AND w.release_at IS NULL
                ORDER BY w.scheduled_at, w.attempt LIMIT 1) AS h
        )
        AND q.status_id = 8 AND q.release_at IS NULL
        RETURNING q.id
    )
    SELECT d.*, (SELECT count(*) FROM freed) AS freed,
           (SELECT json_agg(json_build_array(r.id, r.failing_since, r.success_expected_by,
                                             r.expect_success_within_seconds, r.completed_at))
            FROM reset AS r) AS watched
    FROM done AS d
    """
).columns(
    column("execution_id", String()),
    column("job_id", Integer()),
    column("scheduled_at", UTCDateTime()),
    column("trigger", String()),
    column("attempt", Integer()),
    column("first_execution_id", String()),
    column("status_id", Integer()),
    column("completed_at", UTCDateTime()),
    column("freed", Integer()),
    column("watched", JSON()),
)


# A heartbeat's renewal of the caller's leases, to the database's now (once, an InitPlan) + ttl seconds: one
# statement, which returns the cancel requests mirrored on the locks (no read of the executions). The held ids
# come as one array (a statement text that never changes, whatever the count; joined, so every plan probes or
# hashes each id once) and verify the owner's locks: a lock of a run the caller no longer holds must expire.
_RENEW_LEASES = text(
    """
    UPDATE scheduled_job_lock AS l
    SET expires_at = (SELECT clock_timestamp()) + CAST(:ttl AS double precision) * interval '1 second'
    FROM unnest(CAST(:ids AS varchar[])) AS h (execution_id)
    WHERE l.execution_id = h.execution_id AND l.locked_by = :instance_id
    RETURNING l.execution_id, l.cancel_requested_by
    """
).columns(column("execution_id", String()), column("cancel_requested_by", String()))


def _instant(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


class PostgresOutcomes(PortableOutcomes):
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> FinishResult:
        if not outcomes:
            return FinishResult(set())
        result = await session.execute(
            _RECORD_OUTCOMES,
            {
                "ids": [o.execution_id for o in outcomes],
                "slots": [o.scheduled_at for o in outcomes],
                "statuses": [int(o.status) for o in outcomes],
                "durations": [o.duration_ms for o in outcomes],
                "results": [o.result_summary for o in outcomes],
                "errors": [o.error_message for o in outcomes],
                "tracebacks": [o.error_traceback for o in outcomes],
                "starts": [o.started_at for o in outcomes],
                "instance_id": instance_id,
            },
        )
        rows = result.all()
        ended = [EndedRun(*row[:8]) for row in rows]
        failed = [run for run in ended if run.status == ExecutionStatus.FAILED]
        retries = await self._followups.after_failures(session, failed)
        watched = [
            WatchedJob(job_id, _instant(failing), _instant(expected), within, _instant(at) or datetime.now(UTC))
            for job_id, failing, expected, within, at in (rows[0].watched if rows else None) or ()
        ]
        if watched:
            succeeded = [run for run in ended if run.status == ExecutionStatus.SUCCESS]
            await self._followups.after_successes(session, succeeded, watched)
        freed = rows[0].freed if rows else 0
        return FinishResult({run.execution_id for run in ended}, wake=bool(retries or freed))

    async def renew_leases(
        self, session: AsyncSession, instance_id: str, ttl: float, execution_ids: Sequence[str]
    ) -> Renewal:
        if not execution_ids:
            return Renewal(set())
        result = await session.execute(
            _RENEW_LEASES, {"ids": list(execution_ids), "ttl": ttl, "instance_id": instance_id}
        )
        return renewal(result.all())
