"""The recovery sweep, in SQLAlchemy (both backends): it runs every few seconds over the few open runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.store.models import (
    ExecutionStatus,
    InstanceStatus,
    ScheduledJob,
    ScheduledJobExecution,
    ScheduledJobLock,
    SchedulerInstance,
    Trigger,
)
from scheduler_core.store.portable.outbox import PENDING_LITERAL
from scheduler_core.store.sweeps import OrphanedRun, SilentInstance, SweepStore, UnclaimedRun


class PortableSweeps(SweepStore):
    async def silent_instances(self, session: AsyncSession, *, silent_since: datetime) -> list[SilentInstance]:
        instance = SchedulerInstance
        result = await session.execute(
            select(instance.id, instance.role, instance.last_heartbeat)
            .where(instance.status != InstanceStatus.STOPPED, instance.last_heartbeat < silent_since)
            .order_by(instance.last_heartbeat)
        )
        return [SilentInstance(*row) for row in result.all()]

    async def stop_instances(
        self, session: AsyncSession, instance_ids: Sequence[str], *, silent_since: datetime, now: datetime
    ) -> list[str]:
        if not instance_ids:
            return []
        instance = SchedulerInstance
        result = await session.execute(
            update(instance)
            .where(
                instance.id.in_(instance_ids),
                instance.status != InstanceStatus.STOPPED,
                instance.last_heartbeat < silent_since,
            )
            .values(status=InstanceStatus.STOPPED, stopped_at=now)
            .returning(instance.id)
        )
        return [row[0] for row in result.all()]

    async def fail_orphaned(self, session: AsyncSession, now: datetime) -> list[OrphanedRun]:
        execution, lock, instance = ScheduledJobExecution, ScheduledJobLock, SchedulerInstance
        running = execution.status_id == ExecutionStatus.RUNNING
        orphans: list[OrphanedRun] = []

        # Runs of stopped instances: each reason names its instance, so the stopped owners are read first (a
        # few ids) and the UPDATE maps each to its reason.
        stopped_owners = (
            (
                await session.execute(
                    select(execution.executor_id)
                    .distinct()
                    .join(instance, instance.id == execution.executor_id)
                    .where(running, instance.status == InstanceStatus.STOPPED)
                )
            )
            .scalars()
            .all()
        )
        if stopped_owners:
            reasons = {owner: verdicts.executor_lost(owner) for owner in stopped_owners}
            result = await session.execute(
                update(execution)
                .where(running, execution.executor_id.in_(stopped_owners))
                .values(
                    status_id=ExecutionStatus.FAILED,
                    completed_at=now,
                    error_message=case(reasons, value=execution.executor_id),
                )
                .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
            )
            orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        live_lock = exists().where(lock.execution_id == execution.execution_id, lock.expires_at > now)
        result = await session.execute(
            update(execution)
            .where(running, ~live_lock)
            .values(status_id=ExecutionStatus.FAILED, completed_at=now, error_message=verdicts.LEASE_EXPIRED)
            .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
        )
        orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        # Locks of runs that are no longer running (just failed above, or left behind by a crash between finish
        # and release) hold max_instances places for nothing.
        still_running = exists().where(execution.execution_id == lock.execution_id, running)
        await session.execute(delete(lock).where(or_(~still_running, lock.expires_at <= now)))
        return orphans

    async def close_unclaimed(self, session: AsyncSession, now: datetime, limit: int) -> list[UnclaimedRun]:
        execution, job = ScheduledJobExecution, ScheduledJob
        # Bounded by the smallest possible grace (0 s): the candidates are at least a second late; the open runs'
        # partial index serves the pending status (a literal, as its predicate needs).
        candidates = (
            await session.execute(
                select(execution.execution_id, execution.job_id, execution.scheduled_at, job.misfire_grace_time)
                .join(job, job.id == execution.job_id)
                .where(
                    execution.status_id == PENDING_LITERAL,
                    execution.trigger == Trigger.SCHEDULE,
                    execution.scheduled_at < now - timedelta(seconds=1),
                )
                .order_by(execution.scheduled_at)
                .limit(limit)
            )
        ).all()
        late: dict[str, tuple[int, str]] = {}  # execution id -> (job id, reason)
        for execution_id, job_id, scheduled_at, grace in candidates:
            lateness = now - scheduled_at
            if verdicts.past_grace(lateness, grace):
                late[execution_id] = (job_id, verdicts.missed_unclaimed(lateness, grace))
        if not late:
            return []
        # One UPDATE for all of them, each with its own reason.
        result = await session.execute(
            update(execution)
            .where(execution.execution_id.in_(list(late)), execution.status_id == ExecutionStatus.PENDING)
            .values(
                status_id=ExecutionStatus.MISSED,
                completed_at=now,
                error_message=case({eid: reason for eid, (_, reason) in late.items()}, value=execution.execution_id),
            )
            .returning(execution.execution_id)
        )
        closed = {row[0] for row in result.all()}
        return [UnclaimedRun(eid, job_id, reason) for eid, (job_id, reason) in late.items() if eid in closed]
