"""History cleanup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from scheduler_api.dependencies import Cleanup
from scheduler_api.errors import error_responses
from scheduler_core.schemas import CleanupRequest, CleanupResponse

router = APIRouter(tags=["maintenance"])


@router.post(
    "/cleanup",
    response_model=CleanupResponse,
    responses=error_responses(422),
    summary="Delete finished executions older than retentionDays (default 30)",
)
async def cleanup_history(service: Cleanup, body: Annotated[CleanupRequest | None, Body()] = None) -> CleanupResponse:
    request = body or CleanupRequest()
    return await service.cleanup_history(request.retention_days)
