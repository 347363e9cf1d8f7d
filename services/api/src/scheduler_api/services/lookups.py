"""Lookup lists for forms and filters: task functions, job types, execution statuses."""

from __future__ import annotations

from scheduler_api.services.context import ServiceContext
from scheduler_core.schemas import ExecutionStatusResponse, JobTypeResponse, TaskFunctionResponse


class LookupService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def get_task_functions(self, *, include_inactive: bool = False) -> list[TaskFunctionResponse]:
        async with self._sessionmaker() as session:
            functions = await self._store.lookups.task_functions(session, active_only=not include_inactive)
            return [TaskFunctionResponse.model_validate(function) for function in functions]

    async def get_job_types(self) -> list[JobTypeResponse]:
        async with self._sessionmaker() as session:
            return [JobTypeResponse.model_validate(row) for row in await self._store.lookups.job_types(session)]

    async def get_execution_statuses(self) -> list[ExecutionStatusResponse]:
        async with self._sessionmaker() as session:
            statuses = await self._store.lookups.execution_statuses(session)
            return [ExecutionStatusResponse.model_validate(row) for row in statuses]
