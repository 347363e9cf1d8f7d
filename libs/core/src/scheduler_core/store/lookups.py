"""Lookup tables: task functions (registered by executors, or by `migrate`), job types, execution statuses."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core.store.models import SchedulerExecutionStatus, SchedulerJobType, TaskFunction


@dataclass(frozen=True, slots=True)
class TaskFunctionSpec:
    key: str
    name_en: str
    name_ar: str
    description_en: str | None = None
    description_ar: str | None = None
    parameters_schema: dict[str, Any] | None = None


class LookupStore(ABC):
    @abstractmethod
    async def task_functions(self, session: AsyncSession, *, active_only: bool = False) -> list[TaskFunction]:
        """Task functions ordered by id."""

    @abstractmethod
    async def task_function(self, session: AsyncSession, task_function_id: int) -> TaskFunction | None: ...

    @abstractmethod
    async def task_function_by_key(self, session: AsyncSession, key: str) -> TaskFunction | None: ...

    @abstractmethod
    async def job_types(self, session: AsyncSession) -> list[SchedulerJobType]:
        """The seeded job types, ordered by id (1 interval, 2 cron)."""

    @abstractmethod
    async def execution_statuses(self, session: AsyncSession) -> list[SchedulerExecutionStatus]:
        """The seeded execution statuses, ordered by id (ExecutionStatus's values)."""

    @abstractmethod
    async def upsert_task_functions(self, session: AsyncSession, specs: Sequence[TaskFunctionSpec]) -> None:
        """Insert or refresh task functions by key and mark them active, in one statement (idempotent: the same
        specs twice leave the same rows). Keys not given are left as they are: another executor version may still
        provide them."""
