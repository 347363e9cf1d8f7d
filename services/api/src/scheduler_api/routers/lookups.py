"""Lookup lists for forms and filters: task functions, job types, execution statuses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from scheduler_api.dependencies import Lookups
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import BOOLEAN
from scheduler_core.schemas import ExecutionStatusResponse, JobTypeResponse, TaskFunctionResponse

router = APIRouter(tags=["lookups"])


@router.get(
    "/task-functions",
    response_model=list[TaskFunctionResponse],
    responses=error_responses(422),
    summary="Task functions a job can run",
)
async def get_task_functions(
    service: Lookups,
    include_inactive: Annotated[
        bool,
        Query(description="Also those no executor provides any more (jobs cannot be created with them)."),
        BOOLEAN,
    ] = False,
) -> list[TaskFunctionResponse]:
    return await service.get_task_functions(include_inactive=include_inactive)


@router.get("/job-types", response_model=list[JobTypeResponse], summary="Job types (1 interval, 2 cron)")
async def get_job_types(service: Lookups) -> list[JobTypeResponse]:
    return await service.get_job_types()


@router.get("/execution-statuses", response_model=list[ExecutionStatusResponse], summary="Execution statuses")
async def get_execution_statuses(service: Lookups) -> list[ExecutionStatusResponse]:
    return await service.get_execution_statuses()
