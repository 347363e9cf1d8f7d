"""The scheduler's status: instances, counters, last heartbeat, runs in progress."""

from __future__ import annotations

from fastapi import APIRouter

from scheduler_api.dependencies import Status
from scheduler_core.schemas import SchedulerStatusResponse

router = APIRouter(tags=["status"])


@router.get("/status", response_model=SchedulerStatusResponse, summary="Instances, counters and runs in progress")
async def get_status(service: Status) -> SchedulerStatusResponse:
    return await service.get_status()
