"""Executions: the outbox the timekeeper writes, the claim and the fenced finish of the executor, the
recovery sweep, history pages and retention."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    String,
    Update,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

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
from scheduler_core.db.repository.clock import db_now, is_postgres, now_expr
from scheduler_core.db.types import UTCDateTime

Execution = ScheduledJobExecution
_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)


@dataclass(frozen=True, slots=True)
class NewExecution:
    """One row for the timekeeper (or a manual trigger) to write."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    status_id: int = ExecutionStatus.PENDING
    trigger: str = Trigger.SCHEDULE
    coalesced_count: int = 1
    coalesced_from: datetime | None = None
    error_message: str | None = None  # the reason, for rows written terminal (missed)
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExecutionFilters:
    status_id: int | None = None


class ClaimOutcome(enum.Enum):
    CLAIMED = "claimed"  # now running under this executor's lock
    ALREADY_HANDLED = "already_handled"  # not pending (a duplicate delivery) or unknown
    MISSED = "missed"  # picked up after its grace time; recorded as missed
    SKIPPED = "skipped"  # max_instances runs already running; recorded as skipped


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
class _Claim:
    execution_id: str
    job_id: int
    instance_id: str
    host_name: str
    now: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class OrphanedRun:
    execution_id: str
    job_id: int
    executor_id: str
    reason: str


