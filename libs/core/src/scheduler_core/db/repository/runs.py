"""Runs: an execution from the moment an executor claims it until its outcome is recorded, and the sweep
that fails runs whose executor was lost.

Claims and outcomes are handled in batches (an executor hands over whatever deliveries and results it has at
that moment): a batch costs the same few statements as one run, which is what lets one executor process keep
up with a thousand runs a second."""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import (
    ExecutionStatus,
    InstanceStatus,
    ScheduledJob,
    ScheduledJobExecution,
    ScheduledJobLock,
    SchedulerInstance,
    TaskFunction,
    Trigger,
)
from scheduler_core.db.repository.clock import is_postgres, now_expr


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"  # now running under this executor's lock
    ALREADY_HANDLED = "already_handled"  # not pending (a duplicate delivery) or unknown
    MISSED = "missed"  # picked up after its grace time; recorded as missed
    SKIPPED = "skipped"  # max_instances runs already running; recorded as skipped
    REFUSED = "refused"  # the claimer was declared dead by the sweep: nothing claimed, it must stop


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    """A run this executor now owns, with what it needs to execute it."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    started_at: datetime
    task_key: str
    parameters: dict[str, Any] | None
    timeout_seconds: int | None


@dataclass(frozen=True, slots=True)
class ClaimResult:
    outcome: ClaimOutcome
    execution_id: str
    run: ClaimedRun | None = None  # set when outcome is CLAIMED
    reason: str | None = None  # set when outcome is MISSED or SKIPPED


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How a run ended, as its executor reports it."""

    execution_id: str
    status: ExecutionStatus
    duration_ms: int
    result_summary: str | None = None
    error_message: str | None = None
    error_traceback: str | None = None


@dataclass(frozen=True, slots=True)
class OrphanedRun:
    execution_id: str
    job_id: int
    executor_id: str
    reason: str


_EXECUTIONS = cast(Table, ScheduledJobExecution.__table__)
_JOBS = cast(Table, ScheduledJob.__table__)
_TASKS = cast(Table, TaskFunction.__table__)
_LOCKS = cast(Table, ScheduledJobLock.__table__)
_INSTANCES = cast(Table, SchedulerInstance.__table__)

# Fenced on (running, owned by the caller): a stale executor's outcome changes nothing.
_RECORD_OUTCOMES_POSTGRES = text(
    """
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
    WHERE e.execution_id = o.execution_id AND e.status_id = 2 AND e.executor_id = :instance_id
    RETURNING e.execution_id
    """
)


