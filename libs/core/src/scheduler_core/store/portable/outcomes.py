"""Outcomes' rare statements, in SQLAlchemy: failing held runs at shutdown and renewing leases. The backends
add the per-run fenced finish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update
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
        lock, execution = ScheduledJobLock, ScheduledJobExecution
        result = await session.execute(
            update(lock)
            .where(lock.locked_by == instance_id, lock.execution_id.in_(execution_ids))
            .values(expires_at=now + timedelta(seconds=ttl))
            .returning(lock.execution_id)
        )
        held = {row[0] for row in result.all()}
        if not held:
            return Renewal(held)
        # By execution_id (unique): a handful of index lookups, whatever the history holds.
        cancelling = await session.execute(
            select(execution.execution_id, execution.cancelled_by).where(
                execution.execution_id.in_(held), execution.cancel_requested_at.is_not(None)
            )
        )
        return Renewal(held, {eid: by or "" for eid, by in cancelling.all()})