class ExecutionRepository:
    # --- reference methods ------------------------------------------------------------------------

    async def create_execution(self, session: AsyncSession, exec_data: Mapping[str, Any]) -> Execution:
        execution = ScheduledJobExecution(**exec_data)
        session.add(execution)
        await session.flush()
        found = await self.get_execution(session, execution.execution_id)
        assert found is not None
        return found

    async def update_execution(
        self, session: AsyncSession, execution_id: str, update_data: Mapping[str, Any]
    ) -> Execution:
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id == execution_id)
            .values(**update_data)
        )
        found = await self.get_execution(session, execution_id)
        if found is None:
            raise LookupError(f"execution {execution_id} does not exist")
        return found

    async def get_executions(
        self,
        session: AsyncSession,
        job_id: int | None,
        filters: ExecutionFilters,
        page: int,
        per_page: int,
    ) -> tuple[list[Execution], int]:
        """History, newest first; job_id None means across all jobs."""
        conditions: list[ColumnElement[bool]] = []
        if job_id is not None:
            conditions.append(ScheduledJobExecution.job_id == job_id)
        if filters.status_id is not None:
            conditions.append(ScheduledJobExecution.status_id == filters.status_id)
        total = (
            await session.execute(select(func.count()).select_from(ScheduledJobExecution).where(*conditions))
        ).scalar_one()
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(*conditions)
            .order_by(ScheduledJobExecution.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list((await session.execute(query)).scalars().all()), int(total)

    # --- outbox (timekeeper) ------------------------------------------------------------------------

    async def get_execution(self, session: AsyncSession, execution_id: str) -> Execution | None:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.execution_id == execution_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def create_executions(self, session: AsyncSession, rows: Sequence[NewExecution]) -> list[str]:
        """Insert many executions in one statement; a row whose (job_id, scheduled_at) already exists is
        skipped, not an error (another timekeeper wrote it). Returns the execution ids actually written."""
        if not rows:
            return []
        values = [
            {
                "execution_id": row.execution_id,
                "job_id": row.job_id,
                "scheduled_at": row.scheduled_at,
                "status_id": int(row.status_id),
                "trigger": row.trigger,
                "coalesced_count": row.coalesced_count,
                "coalesced_from": row.coalesced_from,
                "error_message": row.error_message,
                "completed_at": row.completed_at,
            }
            for row in rows
        ]
        insert_ = pg_insert if is_postgres(session) else sqlite_insert
        statement = (
            insert_(ScheduledJobExecution)
            .values(values)
            .on_conflict_do_nothing(index_elements=["job_id", "scheduled_at"])
            .returning(ScheduledJobExecution.execution_id)
        )
        result = await session.execute(statement)
        return [row[0] for row in result.all()]

    async def mark_published(self, session: AsyncSession, execution_ids: Sequence[str], at: datetime) -> None:
        if not execution_ids:
            return
        await session.execute(
            update(ScheduledJobExecution)
            .where(ScheduledJobExecution.execution_id.in_(execution_ids))
            .values(published_at=at)
        )

    async def forget_publications(self, session: AsyncSession) -> int:
        """Mark every pending run unpublished, so the outbox relay publishes it again. For a broker that
        keeps nothing across restarts (embedded mode's in-process queue): call it once at start-up."""
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.status_id == ExecutionStatus.PENDING,
                ScheduledJobExecution.published_at.is_not(None),
            )
            .values(published_at=None)
            .returning(ScheduledJobExecution.id)
        )
        return len(result.all())

    async def unpublished_runs(
        self, session: AsyncSession, *, created_before: datetime, limit: int
    ) -> list[tuple[str, int, datetime, int]]:
        """Pending runs the broker never confirmed, written before `created_before` (or manual triggers,
        which have no other publisher): (execution_id, job_id, scheduled_at, job priority), locked with
        SKIP LOCKED so two timekeepers do not re-publish the same rows."""
        execution = ScheduledJobExecution
        query = (
            select(execution.execution_id, execution.job_id, execution.scheduled_at, ScheduledJob.priority)
            .join(ScheduledJob, ScheduledJob.id == execution.job_id)
            .where(
                execution.status_id == ExecutionStatus.PENDING,
                execution.published_at.is_(None),
                or_(execution.created_at < created_before, execution.trigger == Trigger.MANUAL),
            )
            .order_by(execution.id)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(of=execution, skip_locked=True)
        return [(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]

    # --- claim and finish (executor) ----------------------------------------------------------------

    async def claim_execution(
        self,
        session: AsyncSession,
        execution_id: str,
        *,
        instance_id: str,
        host_name: str,
        lock_ttl: float,
    ) -> ClaimResult:
        """Claim a pending run for this executor, atomically with its lock.

        Under a row lock on the job (so concurrent claims of one job see each other): a run that is not
        pending is left alone (a duplicate delivery); a scheduled run picked up more than its job's
        misfire_grace_time (whole seconds) after its slot is recorded missed; a run beyond max_instances
        live locks is recorded skipped; otherwise it becomes running, owned by instance_id, with a lock
        that expires lock_ttl seconds from now unless renewed.

        Round trips on PostgreSQL: the locking SELECT and one statement that counts, claims and locks."""
        execution, job = ScheduledJobExecution, ScheduledJob
        query = (
            select(
                execution.status_id,
                execution.job_id,
                execution.scheduled_at,
                execution.trigger,
                job.misfire_grace_time,
                job.max_instances,
                job.parameters,
                job.timeout_seconds,
                TaskFunction.key,
                now_expr(session).label("now"),
            )
            .join(job, job.id == execution.job_id)
            .join(TaskFunction, TaskFunction.id == job.task_function_id)
            .where(execution.execution_id == execution_id)
            # Both rows: the job's serialises claims for max_instances; the execution's makes a claim that
            # waited on another see that one's outcome (PostgreSQL re-reads only locked rows after a wait).
            .with_for_update(of=[job, execution])
        )
        row = (await session.execute(query)).one_or_none()
        if row is None or row.status_id != ExecutionStatus.PENDING:
            return ClaimResult(ClaimOutcome.ALREADY_HANDLED, execution_id)
        now: datetime = row.now

        lateness = (now - row.scheduled_at).total_seconds()
        if row.trigger == Trigger.SCHEDULE and math.floor(lateness) > row.misfire_grace_time:
            reason = (
                f"missed: picked up {lateness:.1f} s after its scheduled time, "
                f"past the job's misfire grace time of {row.misfire_grace_time} s"
            )
            if not await self._close_pending(session, execution_id, ExecutionStatus.MISSED, reason, now):
                return ClaimResult(ClaimOutcome.ALREADY_HANDLED, execution_id)
            return ClaimResult(ClaimOutcome.MISSED, execution_id, reason=reason)

        claim = _Claim(execution_id, row.job_id, instance_id, host_name, now, now + timedelta(seconds=lock_ttl))
        if is_postgres(session):
            live_locks, claimed = await self._count_claim_and_lock(session, claim, row.max_instances)
        else:
            live_locks, claimed = await self._count_claim_and_lock_stepwise(session, claim, row.max_instances)
        if not claimed:
            if live_locks < row.max_instances:
                return ClaimResult(ClaimOutcome.ALREADY_HANDLED, execution_id)
            reason = f"skipped: {live_locks} run(s) of the job already running (max_instances={row.max_instances})"
            if not await self._close_pending(session, execution_id, ExecutionStatus.SKIPPED, reason, now):
                return ClaimResult(ClaimOutcome.ALREADY_HANDLED, execution_id)
            return ClaimResult(ClaimOutcome.SKIPPED, execution_id, reason=reason)
        run = ClaimedRun(
            execution_id=execution_id,
            job_id=row.job_id,
            scheduled_at=row.scheduled_at,
            started_at=now,
            task_key=row.key,
            parameters=row.parameters,
            timeout_seconds=row.timeout_seconds,
        )
        return ClaimResult(ClaimOutcome.CLAIMED, execution_id, run=run)

    @staticmethod
    def _live_locks(claim: _Claim) -> ScalarSelect[int]:
        return (
            select(func.count())
            .select_from(ScheduledJobLock)
            .where(ScheduledJobLock.job_id == claim.job_id, ScheduledJobLock.expires_at > claim.now)
            .scalar_subquery()
        )

    @staticmethod
    def _claim_update(claim: _Claim) -> Update:
        execution = ScheduledJobExecution
        return (
            update(execution)
            .where(execution.execution_id == claim.execution_id, execution.status_id == ExecutionStatus.PENDING)
            .values(
                status_id=ExecutionStatus.RUNNING,
                executor_id=claim.instance_id,
                host_name=claim.host_name,
                started_at=claim.now,
            )
        )

    async def _count_claim_and_lock(self, session: AsyncSession, claim: _Claim, max_instances: int) -> tuple[int, bool]:
        """One statement: count live locks, claim the run if below max_instances, insert its lock.
        Runs after the job's row lock is held, so the count sees every committed claim of the job."""
        live = self._live_locks(claim)
        claimed = (
            self._claim_update(claim)
            .where(live < max_instances)
            .returning(ScheduledJobExecution.job_id, ScheduledJobExecution.execution_id)
            .cte("claimed")
        )
        locked = (
            insert(ScheduledJobLock)
            .from_select(
                ["job_id", "execution_id", "locked_by", "locked_at", "expires_at"],
                select(
                    claimed.c.job_id,
                    claimed.c.execution_id,
                    literal(claim.instance_id, String()),
                    literal(claim.now, UTCDateTime()),
                    literal(claim.expires_at, UTCDateTime()),
                ),
            )
            .returning(ScheduledJobLock.id)
            .cte("locked")
        )
        statement = select(live, select(func.count()).select_from(locked).scalar_subquery())
        live_locks, locks_taken = (await session.execute(statement)).one()
        return int(live_locks), locks_taken == 1

    async def _count_claim_and_lock_stepwise(
        self, session: AsyncSession, claim: _Claim, max_instances: int
    ) -> tuple[int, bool]:
        """The same in three statements, for SQLite (no data-modifying CTEs; the write lock is held anyway)."""
        live_locks = int((await session.execute(select(self._live_locks(claim)))).scalar_one())
        if live_locks >= max_instances:
            return live_locks, False
        result = await session.execute(self._claim_update(claim).returning(ScheduledJobExecution.id))
        if result.scalar_one_or_none() is None:
            return live_locks, False
        await session.execute(
            insert(ScheduledJobLock).values(
                job_id=claim.job_id,
                execution_id=claim.execution_id,
                locked_by=claim.instance_id,
                locked_at=claim.now,
                expires_at=claim.expires_at,
            )
        )
        return live_locks, True

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
        """Record a run's outcome, fenced: only while the run is still `running` under instance_id.
        A stale executor (its run already failed by the sweep, or re-owned) gets False and changes
        nothing. Releases the run's lock either way and advances the job's last_run_at.
        One statement on PostgreSQL."""
        execution, lock, job = ScheduledJobExecution, ScheduledJobLock, ScheduledJob
        finished = (
            update(execution)
            .where(
                execution.execution_id == execution_id,
                execution.status_id == ExecutionStatus.RUNNING,
                execution.executor_id == instance_id,
            )
            .values(
                status_id=status,
                completed_at=now_expr(session),
                duration_ms=duration_ms,
                result_summary=result_summary,
                error_message=error_message,
                error_traceback=error_traceback,
            )
            .returning(execution.job_id, execution.started_at)
        )
        release = delete(lock).where(lock.execution_id == execution_id, lock.locked_by == instance_id)

        def advance(job_id: Any, started_at: Any) -> Update:
            return (
                update(job)
                .where(job.id == job_id, or_(job.last_run_at.is_(None), job.last_run_at < started_at))
                .values(last_run_at=started_at)
            )

        if is_postgres(session):
            done = finished.cte("done")
            released = release.returning(lock.id).cte("released")
            touched = advance(done.c.job_id, done.c.started_at).returning(job.id).cte("touched")
            statement = select(
                select(func.count()).select_from(done).scalar_subquery(),
                select(func.count()).select_from(released).scalar_subquery(),
                select(func.count()).select_from(touched).scalar_subquery(),
            )
            recorded, _, _ = (await session.execute(statement)).one()
            return bool(recorded)

        row = (await session.execute(finished)).one_or_none()
        await session.execute(release)
        if row is None:
            return False
        await session.execute(advance(row.job_id, row.started_at))
        return True

    async def fail_runs_of_instance(
        self, session: AsyncSession, instance_id: str, execution_ids: Sequence[str], reason: str
    ) -> int:
        """Fail runs this instance still holds (graceful shutdown past its grace period)."""
        if not execution_ids:
            return 0
        now = await db_now(session)
        result = await session.execute(
            update(ScheduledJobExecution)
            .where(
                ScheduledJobExecution.execution_id.in_(execution_ids),
                ScheduledJobExecution.status_id == ExecutionStatus.RUNNING,
                ScheduledJobExecution.executor_id == instance_id,
            )
            .values(status_id=ExecutionStatus.FAILED, completed_at=now, error_message=reason)
            .returning(ScheduledJobExecution.execution_id)
        )
        failed = len(result.all())
        await session.execute(
            delete(ScheduledJobLock).where(
                ScheduledJobLock.execution_id.in_(execution_ids), ScheduledJobLock.locked_by == instance_id
            )
        )
        return failed

    # --- recovery sweep ------------------------------------------------------------------------------

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

    # --- status and retention ----------------------------------------------------------------------

    async def count_running(self, session: AsyncSession) -> int:
        query = select(func.count()).where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
        return int((await session.execute(query)).scalar_one())

    async def running_executions(self, session: AsyncSession, limit: int = 100) -> list[Execution]:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
            .order_by(ScheduledJobExecution.started_at)
            .limit(limit)
        )
        return list((await session.execute(query)).scalars().all())

    async def delete_executions_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        """Delete up to batch_size finished executions created before cutoff; pending and running runs
        are never deleted. The caller commits between batches so no transaction holds locks for long."""
        execution = ScheduledJobExecution
        batch = (
            select(execution.id)
            .where(execution.created_at < cutoff, execution.status_id.not_in(_OPEN))
            .order_by(execution.id)
            .limit(batch_size)
        )
        if is_postgres(session):
            batch = batch.with_for_update(skip_locked=True)
        result = await session.execute(
            delete(execution).where(execution.id.in_(batch.scalar_subquery())).returning(execution.id)
        )
        return len(result.all())

    # --- helpers ----------------------------------------------------------------------------------

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
