"""Actions: on a job (enable, disable, trigger (run now), pause, resume) and on one of its runs (cancel, rerun)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from scheduler_core.schemas.base import CamelModel, CamelRequest
from scheduler_core.schemas.executions import ScheduledJobExecutionResponse
from scheduler_core.schemas.jobs import ScheduledJobResponse

JobAction = Literal["enable", "disable", "trigger", "pause", "resume"]


class JobActionRequest(CamelRequest):
    action: JobAction


class JobActionResponse(CamelModel):
    success: bool
    message: str
    execution_id: str | None = Field(default=None, description="The run created by `trigger`.")
    job: ScheduledJobResponse


ExecutionAction = Literal["cancel", "rerun"]


class ExecutionActionRequest(CamelRequest):
    action: ExecutionAction = Field(
        description="cancel: a run not started yet is cancelled at once; a running one is asked to stop (its "
        "executor cancels its task within a heartbeat, and records it cancelled). rerun: a finished run runs again "
        "now, as a manual run with the job's current parameters (rerunOf links it to the original)."
    )


class ExecutionActionResponse(CamelModel):
    success: bool
    message: str
    execution: ScheduledJobExecutionResponse = Field(
        description="cancel: the run, as it stands now; rerun: the new run."
    )
