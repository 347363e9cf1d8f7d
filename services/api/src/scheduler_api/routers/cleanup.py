"""History cleanup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from scheduler_api.dependencies import Caller, Cleanup
from scheduler_api.errors import error_responses
from scheduler_core.schemas import CleanupRequest, CleanupResponse

router = APIRouter(tags=["maintenance"])


@router.post(
    "/cleanup",
    response_model=CleanupResponse,
    responses=error_responses(409, 422),
    summary="Delete finished executions older than retentionDays (default 30), and audit entries older than "
    "SCHEDULER_AUDIT_RETENTION_DAYS; 409 while another cleanup runs",
)
async def cleanup_history(
    service: Cleanup, caller: Caller, body: Annotated[CleanupRequest | None, Body()] = None
) -> CleanupResponse:
    request = body or CleanupRequest()
    return await service.cleanup_history(caller, request.retention_days)
