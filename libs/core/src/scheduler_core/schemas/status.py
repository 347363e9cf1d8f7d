"""The scheduler's status: the reference's counters plus the instances and the runs in progress."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from scheduler_core.schemas.base import CamelModel
from scheduler_core.schemas.executions import ScheduledJobExecutionResponse


class SchedulerInstanceResponse(CamelModel):
    """One service process (api, timekeeper, executor, or embedded) that has not stopped."""

    id: str
    name: str
    role: str
    mode: str
    status: str
    host_name: str
    process_id: int
    started_at: datetime
    last_heartbeat: datetime
    heartbeat_age_seconds: float = Field(description="Seconds since its last heartbeat (database clock).")
    is_live: bool = Field(description="Heartbeat younger than SCHEDULER_INSTANCE_TIMEOUT.")


class SchedulerStatusResponse(CamelModel):
    is_running: bool = Field(description="At least one instance is live.")
    mode: str = Field(description="'embedded' or 'standalone': how this API runs.")
    instance_id: str = Field(description="This API process's instance id.")
    active_instances: int = Field(description="Live instances.")
    total_jobs: int = Field(description="Jobs not deleted.")
    enabled_jobs: int
    running_executions: int
    last_heartbeat: datetime = Field(description="Most recent heartbeat of a live instance (of any, if none is live).")
    instances: list[SchedulerInstanceResponse]
    executions_in_progress: list[ScheduledJobExecutionResponse] = Field(
        description="Running executions, longest-running first (at most 100)."
    )
