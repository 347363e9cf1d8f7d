"""Lookups, in SQLAlchemy (both backends). The upsert of task functions is INSERT … ON CONFLICT (key) DO UPDATE,
which PostgreSQL and SQLite (3.24 and later) spell alike; each backend passes its dialect's `insert`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.lookups import LookupStore, TaskFunctionSpec
from scheduler_core.store.models import SchedulerExecutionStatus, SchedulerJobType, TaskFunction


class _Upsert(Protocol):
    """An INSERT with ON CONFLICT: sqlalchemy.dialects.postgresql.Insert or sqlalchemy.dialects.sqlite.Insert."""

    @property
    def excluded(self) -> Any: ...
    def values(self, rows: list[dict[str, Any]]) -> _Upsert: ...
    def on_conflict_do_update(self, *, index_elements: list[str], set_: dict[str, Any]) -> Any: ...


class PortableLookupStore(LookupStore):
    def __init__(self, insert: Callable[[type[TaskFunction]], _Upsert]) -> None:
        self._insert = insert

    async def task_functions(self, session: AsyncSession, *, active_only: bool = False) -> list[TaskFunction]:
        query = select(TaskFunction).order_by(TaskFunction.id)
        if active_only:
            query = query.where(TaskFunction.is_active.is_(True))
        return list((await session.execute(query)).scalars().all())

    async def task_function(self, session: AsyncSession, task_function_id: int) -> TaskFunction | None:
        return await session.get(TaskFunction, task_function_id)

    async def task_function_by_key(self, session: AsyncSession, key: str) -> TaskFunction | None:
        query = select(TaskFunction).where(TaskFunction.key == key)
        return (await session.execute(query)).scalar_one_or_none()

    async def job_types(self, session: AsyncSession) -> list[SchedulerJobType]:
        return list((await session.execute(select(SchedulerJobType).order_by(SchedulerJobType.id))).scalars())

    async def execution_statuses(self, session: AsyncSession) -> list[SchedulerExecutionStatus]:
        query = select(SchedulerExecutionStatus).order_by(SchedulerExecutionStatus.id)
        return list((await session.execute(query)).scalars().all())

    async def upsert_task_functions(self, session: AsyncSession, specs: Sequence[TaskFunctionSpec]) -> None:
        if not specs:
            return
        statement = self._insert(TaskFunction).values(_rows(specs))
        refreshed = {name: statement.excluded[name] for name in _UPSERTED_COLUMNS}
        await session.execute(statement.on_conflict_do_update(index_elements=["key"], set_=refreshed))


def _rows(specs: Sequence[TaskFunctionSpec]) -> list[dict[str, Any]]:
    """The rows an upsert writes for these specs (marked active)."""
    return [
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


# Columns an upsert refreshes from the new row when the key exists.
_UPSERTED_COLUMNS = ("name_en", "name_ar", "description_en", "description_ar", "parameters_schema", "is_active")
