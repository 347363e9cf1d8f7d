"""Jobs, in SQLAlchemy: the backends add how to wake other processes' timekeepers."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from scheduler_core.store.clock import Clock
from scheduler_core.store.jobs import JobFilters, JobNotFound, JobStore
from scheduler_core.store.models import ScheduledJob


def _with_lookups(query: Select[ScheduledJob]) -> Select[ScheduledJob]:
    return query.options(joinedload(ScheduledJob.task_function), joinedload(ScheduledJob.job_type))


class PortableJobStore(JobStore):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def create(self, session: AsyncSession, values: Mapping[str, Any]) -> ScheduledJob:
        job = ScheduledJob(**values)
        session.add(job)
        await session.flush()
        return await self._reload(session, job.id)

    async def get(self, session: AsyncSession, job_id: int, *, include_deleted: bool = False) -> ScheduledJob | None:
        query = _with_lookups(select(ScheduledJob)).where(ScheduledJob.id == job_id)
        if not include_deleted:
            query = query.where(ScheduledJob.is_active.is_(True))
        return (await session.execute(query)).scalar_one_or_none()

    async def list(
        self, session: AsyncSession, filters: JobFilters, page: int, per_page: int
    ) -> tuple[builtins.list[ScheduledJob], int]:
        conditions: builtins.list[ColumnElement[bool]] = []
        if not filters.include_deleted:
            conditions.append(ScheduledJob.is_active.is_(True))
        if filters.is_enabled is not None:
            conditions.append(ScheduledJob.is_enabled.is_(filters.is_enabled))
        if filters.job_type_id is not None:
            conditions.append(ScheduledJob.job_type_id == filters.job_type_id)
        if filters.task_function_id is not None:
            conditions.append(ScheduledJob.task_function_id == filters.task_function_id)
        if filters.name_contains:
            # A scan of the jobs (thousands, not the runs' millions); autoescape: % and _ are searched as written.
            term = filters.name_contains.lower()
            conditions.append(
                or_(
                    func.lower(ScheduledJob.name_en).contains(term, autoescape=True),
                    func.lower(ScheduledJob.name_ar).contains(term, autoescape=True),
                )
            )
        total = (await session.execute(select(func.count()).select_from(ScheduledJob).where(*conditions))).scalar_one()
        query = (
            _with_lookups(select(ScheduledJob))
            .where(*conditions)
            .order_by(ScheduledJob.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return builtins.list((await session.execute(query)).scalars().all()), total

    async def lock(self, session: AsyncSession, job_id: int) -> ScheduledJob | None:
        query = (
            _with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
            .with_for_update(of=ScheduledJob)
        )
        return (await session.execute(query)).scalar_one_or_none()

    async def update(self, session: AsyncSession, job_id: int, values: Mapping[str, Any]) -> ScheduledJob:
        if values:
            result = await session.execute(
                update(ScheduledJob)
                .where(ScheduledJob.id == job_id, ScheduledJob.is_active.is_(True))
                .values(**values, updated_at=await self._clock.now(session))
                .returning(ScheduledJob.id)
            )
            if result.scalar_one_or_none() is None:
                raise JobNotFound(job_id)
        return await self._reload(session, job_id)

    async def soft_delete(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        return await self.update(session, job_id, {"is_active": False, "next_run_at": None})

    async def count(self, session: AsyncSession) -> tuple[int, int]:
        query = select(func.count(), func.count().filter(ScheduledJob.is_enabled.is_(True))).where(
            ScheduledJob.is_active.is_(True)
        )
        total, enabled = (await session.execute(query)).one()
        return int(total), int(enabled)

    async def earliest_next_run(self, session: AsyncSession) -> datetime | None:
        # The conditions of ix_scheduled_job_due, so that the minimum is read from that index.
        query = select(func.min(ScheduledJob.next_run_at)).where(
            ScheduledJob.is_enabled.is_(True), ScheduledJob.is_active.is_(True), ScheduledJob.is_paused.is_(False)
        )
        earliest: datetime | None = (await session.execute(query)).scalar_one()
        return earliest

    async def primary_for_task(self, session: AsyncSession, task_function_id: int) -> ScheduledJob | None:
        query = _with_lookups(select(ScheduledJob)).where(
            ScheduledJob.task_function_id == task_function_id,
            ScheduledJob.is_primary.is_(True),
            ScheduledJob.is_active.is_(True),
        )
        return (await session.execute(query.limit(1))).scalar_one_or_none()

    async def set_last_run_at(self, session: AsyncSession, job_id: int, at: datetime) -> None:
        await session.execute(
            update(ScheduledJob)
            .where(ScheduledJob.id == job_id)
            .values(last_run_at=at)
            .execution_options(synchronize_session=False)
        )

    async def _reload(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        query = (
            _with_lookups(select(ScheduledJob))
            .where(ScheduledJob.id == job_id)
            .execution_options(populate_existing=True)
        )
        job = (await session.execute(query)).scalar_one_or_none()
        if job is None:
            raise JobNotFound(job_id)
        return job
