"""Jobs: CRUD for the API, and the timekeeper's claim of due jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core.db.models import ScheduledJob
from scheduler_core.db.repository.clock import is_postgres
from scheduler_core.db.types import UTCDateTime
from scheduler_core.wakeup import WAKEUP_CHANNEL


class JobNotFound(LookupError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


@dataclass(frozen=True, slots=True)
class JobFilters:
    is_enabled: bool | None = None
    job_type_id: int | None = None
    task_function_id: int | None = None
    include_deleted: bool = False


@dataclass(frozen=True, slots=True)
class JobAdvance:
    """A job's new next_run_at, and the slot of the latest run fired for it, if any (becomes last_run_at)."""

    job_id: int
    next_run_at: datetime | None
    last_run_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DueJob:
    """What the timekeeper needs of a due job to plan its runs (a plain snapshot, not an ORM object)."""

    id: int
    job_type_id: int
    interval_seconds: int | None
    interval_minutes: int | None
    interval_hours: int | None
    interval_days: int | None
    cron_expression: str | None
    timezone: str
    next_run_at: datetime | None  # never None from claim_due_jobs
    misfire_grace_time: int
    coalesce: bool
    priority: int


_DUE_COLUMNS = (
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


def _schedulable() -> Any:
    # Renders exactly the predicate of ix_scheduled_job_due on each backend ("is_enabled AND ... NOT is_paused"
    # on PostgreSQL, "is_enabled = 1 ... is_paused = 0" on SQLite), so the planner can use that partial index.
    # `IS 1` / `IS true` would not match it: SQLite then scans the whole table on every timekeeper pass.
    return and_(ScheduledJob.is_enabled, ScheduledJob.is_active, not_(ScheduledJob.is_paused))


class JobRepository:
    # --- reference methods ------------------------------------------------------------------------

    async def create_job(self, session: AsyncSession, job_data: Mapping[str, Any]) -> ScheduledJob:
        job = ScheduledJob(**job_data)
        session.add(job)
        await session.flush()
        return await self._reload(session, job.id)

    async def get_job_by_id(
        self, session: AsyncSession, job_id: int, *, include_deleted: bool = False
    ) -> ScheduledJob | None:
        query = self._with_lookups(select(ScheduledJob)).where(ScheduledJob.id == job_id)
        if not include_deleted:
            query = query.where(ScheduledJob.is_active.is_(True))
        return (await session.execute(query)).scalar_one_or_none()

    async def get_jobs(
        self, session: AsyncSession, filters: JobFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJob], int]:
        conditions: list[ColumnElement[bool]] = []
        if not filters.include_deleted:
            conditions.append(ScheduledJob.is_active.is_(True))
        if filters.is_enabled is not None:
            conditions.append(ScheduledJob.is_enabled.is_(filters.is_enabled))
        if filters.job_type_id is not None:
            conditions.append(ScheduledJob.job_type_id == filters.job_type_id)
        if filters.task_function_id is not None:
            conditions.append(ScheduledJob.task_function_id == filters.task_function_id)
        total = (await session.execute(select(func.count()).select_from(ScheduledJob).where(*conditions))).scalar_one()
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(*conditions)
            .order_by(ScheduledJob.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list((await session.execute(query)).scalars().all()), total

    async def update_job(self, session: AsyncSession, job_id: int, update_data: Mapping[str, Any]) -> ScheduledJob:
        if update_data:
            result = await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
                .values(**update_data, updated_at=func.now())
                .returning(ScheduledJob.id)
            )
            if result.scalar_one_or_none() is None:
                raise JobNotFound(job_id)
        return await self._reload(session, job_id)

    async def soft_delete_job(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        return await self.update_job(session, job_id, {"is_active": False, "next_run_at": None})

    # --- what the service and timekeeper need ------------------------------------------------------

    async def lock_job(self, session: AsyncSession, job_id: int) -> ScheduledJob | None:
        """The active job, row-locked until the transaction ends (serialises actions on one job)."""
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
            .with_for_update(of=ScheduledJob)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def claim_due_jobs(self, session: AsyncSession, now: datetime, limit: int) -> list[DueJob]:
        """Schedulable jobs whose next_run_at <= now, earliest first, row-locked with SKIP LOCKED so that
        concurrent timekeepers each take a disjoint batch instead of waiting on one another."""
        query = (
            select(*_DUE_COLUMNS)
            .where(_schedulable(), ScheduledJob.next_run_at <= now)
            .order_by(ScheduledJob.next_run_at)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        rows = (await session.execute(query)).all()
        return [DueJob(**row._asdict()) for row in rows]

    async def advance_jobs(self, session: AsyncSession, advances: Sequence[JobAdvance]) -> None:
        """Set next_run_at (and last_run_at where a run was fired) of many jobs in one executemany round trip."""
        if not advances:
            return
        table = ScheduledJob.__table__
        statement = (
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("b_job_id"))
            .values(
                next_run_at=bindparam("b_next_run_at"),
                last_run_at=func.coalesce(bindparam("b_last_run_at", type_=UTCDateTime()), table.c.last_run_at),
            )
        )
        await session.execute(
            statement,
            [{"b_job_id": a.job_id, "b_next_run_at": a.next_run_at, "b_last_run_at": a.last_run_at} for a in advances],
        )

    async def claim_unscheduled_jobs(self, session: AsyncSession, limit: int) -> list[DueJob]:
        """Schedulable jobs with no next_run_at yet (seeded by a migration, or written around the API),
        row-locked with SKIP LOCKED; the caller sets their first slot."""
        query = (
            select(*_DUE_COLUMNS)
            .where(_schedulable(), ScheduledJob.next_run_at.is_(None))
            .order_by(ScheduledJob.id)
            .limit(limit)
        )
        if is_postgres(session):
            query = query.with_for_update(skip_locked=True)
        return [DueJob(**row._asdict()) for row in (await session.execute(query)).all()]

    async def earliest_next_run_at(self, session: AsyncSession) -> datetime | None:
        """The soonest slot of any schedulable job: how long a timekeeper may sleep."""
        query = select(func.min(ScheduledJob.next_run_at)).where(_schedulable())
        value = (await session.execute(query)).scalar_one_or_none()
        return value if isinstance(value, datetime) or value is None else None

    async def set_last_run_at(self, session: AsyncSession, job_id: int, at: datetime) -> None:
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id == job_id)
            .values(last_run_at=at)
            .execution_options(synchronize_session=False)
        )

    async def notify_schedule_changed(self, session: AsyncSession) -> None:
        """Wake the timekeepers of other processes when this transaction commits (PostgreSQL NOTIFY is
        transactional). SQLite has no cross-process notification; embedded mode wakes in-process instead."""
        if is_postgres(session):
            await session.execute(select(func.pg_notify(WAKEUP_CHANNEL, "")))

    async def count_jobs(self, session: AsyncSession) -> tuple[int, int]:
        """(active jobs, of which enabled)."""
        query = select(func.count(), func.count().filter(ScheduledJob.is_enabled.is_(True))).where(
            ScheduledJob.is_active.is_(True)
        )
        total, enabled = (await session.execute(query)).one()
        return int(total), int(enabled)

    async def primary_job_for_task(self, session: AsyncSession, task_function_id: int) -> ScheduledJob | None:
        query = self._with_lookups(select(ScheduledJob)).where(
            ScheduledJob.task_function_id == task_function_id,
            ScheduledJob.is_primary.is_(True),
            ScheduledJob.is_active.is_(True),
        )
        return (await session.execute(query.limit(1))).scalar_one_or_none()

    # --- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _with_lookups(query: Select[ScheduledJob]) -> Select[ScheduledJob]:
        return query.options(joinedload(ScheduledJob.task_function), joinedload(ScheduledJob.job_type))

    async def _reload(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        query = (
            self._with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id)
            .execution_options(populate_existing=True)
        )
        job = (await session.execute(query)).scalar_one_or_none()
        if job is None:
            raise JobNotFound(job_id)
        return job
