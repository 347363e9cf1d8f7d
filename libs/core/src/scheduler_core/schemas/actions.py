"""Job actions: enable, disable, trigger (run now), pause, resume."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scheduler_core.schemas.base import CamelModel, CamelRequest
from scheduler_core.schemas.jobs import ScheduledJobResponse

JobAction = Literal["enable", "disable", "trigger", "pause", "resume"]


class JobActionRequest(CamelRequest):
    action: JobAction


class JobActionResponse(CamelModel):
    success: bool
    message: str
    execution_id: str | None = Field(default=None, description="The run created by `trigger`.")
    job: ScheduledJobResponse
