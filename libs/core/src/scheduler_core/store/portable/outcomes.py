"""Outcomes' rare statements, in SQLAlchemy: failing held runs at shutdown and renewing leases. The backends
add the per-run fenced finish."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import RunSlot
from scheduler_core.store.clock import Clock
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, ScheduledJobLock
from scheduler_core.store.outcomes import OutcomeStore, Renewal
from scheduler_core.store.portable.followups import EndedRun, Followups


class PortableOutcomes(OutcomeStore):
    def __init__(self, clock: Clock, followups: Followups) -> None:
        self._clock = clock
        self._followups = followups

    async def fail_held(self, session: AsyncSession, instance_id: str, runs: Sequence[RunSlot], reason: str) -> int:
        if not runs:
            return 0
        now = await self._clock.now(session)
        execution = ScheduledJobExecution
        execution_ids = [run.execution_id for run in runs]
        # By id and slot (the executor's own claims: each id with its slot): on PostgreSQL, only their partitions.
        result = await session.execute(
            update(execution)
            .where(
                execution.execution_id.in_(execution_ids),
                execution.scheduled_at.in_(list(dict.fromkeys(run.scheduled_at for run in runs))),
                execution.status_id == ExecutionStatus.RUNNING,
                execution.executor_id == instance_id,
            )
            .values(status_id=ExecutionStatus.FAILED, completed_at=now, error_message=reason)
            .returning(
                execution.execution_id,
                execution.job_id,
                execution.scheduled_at,
                execution.trigger,
                execution.attempt,
                execution.first_execution_id,
            )
        )
        failed = [EndedRun(*row, status=ExecutionStatus.FAILED, completed_at=now) for row in result.all()]
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_(execution_ids), ScheduledJobLock.locked_by == instance_id
            )
        )
        await self._followups.after_failures(session, failed)
        await self._followups.release_queued(session, (run.job_id for run in failed), now)
        return len(failed)

    async def renew_leases(
        self, session: AsyncSession, instance_id: str, ttl: float, execution_ids: Sequence[str]
    ) -> Renewal:
        if not execution_ids:
            return Renewal(set())
        now = await self._clock.now(session)
        lock = ScheduledJobLock
        result = await session.execute(
            update(lock)
            .where(lock.locked_by == instance_id, lock.execution_id.in_(execution_ids))
            .values(expires_at=now + timedelta(seconds=ttl))
            .returning(lock.execution_id, lock.cancel_requested_by)
        )
        return renewal(result.all())


def renewal(rows: Iterable[Sequence[Any]]) -> Renewal:
    """The Renewal of a lease renewal's rows (execution id, the cancel request mirrored on its lock)."""
    held: set[str] = set()
    cancelling: dict[str, str] = {}
    for execution_id, cancel_requested_by in rows:
        held.add(execution_id)
        if cancel_requested_by is not None:
            cancelling[execution_id] = cancel_requested_by
    return Renewal(held, cancelling)
