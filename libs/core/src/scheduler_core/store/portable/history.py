"""History, in SQLAlchemy (both backends)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core import verdicts
from scheduler_core.store.history import Backlog, Cancellation, ExecutionFilters, HistoryStore
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution

_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
_NOT_STARTED = (ExecutionStatus.PENDING, ExecutionStatus.WAITING)
_UNFINISHED = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


class PortableHistoryStore(HistoryStore):
    async def page(
        self, session: AsyncSession, job_id: int | None, filters: ExecutionFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJobExecution], int]:
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

    async def get(self, session: AsyncSession, execution_id: str) -> ScheduledJobExecution | None:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.execution_id == execution_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def count_running(self, session: AsyncSession) -> int:
        query = select(func.count()).where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
        return int((await session.execute(query)).scalar_one())

    async def backlog(self, session: AsyncSession, now: datetime) -> Backlog:
        due_at = func.coalesce(ScheduledJobExecution.release_at, ScheduledJobExecution.scheduled_at)
        # status_id = pending: read through ix_scheduled_job_execution_open, which holds only the open runs.
        query = select(func.count(), func.min(due_at)).where(
            ScheduledJobExecution.status_id == ExecutionStatus.PENDING, due_at <= now
        )
        runs, oldest = (await session.execute(query)).one()
        return Backlog(int(runs), oldest)

    async def count_open(self, session: AsyncSession, job_id: int) -> int:
        query = select(func.count()).where(
            ScheduledJobExecution.job_id == job_id, ScheduledJobExecution.status_id.in_(_OPEN)
        )
        return int((await session.execute(query)).scalar_one())

    async def running(self, session: AsyncSession, limit: int) -> list[ScheduledJobExecution]:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.status_id == ExecutionStatus.RUNNING)
            .order_by(ScheduledJobExecution.started_at)
            .limit(limit)
        )
        return list((await session.execute(query)).scalars().all())

    async def cancel(self, session: AsyncSession, execution_id: str, *, by: str, now: datetime) -> Cancellation:
        execution = ScheduledJobExecution
        ended = await session.execute(
            update(execution)
            .where(execution.execution_id == execution_id, execution.status_id.in_(_NOT_STARTED))
            .values(
                status_id=ExecutionStatus.CANCELLED,
                completed_at=now,
                cancel_requested_at=now,
                cancelled_by=by,
                error_message=verdicts.cancelled(by),
            )
            .returning(execution.id)
        )
        if ended.first() is not None:
            return Cancellation.CANCELLED
        requested = await session.execute(
            update(execution)
            .where(
                execution.execution_id == execution_id,
                execution.status_id == ExecutionStatus.RUNNING,
                execution.cancel_requested_at.is_(None),
            )
            .values(cancel_requested_at=now, cancelled_by=by)
            .returning(execution.id)
        )
        if requested.first() is not None:
            return Cancellation.REQUESTED
        status = (
            await session.execute(select(execution.status_id).where(execution.execution_id == execution_id))
        ).scalar_one_or_none()
        return Cancellation.ALREADY_REQUESTED if status == ExecutionStatus.RUNNING else Cancellation.FINISHED

    async def cancel_waiting(self, session: AsyncSession, job_id: int, *, reason: str, now: datetime) -> int:
        execution = ScheduledJobExecution
        result = await session.execute(
            update(execution)
            .where(execution.job_id == job_id, execution.status_id.in_(_NOT_STARTED))
            .values(status_id=ExecutionStatus.CANCELLED, completed_at=now, cancelled_by=reason, error_message=reason)
            .returning(execution.id)
        )
        return len(result.all())

    async def delete_before(self, session: AsyncSession, cutoff: datetime, batch_size: int) -> int:
        execution = ScheduledJobExecution
        # SKIP LOCKED where the database has row locks (SQLite's compiler leaves the clause out: its transaction
        # holds the one write lock): a batch never waits on a run being finished right now.
        batch = (
            select(execution.id)
            .where(execution.created_at < cutoff, execution.status_id.not_in(_UNFINISHED))
            .order_by(execution.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        result = await session.execute(
            delete(execution).where(execution.id.in_(batch.scalar_subquery())).returning(execution.id)
        )
        return len(result.all())
