"""The outbox, in SQLAlchemy: the backends add the two statements of the per-run path (writing runs and
recording confirmations), which each database does its own fastest way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import ColumnElement, Integer, literal_column, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import ExecutionStatus, ScheduledJob, ScheduledJobExecution, Trigger
from scheduler_core.store.outbox import OutboxRun, OutboxStore

# `status_id = 1` rendered as a literal, not a bound parameter: the outbox's partial index is declared on
# `status_id = 1 AND published_at IS NULL`, and a planner can only use it when the query's predicate visibly
# implies the index's (a generic plan of `status_id = $1`, or SQLite's `status_id = ?`, does not).
PENDING_LITERAL: Final[ColumnElement[int]] = literal_column(str(int(ExecutionStatus.PENDING)), Integer())


class PortableOutbox(OutboxStore):
    async def unpublished(self, session: AsyncSession, *, created_before: datetime, limit: int) -> list[OutboxRun]:
        # Two range scans of the outbox's partial index (ordered by created_at, as the index is), not one query
        # with `created_before OR manual`: the OR cannot bound the index scan, which then reads the whole outbox
        # on every relay, even when nothing is due.
        execution = ScheduledJobExecution
        # A run released from waiting (a retry, a queued run) has been on its way since its release_at.
        released_long_ago = or_(execution.release_at.is_(None), execution.release_at < created_before)
        old = await self._outbox_rows(session, limit, execution.created_at < created_before, released_long_ago)
        if len(old) >= limit:
            return old
        on_request = await self._outbox_rows(
            session,
            limit - len(old),
            execution.created_at >= created_before,
            execution.trigger.in_([Trigger.MANUAL, Trigger.BACKFILL]),
        )
        return old + on_request

    @staticmethod
    async def _outbox_rows(session: AsyncSession, limit: int, *conditions: ColumnElement[bool]) -> list[OutboxRun]:
        execution = ScheduledJobExecution
        # The priority as a scalar subquery rather than a join, so the plan stays an ordered index scan that stops
        # after `limit` rows whatever the outbox holds.
        priority = select(ScheduledJob.priority).where(ScheduledJob.id == execution.job_id).scalar_subquery()
        query = (
            select(execution.execution_id, execution.job_id, execution.scheduled_at, priority)
            .where(execution.status_id == PENDING_LITERAL, execution.published_at.is_(None), *conditions)
            .order_by(execution.created_at)
            .limit(limit)
            .with_for_update(of=execution, skip_locked=True)
        )
        return [OutboxRun(r[0], r[1], r[2], r[3]) for r in (await session.execute(query)).all()]

    async def mark_published(self, session: AsyncSession, runs: Sequence[RunSlot], at: datetime) -> None:
        if not runs:
            return
        execution = ScheduledJobExecution
        # By id and slot: on PostgreSQL, only the partitions of the runs' slots (the runs are rows this transaction
        # has locked, read by unpublished(): each id comes with its own slot).
        await session.execute(
            update(execution)
            .where(
                execution.execution_id.in_([run.execution_id for run in runs]),
                execution.scheduled_at.in_(list(dict.fromkeys(run.scheduled_at for run in runs))),
            )
            .values(published_at=at)
        )

    async def forget_all(self, session: AsyncSession) -> int:
        return len(await self._forget(session))

    async def forget_stale_ungraced(
        self, session: AsyncSession, *, published_before: datetime, limit: int
    ) -> list[str]:
        execution = ScheduledJobExecution
        ungraced = or_(execution.trigger != Trigger.SCHEDULE, execution.attempt > 1)
        return await self._forget(session, ungraced, execution.published_at < published_before, limit=limit)

    @staticmethod
    async def _forget(session: AsyncSession, *conditions: ColumnElement[bool], limit: int | None = None) -> list[str]:
        """Clear published_at of the pending runs with a confirmed publish that meet `conditions`, oldest
        confirmation first, up to `limit` (None: all); returns their ids."""
        execution = ScheduledJobExecution
        # Pending runs are few and the open runs' partial index finds them (a literal, as its predicate needs).
        chosen = (
            select(execution.execution_id, execution.scheduled_at)
            .where(execution.status_id == PENDING_LITERAL, execution.published_at.is_not(None), *conditions)
            .order_by(execution.published_at)
            .limit(limit)
        )
        result = await session.execute(
            update(execution)
            # By id and slot (on PostgreSQL, each chosen run's own partition). Re-checked here: a run claimed while
            # this statement waited for its row is left alone.
            .where(
                tuple_(execution.execution_id, execution.scheduled_at).in_(chosen),
                execution.status_id == ExecutionStatus.PENDING,
            )
            .values(published_at=None)
            .returning(execution.execution_id)
        )
        return [row[0] for row in result.all()]
