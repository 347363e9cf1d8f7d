"""Request and response schemas of the API (camelCase JSON via `CamelModel`), shared with the CLI and tests."""

from scheduler_core.schemas.actions import (
    ExecutionAction,
    ExecutionActionRequest,
    ExecutionActionResponse,
    JobAction,
    JobActionRequest,
    JobActionResponse,
)
from scheduler_core.schemas.backfill import MAX_BACKFILL_SLOTS, BackfillRequest, BackfillResponse
from scheduler_core.schemas.base import DB_INT_MAX, CamelModel, CamelRequest
from scheduler_core.schemas.cleanup import CleanupRequest, CleanupResponse
from scheduler_core.schemas.errors import ErrorResponse, FieldError
from scheduler_core.schemas.executions import ScheduledJobExecutionPage, ScheduledJobExecutionResponse
from scheduler_core.schemas.health import HealthResponse, ReadinessResponse, ReadinessWarning
from scheduler_core.schemas.jobs import (
    ScheduledJobCreate,
    ScheduledJobPage,
    ScheduledJobResponse,
    ScheduledJobUpdate,
    ScheduleFields,
)
from scheduler_core.schemas.lookups import ExecutionStatusResponse, JobTypeResponse, TaskFunctionResponse
from scheduler_core.schemas.pages import DEFAULT_PER_PAGE, MAX_PER_PAGE, Page
from scheduler_core.schemas.preview import SchedulePreviewRequest, SchedulePreviewResponse
from scheduler_core.schemas.status import SchedulerInstanceResponse, SchedulerStatusResponse

__all__ = [
    "DB_INT_MAX",
    "DEFAULT_PER_PAGE",
    "MAX_BACKFILL_SLOTS",
    "MAX_PER_PAGE",
    "BackfillRequest",
    "BackfillResponse",
    "CamelModel",
    "CamelRequest",
    "CleanupRequest",
    "CleanupResponse",
    "ErrorResponse",
    "ExecutionAction",
    "ExecutionActionRequest",
    "ExecutionActionResponse",
    "ExecutionStatusResponse",
    "FieldError",
    "HealthResponse",
    "JobAction",
    "JobActionRequest",
    "JobActionResponse",
    "JobTypeResponse",
    "Page",
    "ReadinessResponse",
    "ReadinessWarning",
    "ScheduleFields",
    "SchedulePreviewRequest",
    "SchedulePreviewResponse",
    "ScheduledJobCreate",
    "ScheduledJobExecutionPage",
    "ScheduledJobExecutionResponse",
    "ScheduledJobPage",
    "ScheduledJobResponse",
    "ScheduledJobUpdate",
    "SchedulerInstanceResponse",
    "SchedulerStatusResponse",
    "TaskFunctionResponse",
]
