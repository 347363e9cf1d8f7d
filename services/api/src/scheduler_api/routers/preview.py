"""Schedule preview: next fire times of a schedule being written, or of an existing job."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from scheduler_api.dependencies import Preview, get_services
from scheduler_api.errors import error_responses
from scheduler_api.routers.query import DECIMAL, JobId
from scheduler_api.validation import CompleteValidation, checked_further_by
from scheduler_core.schemas import FieldError
from scheduler_core.schemas.base import Instant, accepted_part
from scheduler_core.schemas.preview import (
    DEFAULT_PREVIEW_COUNT,
    MAX_PREVIEW_COUNT,
    SchedulePreviewRequest,
    SchedulePreviewResponse,
)

router = APIRouter(tags=["schedule"], route_class=CompleteValidation)


async def _preview_problems(request: Request, body: Mapping[str, Any]) -> list[FieldError]:
    accepted, refused = accepted_part(SchedulePreviewRequest, body)
    return get_services(request).preview.preview_problems(accepted, refused)


@router.post(
    "/schedule/preview",
    response_model=SchedulePreviewResponse,
    responses=error_responses(422),
    summary="Next fire times of a schedule, as if a job with it were created now",
)
@checked_further_by(_preview_problems)
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
