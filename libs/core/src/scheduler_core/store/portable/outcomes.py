"""Outcomes' rare statements, in SQLAlchemy: failing held runs at shutdown and renewing leases. The backends
add the per-run fenced finish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.clock import Clock
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, ScheduledJobLock
from scheduler_core.store.outcomes import OutcomeStore


class PortableOutcomes(OutcomeStore):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def fail_held(
        self, session: AsyncSession, instance_id: str, execution_ids: Sequence[str], reason: str
    ) -> int:
        if not execution_ids:
            return 0
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.execution_id.in_(execution_ids),
                ScheduledJobExecution.status_id == ExecutionStatus.RUNNING,
                ScheduledJobExecution.executor_id == instance_id,
            )
            .values(status_id=ExecutionStatus.FAILED, completed_at=await self._clock.now(session), error_message=reason)
            .returning(ScheduledJobExecution.execution_id)
        )
        failed = len(result.all())
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_(execution_ids), ScheduledJobLock.locked_by == instance_id
            )
        )
        return failed

    async def renew_leases(
        self, session: AsyncSession, instance_id: str, ttl: float, execution_ids: Sequence[str]
    ) -> set[str]:
        if not execution_ids:
            return set()
        now = await self._clock.now(session)
        result = await session.execute(
            update(ScheduledJobLock)
            .where(ScheduledJobLock.locked_by == instance_id, ScheduledJobLock.execution_id.in_(execution_ids))
            .values(expires_at=now + timedelta(seconds=ttl))
            .returning(ScheduledJobLock.execution_id)
        )
        return {row[0] for row in result.all()}