class RunRepository:
    async def claim_execution(
        self, session: AsyncSession, execution_id: str, *, instance_id: str, host_name: str, lock_ttl: float
    ) -> ClaimResult:
        """Claim one run (see claim_executions)."""
        (result,) = await self.claim_executions(
            session, [execution_id], instance_id=instance_id, host_name=host_name, lock_ttl=lock_ttl
        )
        return result

    async def claim_executions(
        self,
        session: AsyncSession,
        execution_ids: Sequence[str],
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> list[ClaimResult]:
        """Claim pending runs for this executor, each atomically with its lock; results in input order.

        Under row locks on the runs' jobs, taken in job-id order so that concurrent claimers never deadlock
        (and so that concurrent claims of one job see each other's locks): a run that is not pending is left
        alone (a duplicate delivery); a scheduled run picked up more than its job's misfire_grace_time (whole
        seconds) after its slot is recorded missed; a run beyond max_instances live locks (earlier slots
        first) is recorded skipped; the others become running, owned by instance_id, with a lock that
        expires lock_ttl seconds from now unless renewed. An id repeated in the batch (a message delivered
        twice at once) is claimed for its first occurrence only; the others are ALREADY_HANDLED.

        A claimer that the sweep has declared stopped (frozen past its instance timeout) claims nothing: every
        result is REFUSED. Its instance row is read FOR SHARE, so the sweep's verdict and this claim are
        ordered: either the claim commits first and the sweep then fails its runs, or it sees the verdict.
        Five statements whatever the batch size."""
        if not execution_ids:
            return []
        if not await self._instance_alive(session, instance_id):
            return [ClaimResult(ClaimOutcome.REFUSED, eid) for eid in execution_ids]
        # Core statements on the tables: the hot path of every run, spared the ORM's per-statement work.
        execution, job, task = _EXECUTIONS.c, _JOBS.c, _TASKS.c
        wanted = list(dict.fromkeys(execution_ids))
        query = (
            select(
                execution.execution_id,
                execution.status_id,
                execution.job_id,
                execution.scheduled_at,
                execution.trigger,
                job.misfire_grace_time,
                job.max_instances,
                job.parameters,
                job.timeout_seconds,
                task.key,
                now_expr(session).label("now"),
            )
            .select_from(
                _EXECUTIONS.join(_JOBS, job.id == execution.job_id).join(_TASKS, task.id == job.task_function_id)
            )
            .where(execution.execution_id.in_(wanted), execution.status_id == ExecutionStatus.PENDING)
            .order_by(job.id, execution.scheduled_at)
            .with_for_update(of=_JOBS)
        )
        rows = (await session.execute(query)).all()
        results = {eid: ClaimResult(ClaimOutcome.ALREADY_HANDLED, eid) for eid in wanted}
        if not rows:
            return [results[eid] for eid in execution_ids]
        now: datetime = rows[0].now

        # Counted after the job rows are locked: a fresh snapshot that sees every committed claim of them.
        lock = _LOCKS.c
        live_query = (
            select(lock.job_id, func.count())
            .where(lock.job_id.in_({row.job_id for row in rows}), lock.expires_at > now)
            .group_by(lock.job_id)
        )
        live: dict[int, int] = defaultdict(int)
        for job_id, count in (await session.execute(live_query)).all():
            live[job_id] = count

        to_claim: list[Any] = []
        closed: list[tuple[str, ExecutionStatus, str]] = []
        for row in rows:
            lateness = (now - row.scheduled_at).total_seconds()
            if row.trigger == Trigger.SCHEDULE and math.floor(lateness) > row.misfire_grace_time:
                reason = (
                    f"missed: picked up {lateness:.1f} s after its scheduled time, "
                    f"past the job's misfire grace time of {row.misfire_grace_time} s"
                )
                closed.append((row.execution_id, ExecutionStatus.MISSED, reason))
            elif live[row.job_id] >= row.max_instances:
                reason = (
                    f"skipped: {live[row.job_id]} run(s) of the job already running (max_instances={row.max_instances})"
                )
                closed.append((row.execution_id, ExecutionStatus.SKIPPED, reason))
            else:
                live[row.job_id] += 1
                to_claim.append(row)

        claimed = await self._mark_running(session, [row.execution_id for row in to_claim], instance_id, host_name, now)
        if claimed:
            await session.execute(
                insert(_LOCKS),
                [
                    {
                        "job_id": row.job_id,
                        "execution_id": row.execution_id,
                        "locked_by": instance_id,
                        "locked_at": now,
                        "expires_at": now + timedelta(seconds=lock_ttl),
                    }
                    for row in to_claim
                    if row.execution_id in claimed
                ],
            )
        for row in to_claim:
            if row.execution_id in claimed:
                run = ClaimedRun(
                    execution_id=row.execution_id,
                    job_id=row.job_id,
                    scheduled_at=row.scheduled_at,
                    started_at=now,
                    task_key=row.key,
                    parameters=row.parameters,
                    timeout_seconds=row.timeout_seconds,
                )
                results[row.execution_id] = ClaimResult(ClaimOutcome.CLAIMED, row.execution_id, run=run)
        for execution_id, status, reason in closed:
            if await self._close_pending(session, execution_id, status, reason, now):
                outcome = ClaimOutcome.MISSED if status == ExecutionStatus.MISSED else ClaimOutcome.SKIPPED
                results[execution_id] = ClaimResult(outcome, execution_id, reason=reason)
        answered: set[str] = set()
        ordered = []
        for eid in execution_ids:
            ordered.append(results[eid] if eid not in answered else ClaimResult(ClaimOutcome.ALREADY_HANDLED, eid))
            answered.add(eid)
        return ordered

    @staticmethod
    async def _instance_alive(session: AsyncSession, instance_id: str) -> bool:
        instance = _INSTANCES.c
        query = select(instance.status).where(instance.id == instance_id).with_for_update(read=True)
        status = (await session.execute(query)).scalar_one_or_none()
        # An unregistered claimer (tests, tools) is not refused: only a verdict of the sweep stops a claim.
        return status != InstanceStatus.STOPPED

    @staticmethod
    async def _mark_running(
        session: AsyncSession, execution_ids: list[str], instance_id: str, host_name: str, now: datetime
    ) -> set[str]:
        if not execution_ids:
            return set()
        execution = _EXECUTIONS.c
        result = await session.execute(
            update(_EXECUTIONS)
            .where(execution.execution_id.in_(execution_ids), execution.status_id == ExecutionStatus.PENDING)
            .values(status_id=ExecutionStatus.RUNNING, executor_id=instance_id, host_name=host_name, started_at=now)
            .returning(execution.execution_id)
        )
        return {row[0] for row in result.all()}

    @staticmethod
    async def _close_pending(
        session: AsyncSession, execution_id: str, status: ExecutionStatus, reason: str, now: datetime
    ) -> bool:
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.execution_id == execution_id,
                ScheduledJobExecution.status_id == ExecutionStatus.PENDING,
            )
            .values(status_id=status, completed_at=now, error_message=reason)
            .returning(ScheduledJobExecution.id)
        )
        return result.scalar_one_or_none() is not None

    async def finish_execution(
        self,
        session: AsyncSession,
        execution_id: str,
        *,
        instance_id: str,
        status: ExecutionStatus,
        duration_ms: int,
        result_summary: str | None = None,
        error_message: str | None = None,
        error_traceback: str | None = None,
    ) -> bool:
        """Record one run's outcome (see finish_executions)."""
        outcome = RunOutcome(execution_id, status, duration_ms, result_summary, error_message, error_traceback)
        return execution_id in await self.finish_executions(session, [outcome], instance_id=instance_id)

    async def finish_executions(
        self, session: AsyncSession, outcomes: Sequence[RunOutcome], *, instance_id: str
    ) -> set[str]:
        """Record outcomes, fenced: each only while its run is still `running` under instance_id. A stale
        executor (its run already failed by the sweep) changes nothing for that run. Releases the runs' locks
        either way. Returns the execution ids whose outcome was recorded. Two statements per batch."""
        if not outcomes:
            return set()
        if is_postgres(session):
            recorded = await self._record_outcomes_postgres(session, outcomes, instance_id)
        else:
            recorded = await self._record_outcomes_stepwise(session, outcomes, instance_id)
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_([o.execution_id for o in outcomes]),
                ScheduledJobLock.locked_by == instance_id,
            )
        )
        return recorded

    @staticmethod
    async def _record_outcomes_postgres(
        session: AsyncSession, outcomes: Sequence[RunOutcome], instance_id: str
    ) -> set[str]:
        """One UPDATE for the whole batch, its rows passed as arrays (one prepared statement for any size)."""
        result = await session.execute(
            _RECORD_OUTCOMES_POSTGRES,
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

    @staticmethod
    async def _record_outcomes_stepwise(
        session: AsyncSession, outcomes: Sequence[RunOutcome], instance_id: str
    ) -> set[str]:
        """One UPDATE per outcome, for SQLite (in-process, so a statement costs no round trip)."""
        execution = ScheduledJobExecution
        recorded: set[str] = set()
        for o in outcomes:
            result = await session.execute(
                update(execution)
                .where(
                    execution.execution_id == o.execution_id,
                    execution.status_id == ExecutionStatus.RUNNING,
                    execution.executor_id == instance_id,
                )
                .values(
                    status_id=o.status,
                    completed_at=now_expr(session),
                    duration_ms=o.duration_ms,
                    result_summary=o.result_summary,
                    error_message=o.error_message,
                    error_traceback=o.error_traceback,
                )
                .returning(execution.execution_id)
            )
            recorded.update(row[0] for row in result.all())
        return recorded

    async def fail_runs_of_instance(
        self, session: AsyncSession, instance_id: str, execution_ids: Sequence[str], reason: str
    ) -> int:
        """Fail runs this instance still holds (graceful shutdown past its grace period)."""
        if not execution_ids:
            return 0
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.execution_id.in_(execution_ids),
                ScheduledJobExecution.status_id == ExecutionStatus.RUNNING,
                ScheduledJobExecution.executor_id == instance_id,
            )
            .values(status_id=ExecutionStatus.FAILED, completed_at=now_expr(session), error_message=reason)
            .returning(ScheduledJobExecution.execution_id)
        )
        failed = len(result.all())
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_(execution_ids), ScheduledJobLock.locked_by == instance_id
            )
        )
        return failed

    async def fail_orphaned_runs(self, session: AsyncSession, now: datetime) -> list[OrphanedRun]:
        """Fail `running` runs whose executor is gone: its instance is stopped (the sweep marks silent
        instances stopped first), or the run's lock expired (not renewed) or vanished. Each gets the
        reason in error_message; their locks are released."""
        execution, lock, instance = ScheduledJobExecution, ScheduledJobLock, SchedulerInstance
        orphans: list[OrphanedRun] = []

        dead_owner = (
            select(instance.id)
            .where(instance.id == execution.executor_id, instance.status == InstanceStatus.STOPPED)
            .exists()
        )
        result = await session.execute(
            update(execution)
            .where(execution.status_id == ExecutionStatus.RUNNING, dead_owner)
            .values(
                status_id=ExecutionStatus.FAILED,
                completed_at=now,
                error_message="executor lost: its instance "
                + execution.executor_id
                + " stopped heartbeating while the run was in progress",
            )
            .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
        )
        orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        live_lock = exists().where(lock.execution_id == execution.execution_id, lock.expires_at > now)
        result = await session.execute(
            update(execution)
            .where(execution.status_id == ExecutionStatus.RUNNING, ~live_lock)
            .values(
                status_id=ExecutionStatus.FAILED,
                completed_at=now,
                error_message="executor lost: the run's lock expired without being renewed",
            )
            .returning(execution.execution_id, execution.job_id, execution.executor_id, execution.error_message)
        )
        orphans += [OrphanedRun(r[0], r[1], r[2], r[3] or "") for r in result.all()]

        # Locks of runs that are no longer running (just failed above, or left behind by a crash
        # between finish and release) hold max_instances slots for nothing.
        running = exists().where(
            execution.execution_id == lock.execution_id, execution.status_id == ExecutionStatus.RUNNING
        )
        await session.execute(delete(lock).where(or_(~running, lock.expires_at <= now)))
        return orphans
