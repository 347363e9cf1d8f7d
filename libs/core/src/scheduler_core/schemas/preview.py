"""Schedule preview: the next fire times of a schedule (the create form) or of an existing job."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from pydantic import Field

from scheduler_core.schemas.base import CamelModel, Instant
from scheduler_core.schemas.jobs import ScheduleFields

DEFAULT_PREVIEW_COUNT: Final = 5
MAX_PREVIEW_COUNT: Final = 50


class SchedulePreviewRequest(ScheduleFields):
    count: int = Field(default=DEFAULT_PREVIEW_COUNT, ge=1, le=MAX_PREVIEW_COUNT, description="Fire times wanted.")
    from_: Instant | None = Field(
        default=None,
        alias="from",
        description="Fire times at or after this instant (ISO 8601 with an offset); default: after now.",
    )


class SchedulePreviewResponse(CamelModel):
    job_type_id: int
    job_type_name: str
    description: str = Field(description="The schedule in words.")
    timezone: str
    fire_times: list[datetime] = Field(description="Next fire times (UTC), ascending; fewer if it stops firing.")
