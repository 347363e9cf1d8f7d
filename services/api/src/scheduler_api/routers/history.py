"""Execution history: of one job and across all jobs, filtered, newest slot first, paged by number or cursor."""

from __future__ import annotations

from fastapi import APIRouter

from scheduler_api.dependencies import History
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import (
    Cursor,
    JobFilter,
    JobId,
    PageNumber,
    PerPage,
    SlotsFrom,
    SlotsTo,
    StatusFilter,
    TriggerFilter,
)
from scheduler_core.schemas import DEFAULT_PER_PAGE, ScheduledJobExecutionPage
from scheduler_core.store import ExecutionFilters

router = APIRouter(tags=["history"])


@router.get(
    "/jobs/{job_id}/history",
    response_model=ScheduledJobExecutionPage,
    responses=error_responses(404, 422),
    summary="Runs of one job, newest slot first",
)
async def get_job_history(
    job_id: JobId,
    service: History,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    status_id: StatusFilter = None,
    trigger: TriggerFilter = None,
    from_: SlotsFrom = None,
    to: SlotsTo = None,
    cursor: Cursor = None,
) -> ScheduledJobExecutionPage:
    filters = ExecutionFilters(
        job_id=job_id, status_id=status_id, trigger=trigger, scheduled_from=from_, scheduled_to=to
    )
    return await service.page(filters, page=page, per_page=per_page, cursor=cursor, of_job=True)


@router.get(
    "/history",
    response_model=ScheduledJobExecutionPage,
    responses=error_responses(422),
    summary="Runs of all jobs, newest slot first",
)
async def get_all_history(
    service: History,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    job_id: JobFilter = None,
    status_id: StatusFilter = None,
    trigger: TriggerFilter = None,
    from_: SlotsFrom = None,
    to: SlotsTo = None,
    cursor: Cursor = None,
) -> ScheduledJobExecutionPage:
    filters = ExecutionFilters(
        job_id=job_id, status_id=status_id, trigger=trigger, scheduled_from=from_, scheduled_to=to
    )
    return await service.page(filters, page=page, per_page=per_page, cursor=cursor)
