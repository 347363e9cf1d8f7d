"""The scheduling pass's rare statements, in SQLAlchemy: jobs waiting for their first slot, and the events of
slots written missed. The backends add the per-pass claim and write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import Table, and_, bindparam, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.notifications import EventType
from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import ExecutionStatus, ScheduledJob
from scheduler_core.store.outbox import NewExecution
from scheduler_core.store.passes import DueJob, JobAdvance, PassStore
from scheduler_core.store.portable.events import EventOutbox
from scheduler_core.store.types import UTCDateTime

# What claim_due reads of a job, in DueJob's order.
DUE_COLUMNS: Final = (
    ScheduledJob.id,
    ScheduledJob.job_type_id,
    ScheduledJob.interval_seconds,
    ScheduledJob.interval_minutes,
    ScheduledJob.interval_hours,
    ScheduledJob.interval_days,
    ScheduledJob.cron_expression,
    ScheduledJob.timezone,
    ScheduledJob.next_run_at,
    ScheduledJob.misfire_grace_time,
    ScheduledJob.coalesce,
    ScheduledJob.priority,
)
DUE_SQL_COLUMNS: Final = ", ".join(f'"{column.key}"' for column in DUE_COLUMNS)


def schedulable() -> Any:
    """Renders exactly the predicate of ix_scheduled_job_due on each backend ("is_enabled AND ... NOT is_paused"
    on PostgreSQL, "is_enabled = 1 ... is_paused = 0" on SQLite), so the planner can use that partial index.
    `IS 1` / `IS true` would not match it: SQLite then scans the whole table on every timekeeper pass."""
    return and_(ScheduledJob.is_enabled, ScheduledJob.is_active, not_(ScheduledJob.is_paused))


class PortablePasses(PassStore):
    def __init__(self, events: EventOutbox) -> None:
        self._events = events

    async def announce_missed(
        self, session: AsyncSession, rows: Sequence[NewExecution], written: Sequence[str]
    ) -> None:
        """run.missed for the rows a pass wrote missed (past their grace time when it came to them)."""
        missed = [RunSlot(r.execution_id, r.scheduled_at) for r in rows if r.status_id == ExecutionStatus.MISSED]
        if missed:
            inserted = set(written)
            await self._events.add_runs(
                session, EventType.RUN_MISSED, (r for r in missed if r.execution_id in inserted)
            )

    async def claim_unscheduled(self, session: AsyncSession, limit: int) -> list[DueJob]:
        query = (
            select(*DUE_COLUMNS)
            .where(schedulable(), ScheduledJob.next_run_at.is_(None))
            .order_by(ScheduledJob.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [DueJob(**row._asdict()) for row in (await session.execute(query)).all()]

    async def advance(self, session: AsyncSession, advances: Sequence[JobAdvance]) -> None:
        if not advances:
            return
        table: Table = ScheduledJob.__table__  # type: ignore[assignment]
        statement = (
            update(table)
            .where(table.c.id == bindparam("b_job_id"))
            .values(
                next_run_at=bindparam("b_next_run_at"),
                last_run_at=func.coalesce(bindparam("b_last_run_at", type_=UTCDateTime()), table.c.last_run_at),
            )
        )
        # executemany: one round trip for the whole batch.
        await session.execute(
            statement,
            [{"b_job_id": a.job_id, "b_next_run_at": a.next_run_at, "b_last_run_at": a.last_run_at} for a in advances],
        )
