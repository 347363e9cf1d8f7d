"""Schedule preview: next fire times of a schedule being written, or of an existing job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from scheduler_api.dependencies import Preview
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import DECIMAL, JobId
from scheduler_core.schemas.base import Instant
from scheduler_core.schemas.preview import (
    DEFAULT_PREVIEW_COUNT,
    MAX_PREVIEW_COUNT,
    SchedulePreviewRequest,
    SchedulePreviewResponse,
)

router = APIRouter(tags=["schedule"])


@router.post(
    "/schedule/preview",
    response_model=SchedulePreviewResponse,
    responses=error_responses(422),
    summary="Next fire times of a schedule, as if a job with it were created now",
)
async def preview_schedule(body: SchedulePreviewRequest, service: Preview) -> SchedulePreviewResponse:
    return await service.preview_schedule(body)


@router.get(
    "/jobs/{job_id}/preview",
    response_model=SchedulePreviewResponse,
    responses=error_responses(404, 409, 422),
    summary="Next fire times of a job",
)
async def preview_job(
    job_id: JobId,
    service: Preview,
    count: Annotated[
        int, Query(ge=1, le=MAX_PREVIEW_COUNT, description="Fire times wanted."), DECIMAL
    ] = DEFAULT_PREVIEW_COUNT,
    from_: Annotated[
        Instant | None,
        Query(
            alias="from",
            description="Fire times at or after this instant (ISO 8601 with an offset), on the job's own slots; "
            "default: from its next slot.",
        ),
    ] = None,
) -> SchedulePreviewResponse:
    return await service.preview_job(job_id, count, from_)
