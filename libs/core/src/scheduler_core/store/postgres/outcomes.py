"""Outcomes on PostgreSQL: a batch of outcomes recorded, and their locks released, by one statement."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import ExecutionStatus
from scheduler_core.store.outcomes import RunOutcome
from scheduler_core.store.portable.outcomes import PortableOutcomes

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing. The caller's locks of
# these runs are released either way, in the same statement. `status_id + 0`: see claims.py.
_RECORD_OUTCOMES = text(
    f"""
    WITH released AS (
        DELETE FROM scheduled_job_lock
        WHERE execution_id = ANY(CAST(:ids AS varchar[])) AND locked_by = :instance_id
    )
    UPDATE scheduled_job_execution AS e
    SET status_id = o.status_id,
        completed_at = clock_timestamp(),
        duration_ms = o.duration_ms,
        result_summary = o.result_summary,
        error_message = o.error_message,
        error_traceback = o.error_traceback
    FROM unnest(CAST(:ids AS varchar[]), CAST(:statuses AS integer[]), CAST(:durations AS integer[]),
                CAST(:results AS text[]), CAST(:errors AS text[]), CAST(:tracebacks AS text[]))
         AS o(execution_id, status_id, duration_ms, result_summary, error_message, error_traceback)
    WHERE e.execution_id = ANY(CAST(:ids AS varchar[])) AND e.execution_id = o.execution_id
      AND e.status_id + 0 = {int(ExecutionStatus.RUNNING)} AND e.executor_id = :instance_id
    RETURNING e.execution_id
    """
)


class PostgresOutcomes(PortableOutcomes):
    async def finish(self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str) -> set[str]:
        if not outcomes:
            return set()
        result = await session.execute(
            _RECORD_OUTCOMES,
            {
                "ids": [o.execution_id for o in outcomes],
                "statuses": [int(o.status) for o in outcomes],
                "durations": [o.duration_ms for o in outcomes],
                "results": [o.result_summary for o in outcomes],
                "errors": [o.error_message for o in outcomes],
                "tracebacks": [o.error_traceback for o in outcomes],
                "instance_id": instance_id,
            },
        )
        return {row[0] for row in result.all()}
