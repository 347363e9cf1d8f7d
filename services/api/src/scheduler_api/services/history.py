"""History: runs of one job, or of every job, paged, newest first."""

from __future__ import annotations

from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_api.services.responses import execution_response
from scheduler_core.schemas import ScheduledJobExecutionResponse
from scheduler_core.store import ExecutionFilters


class HistoryService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def get_job_history(
        self, job_id: int, filters: ExecutionFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJobExecutionResponse], int]:
        """Runs of one job, newest first. Deleted jobs keep their history (and it stays readable here)."""
        async with self._sessionmaker() as session:
            if await self._store.jobs.get(session, job_id, include_deleted=True) is None:
                raise job_not_found(job_id)
            executions, total = await self._store.history.page(session, job_id, filters, page, per_page)
            return [execution_response(execution) for execution in executions], total

    async def get_all_history(
        self, filters: ExecutionFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJobExecutionResponse], int]:
        async with self._sessionmaker() as session:
            executions, total = await self._store.history.page(session, None, filters, page, per_page)
            return [execution_response(execution) for execution in executions], total
