"""The recovery sweep, in SQLAlchemy (both backends): it runs every few seconds over the few open runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    and_,
    case,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.notifications import Event, EventType, instant
from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import (
    ExecutionStatus,
    InstanceStatus,
    ScheduledJob,
    ScheduledJobExecution,
    ScheduledJobLock,
    SchedulerInstance,
    Trigger,
)
from scheduler_core.store.portable.events import EventOutbox
from scheduler_core.store.portable.followups import EndedRun, Followups, silent_event
from scheduler_core.store.portable.outbox import PENDING_LITERAL
from scheduler_core.store.portable.passes import schedulable
from scheduler_core.store.sweeps import OrphanedRun, SilentInstance, SweepStore, UnclaimedRun

_WAITING_LITERAL: Final[ColumnElement[int]] = literal_column(str(int(ExecutionStatus.WAITING)), Integer())


# Roles whose instances run tasks: one declared stopped is announced (executor.lost).
_TASK_RUNNERS: Final = ("executor", "embedded")


class PortableSweeps(SweepStore):
    def __init__(self, followups: Followups, events: EventOutbox) -> None:
        self._followups = followups
        self._events = events

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
            .returning(instance.id, instance.role, instance.instance_name, instance.host_name, instance.last_heartbeat)
        )
        stopped = result.all()
        lost = [
            Event(
                EventType.EXECUTOR_LOST,
                now,
                data={
                    "instanceId": instance_id,
                    "instanceName": name,
                    "hostName": host,
                    "role": role,
                    "lastHeartbeat": instant(heartbeat),
                },
            )
            for instance_id, role, name, host, heartbeat in stopped
            if role in _TASK_RUNNERS
        ]
        await self._events.add(session, lost)
        return [row[0] for row in stopped]

    async def fail_orphaned(self, session: AsyncSession, now: datetime) -> list[OrphanedRun]:
        execution, lock, instance = ScheduledJobExecution, ScheduledJobLock, SchedulerInstance
        running = execution.status_id == ExecutionStatus.RUNNING
        ended = (
            execution.execution_id,
            execution.job_id,
            execution.scheduled_at,
            execution.trigger,
            execution.attempt,
            execution.first_execution_id,
            execution.executor_id,
            execution.error_message,
            execution.status_id,
        )
        # A run asked to cancel ends cancelled, whoever stops it (not failed: it is not retried, and counts no
        # failure). Reasons are computed per run in SQL: `cancelled: ` and who asked.
        outcome = {
            "status_id": case(
                (execution.cancel_requested_at.is_not(None), int(ExecutionStatus.CANCELLED)),
                else_=int(ExecutionStatus.FAILED),
            ),
            "completed_at": now,
        }
        cancelled_reason: ColumnElement[str] = literal_column("'cancelled: '", String()) + func.coalesce(
            execution.cancelled_by, ""
        )
        rows: list[tuple[Any, ...]] = []

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
            lost = case(reasons, value=execution.executor_id)
            result = await session.execute(
                update(execution)
                .where(running, execution.executor_id.in_(stopped_owners))
                .values(
                    **outcome,
                    error_message=case((execution.cancel_requested_at.is_not(None), cancelled_reason), else_=lost),
                )
                .returning(*ended)
            )
            rows += [tuple(row) for row in result.all()]

        live_lock = exists().where(lock.execution_id == execution.execution_id, lock.expires_at > now)
        result = await session.execute(
            update(execution)
            .where(running, ~live_lock)
            .values(
                **outcome,
                error_message=case(
                    (execution.cancel_requested_at.is_not(None), cancelled_reason), else_=verdicts.LEASE_EXPIRED
                ),
            )
            .returning(*ended)
        )
        rows += [tuple(row) for row in result.all()]

        # Locks of runs that are no longer running (just failed above, or left behind by a crash between finish
        # and release) hold max_instances places for nothing.
        still_running = exists().where(execution.execution_id == lock.execution_id, running)
        await session.execute(delete(lock).where(or_(~still_running, lock.expires_at <= now)))

        failed = [
            EndedRun(r[0], r[1], r[2], r[3], r[4], r[5], r[8], now) for r in rows if r[8] == ExecutionStatus.FAILED
        ]
        await self._followups.after_failures(session, failed)
        await self._followups.release_queued(session, (r[1] for r in rows), now)
        return [OrphanedRun(r[0], r[1], r[6], r[7] or "", ExecutionStatus(r[8])) for r in rows]

    async def close_unclaimed(self, session: AsyncSession, now: datetime, limit: int) -> list[UnclaimedRun]:
        execution, job = ScheduledJobExecution, ScheduledJob
        # Bounded by the smallest possible grace (0 s): the candidates are at least a second late; the open runs'
        # partial index serves the pending status (a literal, as its predicate needs).
        candidates = (
            await session.execute(
                select(execution.execution_id, execution.job_id, execution.scheduled_at, job.misfire_grace_time)
                .join(job, job.id == execution.job_id)
                .where(
                    or_(
                        execution.status_id == PENDING_LITERAL,
                        # Queued ones too (literals: the queue's partial index predicate).
                        and_(
                            execution.queued_at.is_not(None),
                            execution.status_id.in_([PENDING_LITERAL, _WAITING_LITERAL]),
                            execution.status_id == _WAITING_LITERAL,
                        ),
                    ),
                    execution.trigger == Trigger.SCHEDULE,
                    execution.attempt == 1,
                    execution.scheduled_at < now - timedelta(seconds=1),
                )
                .order_by(execution.scheduled_at)
                .limit(limit)
            )
        ).all()
        late: dict[str, tuple[int, str]] = {}  # execution id -> (job id, reason)
        slots: dict[str, datetime] = {}  # execution id -> its slot
        for execution_id, job_id, scheduled_at, grace in candidates:
            lateness = now - scheduled_at
            if verdicts.past_grace(lateness, grace):
                late[execution_id] = (job_id, verdicts.missed_unclaimed(lateness, grace))
                slots[execution_id] = scheduled_at
        if not late:
            return []
        # One UPDATE for all of them, each with its own reason; by id and slot (on PostgreSQL, only the partitions
        # of those slots).
        result = await session.execute(
            update(execution)
            .where(
                execution.execution_id.in_(list(late)),
                execution.scheduled_at.in_(list(dict.fromkeys(slots.values()))),
                execution.status_id.in_([ExecutionStatus.PENDING, ExecutionStatus.WAITING]),
            )
            .values(
                status_id=ExecutionStatus.MISSED,
                completed_at=now,
                error_message=case({eid: reason for eid, (_, reason) in late.items()}, value=execution.execution_id),
            )
            .returning(execution.execution_id)
        )
        closed = {row[0] for row in result.all()}
        await self._events.add_runs(session, EventType.RUN_MISSED, (RunSlot(eid, slots[eid]) for eid in closed))
        return [UnclaimedRun(eid, job_id, reason) for eid, (job_id, reason) in late.items() if eid in closed]

    async def report_silent(self, session: AsyncSession, now: datetime, limit: int) -> list[int]:
        job = ScheduledJob
        overdue = (
            await session.execute(
                select(job.id, job.success_expected_by, job.expect_success_within_seconds)
                .where(job.success_expected_by.is_not(None), job.success_expected_by < now, schedulable())
                .order_by(job.success_expected_by)
                .limit(limit)
                .with_for_update(key_share=True, skip_locked=True)
            )
        ).all()
        if not overdue:
            return []
        ids = [row.id for row in overdue]
        await session.execute(update(job).where(job.id.in_(ids)).values(success_expected_by=None))
        await self._events.add(
            session,
            [
                silent_event(job_id, due, within, detected_at=now, late=False)
                for job_id, due, within in overdue
                if due is not None  # the query's condition: for the type checker
            ],
        )
        return ids

    async def release_stalled(self, session: AsyncSession, now: datetime, limit: int) -> int:
        execution, job, lock = ScheduledJobExecution, ScheduledJob, ScheduledJobLock
        queued = and_(
            execution.queued_at.is_not(None),
            execution.status_id.in_([PENDING_LITERAL, _WAITING_LITERAL]),  # the queue's partial index
        )
        waiting_jobs = (
            await session.execute(
                select(execution.job_id, job.max_instances)
                .join(job, job.id == execution.job_id)
                .where(queued, execution.status_id == _WAITING_LITERAL, execution.release_at.is_(None))
                .group_by(execution.job_id, job.max_instances)
                .limit(limit)
            )
        ).all()
        stalled: list[int] = []
        for job_id, max_instances in waiting_jobs:
            live = (
                await session.execute(
                    select(func.count()).select_from(lock).where(lock.job_id == job_id, lock.expires_at > now)
                )
            ).scalar_one()
            # Released and not running yet: each will take a place when it is claimed.
            in_flight = (
                await session.execute(
                    select(func.count())
                    .select_from(execution)
                    .where(
                        execution.job_id == job_id,
                        queued,
                        or_(execution.status_id == PENDING_LITERAL, execution.release_at.is_not(None)),
                    )
                )
            ).scalar_one()
            if live + in_flight < max_instances:
                stalled.append(job_id)
        return await self._followups.release_queued(session, stalled, now)
