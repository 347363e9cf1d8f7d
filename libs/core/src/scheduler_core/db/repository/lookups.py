"""Lookup tables: task functions (upserted by executors at start-up), job types, execution statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.db.models import SchedulerExecutionStatus, SchedulerJobType, TaskFunction
from scheduler_core.db.repository.clock import is_postgres


@dataclass(frozen=True, slots=True)
class TaskFunctionSpec:
    key: str
    name_en: str
    name_ar: str
    description_en: str | None = None
    description_ar: str | None = None
    parameters_schema: dict[str, Any] | None = None


class LookupRepository:
    async def get_task_functions(self, session: AsyncSession, *, active_only: bool = False) -> list[TaskFunction]:
        query = select(TaskFunction).order_by(TaskFunction.id)
        if active_only:
            query = query.where(TaskFunction.is_active.is_(True))
        return list((await session.execute(query)).scalars().all())

    async def get_task_function(self, session: AsyncSession, task_function_id: int) -> TaskFunction | None:
        return await session.get(TaskFunction, task_function_id)

    async def get_task_function_by_key(self, session: AsyncSession, key: str) -> TaskFunction | None:
        query = select(TaskFunction).where(TaskFunction.key == key)
        return (await session.execute(query)).scalar_one_or_none()

    async def get_job_types(self, session: AsyncSession) -> list[SchedulerJobType]:
        return list((await session.execute(select(SchedulerJobType).order_by(SchedulerJobType.id))).scalars())

    async def get_execution_statuses(self, session: AsyncSession) -> list[SchedulerExecutionStatus]:
        query = select(SchedulerExecutionStatus).order_by(SchedulerExecutionStatus.id)
        return list((await session.execute(query)).scalars().all())

    async def upsert_task_functions(self, session: AsyncSession, specs: Sequence[TaskFunctionSpec]) -> None:
        """Insert or refresh task functions by key and mark them active (executors call this at start-up).
        Keys no longer registered are left as they are: another executor version may still provide them."""
        if not specs:
            return
        rows = [
            {
                "key": s.key,
                "name_en": s.name_en,
                "name_ar": s.name_ar,
                "description_en": s.description_en,
                "description_ar": s.description_ar,
                "parameters_schema": s.parameters_schema,
                "is_active": True,
            }
            for s in specs
        ]
        insert_ = pg_insert if is_postgres(session) else sqlite_insert
        statement = insert_(TaskFunction).values(rows)
        excluded = statement.excluded
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["key"],
                set_={
                    "name_en": excluded.name_en,
                    "name_ar": excluded.name_ar,
                    "description_en": excluded.description_en,
                    "description_ar": excluded.description_ar,
                    "parameters_schema": excluded.parameters_schema,
                    "is_active": excluded.is_active,
                },
            )
        )
