"""History, in SQLAlchemy (both backends)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, delete, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core import verdicts
from scheduler_core.store.history import (
    Backlog,
    Cancellation,
    ExecutionFilters,
    HistoryPage,
    HistoryStore,
    SlotPosition,
)
from scheduler_core.store.models import ExecutionStatus, ScheduledJobExecution, ScheduledJobLock

_OPEN = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
_NOT_STARTED = (ExecutionStatus.PENDING, ExecutionStatus.WAITING)
_UNFINISHED = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)
NEWEST_FIRST = (ScheduledJobExecution.scheduled_at.desc(), ScheduledJobExecution.id.desc())
# A job's runs in the same order, as its unique (job_id, scheduled_at, attempt) holds it: a slot's attempts are
# written in attempt order (a retry after the attempt it follows), so within a job and slot the later attempt has
# the larger id. No index of (job_id, scheduled_at, id): it would cost four entries per run (migration 0010).
_JOB_NEWEST_FIRST = (ScheduledJobExecution.scheduled_at.desc(), ScheduledJobExecution.attempt.desc())
# Statuses after this one are the rare ones, which partial indexes hold in slot order (migrations 0008, 0010).
LAST_COMMON_STATUS = ExecutionStatus.SUCCESS


def planned_value(value: int | str) -> ColumnElement[Any]:
    """A value of a small, fixed set (a status id, a trigger) written into the statement as a literal, not bound
    as a parameter: the server then plans each statement for its value. PostgreSQL caches one plan per prepared
    statement and after five executions may switch it to a generic plan, blind to the value; with a parameter,
    `count(*) WHERE status_id = $1` shared by GET /status (running: a few rows, the open runs' partial index) and a
    history filter (success: most of the table) became a parallel scan of the whole table in the status page's
    calls. A literal also lets a planner match a partial index (`status_id IN (1, 2)`), which a parameter cannot.
    A handful of values, so a handful of statements."""
    return literal(value, literal_execute=True)


def status_is(status_id: int) -> ColumnElement[bool]:
    return ScheduledJobExecution.status_id == planned_value(int(status_id))


def status_in(status_ids: Iterable[int]) -> ColumnElement[bool]:
    return ScheduledJobExecution.status_id.in_([planned_value(int(status)) for status in status_ids])


def history_conditions(filters: ExecutionFilters) -> list[ColumnElement[bool]]:
    """The filters as conditions, each one an index serves (with the slot order after it)."""
    execution = ScheduledJobExecution
    conditions: list[ColumnElement[bool]] = []
    if filters.job_id is not None:
        conditions.append(execution.job_id == filters.job_id)
    if filters.status_id is not None:
        conditions.append(status_is(filters.status_id))
    if filters.trigger is not None:
        conditions.append(execution.trigger == planned_value(filters.trigger))
    if filters.scheduled_from is not None:
        conditions.append(execution.scheduled_at >= filters.scheduled_from)
    if filters.scheduled_to is not None:
        conditions.append(execution.scheduled_at < filters.scheduled_to)
    return conditions


def history_order(filters: ExecutionFilters) -> tuple[ColumnElement[Any], ...]:
    """The order of history (slot, then id, newest first) as the index serving `filters` holds it: a job's runs by
    slot and attempt (its unique key), unless a rare status narrows them (ix_scheduled_job_execution_job_status_slot,
    by slot and id)."""
    rare_status = filters.status_id is not None and filters.status_id > LAST_COMMON_STATUS
    return _JOB_NEWEST_FIRST if filters.job_id is not None and not rare_status else NEWEST_FIRST


def _before(order: tuple[ColumnElement[Any], ...], position: SlotPosition, inclusive: bool) -> ColumnElement[bool]:
    """Runs after `position` in history's order (at or after it when inclusive). In a job's (slot, attempt) order
    the slot bounds the index range and the id only sorts out the runs of the position's own slot."""
    execution = ScheduledJobExecution
    if order is NEWEST_FIRST:
        pair = tuple_(execution.scheduled_at, execution.id)
        # The slot's own bound as well: PostgreSQL prunes partitions on it (not on the row comparison), so that a
        # deep page does not plan and probe the partitions of the slots after it.
        return and_(
            execution.scheduled_at <= position.scheduled_at,
            pair <= (position.scheduled_at, position.id) if inclusive else pair < (position.scheduled_at, position.id),
        )
    same_slot = execution.id <= position.id if inclusive else execution.id < position.id
    return and_(
        execution.scheduled_at <= position.scheduled_at,
        or_(execution.scheduled_at < position.scheduled_at, same_slot),
    )


class PortableHistoryStore(HistoryStore):
    def conditions(self, filters: ExecutionFilters) -> list[ColumnElement[bool]]:
        """The filters as conditions (PostgreSQL sees for itself which partial index a condition can use)."""
        return history_conditions(filters)

    async def page(
        self,
        session: AsyncSession,
        filters: ExecutionFilters,
        *,
        per_page: int,
        after: SlotPosition | None = None,
        offset: int = 0,
    ) -> HistoryPage:
        execution = ScheduledJobExecution
        conditions = self.conditions(filters)
        order = history_order(filters)
        bound: list[ColumnElement[bool]] = []
        if after is not None:
            bound = [_before(order, after, inclusive=False)]
        elif offset:
            # Page-number paging: find the page's first run by reading the index's keys only (an index-only scan
            # where the table is vacuumed: the filters' indexes hold their columns), then read the page itself
            # from there; the rows skipped are never fetched from the table.
            start = select(execution.scheduled_at, execution.id).where(*conditions).order_by(*order)
            first = (await session.execute(start.offset(offset).limit(1))).first()
            if first is None:  # past the last page
                total, estimated = await self.total(session, conditions, order)
                return HistoryPage([], total, estimated, None)
            bound = [_before(order, SlotPosition(first.scheduled_at, first.id), inclusive=True)]
        query = (
            select(execution)
            .options(joinedload(execution.status))
            .where(*conditions, *bound)
            .order_by(*order)
            .limit(per_page + 1)  # one more than the page: whether another page follows
        )
        rows = list((await session.execute(query)).scalars().all())
        more = len(rows) > per_page
        rows = rows[:per_page]
        next_after = SlotPosition(rows[-1].scheduled_at, rows[-1].id) if more and rows else None
        total, estimated = await self.total(session, conditions, order)
        if after is None and rows:  # this page's rows and the ones before it exist, whatever an estimate said
            total = max(total, offset + len(rows) + int(more))
        return HistoryPage(rows, total, estimated, next_after)

    async def total(
        self,
        session: AsyncSession,
        conditions: list[ColumnElement[bool]],
        order: tuple[ColumnElement[Any], ...] = NEWEST_FIRST,
    ) -> tuple[int, bool]:
        """How many runs match, and whether that is an estimate (`order`: history's, as the filter's index holds
        it). Here: counted, exactly."""
        query = select(func.count()).select_from(ScheduledJobExecution).where(*conditions)
        return int((await session.execute(query)).scalar_one()), False

    async def get(self, session: AsyncSession, execution_id: str) -> ScheduledJobExecution | None:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(ScheduledJobExecution.execution_id == execution_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def count_running(self, session: AsyncSession) -> int:
        query = select(func.count()).where(status_is(ExecutionStatus.RUNNING))
        return int((await session.execute(query)).scalar_one())

    async def backlog(self, session: AsyncSession, now: datetime) -> Backlog:
        due_at = func.coalesce(ScheduledJobExecution.release_at, ScheduledJobExecution.scheduled_at)
        # status_id = pending, as a literal: read through ix_scheduled_job_execution_open, which holds only the
        # open runs (a parameter's generic plan could not match that partial index).
        query = select(func.count(), func.min(due_at)).where(status_is(ExecutionStatus.PENDING), due_at <= now)
        runs, oldest = (await session.execute(query)).one()
        return Backlog(int(runs), oldest)

    async def count_open(self, session: AsyncSession, job_id: int) -> int:
        query = select(func.count()).where(ScheduledJobExecution.job_id == job_id, status_in(_OPEN))
        return int((await session.execute(query)).scalar_one())

    async def running(self, session: AsyncSession, limit: int) -> list[ScheduledJobExecution]:
        query = (
            select(ScheduledJobExecution)
            .options(joinedload(ScheduledJobExecution.status))
            .where(status_is(ExecutionStatus.RUNNING))
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
            # Mirrored on its lock: the executor's next lease renewal returns it.
            await session.execute(
                update(ScheduledJobLock)
                .where(ScheduledJobLock.execution_id == execution_id)
                .values(cancel_requested_by=by)
            )
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
        table: Table = ScheduledJobExecution.__table__  # type: ignore[assignment]
        return await delete_expired(session, table, cutoff, batch_size)


async def delete_expired(
    session: AsyncSession, table: Table, cutoff: datetime, batch_size: int, *conditions: ColumnElement[bool]
) -> int:
    """Delete up to batch_size runs of `table` (the executions, or one of their partitions) that are finished and
    were created before the cutoff, and meet `conditions`; returns how many."""
    # SKIP LOCKED where the database has row locks (SQLite's compiler leaves the clause out: its transaction holds
    # the one write lock): a batch never waits on a run being finished right now.
    batch = (
        select(table.c.id)
        .where(table.c.created_at < cutoff, table.c.status_id.not_in(_UNFINISHED), *conditions)
        .order_by(table.c.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(delete(table).where(table.c.id.in_(batch.scalar_subquery())).returning(table.c.id))
    return len(result.all())
