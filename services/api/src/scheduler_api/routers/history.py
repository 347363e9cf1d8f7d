"""Execution history: of one job and across all jobs, paged, newest first."""

from __future__ import annotations

from fastapi import APIRouter

from scheduler_api.dependencies import History
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import JobId, PageNumber, PerPage, StatusFilter
from scheduler_core.schemas import DEFAULT_PER_PAGE, ScheduledJobExecutionPage
from scheduler_core.store import ExecutionFilters

router = APIRouter(tags=["history"])


@router.get(
    "/jobs/{job_id}/history",
    response_model=ScheduledJobExecutionPage,
    responses=error_responses(404, 422),
    summary="Runs of one job, newest first",
)
async def get_job_history(
    job_id: JobId,
    service: History,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status_id: StatusFilter = None,
) -> ScheduledJobExecutionPage:
    items, total = await service.get_job_history(job_id, ExecutionFilters(status_id=status_id), page, per_page)
    return ScheduledJobExecutionPage.of(items, total=total, page=page, per_page=per_page)


@router.get(
    "/history",
    response_model=ScheduledJobExecutionPage,
    responses=error_responses(422),
    summary="Runs of all jobs, newest first",
)
async def get_all_history(
    service: History,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status_id: StatusFilter = None,
) -> ScheduledJobExecutionPage:
    items, total = await service.get_all_history(ExecutionFilters(status_id=status_id), page, per_page)
    return ScheduledJobExecutionPage.of(items, total=total, page=page, per_page=per_page)
