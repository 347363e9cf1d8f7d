"""Jobs: create, list, get, update, delete, actions (enable, disable, trigger, pause, resume), actions on one of
their runs (cancel, rerun), and backfill."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, status
from pydantic import TypeAdapter, ValidationError

from scheduler_api.dependencies import Actions, Caller, Jobs, Runs, get_services
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import BOOLEAN, DECIMAL, ExecutionId, JobId, PageNumber, PerPage
from scheduler_api.validation import CompleteValidation, checked_further_by
from scheduler_core.schemas import (
    DB_INT_MAX,
    DEFAULT_PER_PAGE,
    BackfillRequest,
    BackfillResponse,
    ExecutionActionRequest,
    ExecutionActionResponse,
    FieldError,
    JobActionRequest,
    JobActionResponse,
    ScheduledJobCreate,
    ScheduledJobPage,
    ScheduledJobResponse,
    ScheduledJobUpdate,
)
from scheduler_core.schemas.base import NO_NUL_PATTERN, accepted_part
from scheduler_core.store import JobFilters

router = APIRouter(tags=["jobs"], route_class=CompleteValidation)
_JOB_ID: Final = TypeAdapter(JobId)


async def _create_problems(request: Request, body: Mapping[str, Any]) -> list[FieldError]:
    accepted, refused = accepted_part(ScheduledJobCreate, body)
    return await get_services(request).jobs.create_problems(accepted, refused)


async def _update_problems(request: Request, body: Mapping[str, Any]) -> list[FieldError]:
    try:
        job_id = _JOB_ID.validate_python(request.path_params.get("job_id"))
    except ValidationError:  # the schema's answer names the path parameter; there is no job to check against
        return []
    accepted, refused = accepted_part(ScheduledJobUpdate, body)
    return await get_services(request).jobs.update_problems(job_id, accepted, refused)


@router.post(
    "/jobs",
    status_code=status.HTTP_201_CREATED,
    response_model=ScheduledJobResponse,
    responses=error_responses(422),
    summary="Create a job (interval or cron, from the fields given)",
)
@checked_further_by(_create_problems)
async def create_job(body: ScheduledJobCreate, service: Jobs, caller: Caller) -> ScheduledJobResponse:
    return await service.create_job(body, caller)


@router.get("/jobs", response_model=ScheduledJobPage, responses=error_responses(422), summary="List jobs (not deleted)")
async def list_jobs(
    service: Jobs,
    page: PageNumber = 1,
    per_page: PerPage = DEFAULT_PER_PAGE,
    is_enabled: Annotated[
        bool | None, Query(description="Only enabled (true) or disabled (false) jobs."), BOOLEAN
    ] = None,
    job_type_id: Annotated[
        int | None, Query(ge=1, le=DB_INT_MAX, description="Only jobs of this type (1 interval, 2 cron)."), DECIMAL
    ] = None,
    name: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=255,
            pattern=NO_NUL_PATTERN,
            description="Only jobs whose English or Arabic name contains this text (any case).",
        ),
    ] = None,
) -> ScheduledJobPage:
    filters = JobFilters(is_enabled=is_enabled, job_type_id=job_type_id, name_contains=name)
    jobs, total = await service.list_jobs(page, per_page, filters)
    return ScheduledJobPage.of(jobs, total=total, page=page, per_page=per_page)


@router.get(
    "/jobs/{job_id}",
    response_model=ScheduledJobResponse,
    responses=error_responses(404, 422),
    summary="Get a job, with its next and last run",
)
async def get_job(job_id: JobId, service: Jobs) -> ScheduledJobResponse:
    return await service.get_job(job_id)


@router.put(
    "/jobs/{job_id}",
    response_model=ScheduledJobResponse,
    responses=error_responses(404, 409, 422),
    summary="Update a job (partial: only the fields given change)",
)
@checked_further_by(_update_problems)
async def update_job(job_id: JobId, body: ScheduledJobUpdate, service: Jobs, caller: Caller) -> ScheduledJobResponse:
    return await service.update_job(job_id, body, caller)


@router.delete(
    "/jobs/{job_id}",
    response_model=ScheduledJobResponse,
    responses=error_responses(404, 409, 422),
    summary="Delete a job (soft: isActive becomes false; history is kept)",
)
async def delete_job(job_id: JobId, service: Jobs, caller: Caller) -> ScheduledJobResponse:
    return await service.delete_job(job_id, caller)


@router.post(
    "/jobs/{job_id}/action",
    response_model=JobActionResponse,
    responses=error_responses(404, 409, 422),
    summary="enable | disable | trigger (run now) | pause | resume",
)
async def perform_action(job_id: JobId, body: JobActionRequest, service: Actions, caller: Caller) -> JobActionResponse:
    return await service.perform_action(job_id, body.action, caller)


@router.post(
    "/jobs/{job_id}/executions/{execution_id}/action",
    response_model=ExecutionActionResponse,
    responses=error_responses(404, 409, 422),
    summary="cancel (a run not ended) | rerun (a finished run, now, as a manual run)",
)
async def perform_execution_action(
    job_id: JobId, execution_id: ExecutionId, body: ExecutionActionRequest, service: Runs, caller: Caller
) -> ExecutionActionResponse:
    return await service.perform_action(job_id, execution_id, body.action, caller)


@router.post(
    "/jobs/{job_id}/backfill",
    response_model=BackfillResponse,
    responses=error_responses(404, 422),
    summary="Run the job's past slots in a range that have no run yet (at most 1,000; idempotent)",
)
async def backfill_job(job_id: JobId, body: BackfillRequest, service: Runs, caller: Caller) -> BackfillResponse:
    return await service.backfill(job_id, body, caller)
