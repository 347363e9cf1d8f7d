"""Stored rows as the API returns them."""

from __future__ import annotations

from typing import Final

from scheduler_core.schedule import ScheduleError, describe_schedule, schedule_of
from scheduler_core.schemas import (
    NotificationChannelResponse,
    NotificationDeliveryResponse,
    ScheduledJobExecutionResponse,
    ScheduledJobResponse,
)
from scheduler_core.store.models import (
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
    ScheduledJob,
    ScheduledJobExecution,
)

_JOB_COLUMNS: Final = frozenset(ScheduledJob.__table__.columns.keys())
_EXECUTION_COLUMNS: Final = frozenset(ScheduledJobExecution.__table__.columns.keys())


def _describe(job: ScheduledJob) -> str | None:
    try:
        return describe_schedule(schedule_of(job))
    except ScheduleError:
        return None


def job_response(job: ScheduledJob) -> ScheduledJobResponse:
    """The response of a job loaded with its task function and job type (JobStore's reads do)."""
    columns = {name: getattr(job, name) for name in ScheduledJobResponse.model_fields if name in _JOB_COLUMNS}
    return ScheduledJobResponse(
        **columns,
        task_function_key=job.task_function.key,
        job_type_name=job.job_type.name,
        schedule_description=_describe(job),
    )


def execution_response(execution: ScheduledJobExecution) -> ScheduledJobExecutionResponse:
    """The response of an execution loaded with its status (HistoryStore's reads do)."""
    columns = {
        name: getattr(execution, name)
        for name in ScheduledJobExecutionResponse.model_fields
        if name in _EXECUTION_COLUMNS
    }
    first = columns.pop("first_execution_id") or execution.execution_id  # NULL on a first attempt
    return ScheduledJobExecutionResponse(**columns, first_execution_id=first, status_name=execution.status.name)


def channel_response(channel: NotificationChannel) -> NotificationChannelResponse:
    """A channel without its secret: only whether it has one."""
    return NotificationChannelResponse(
        id=channel.id,
        name=channel.name,
        url=channel.url,
        events=list(channel.events),
        job_ids=None if channel.job_ids is None else list(channel.job_ids),
        format="slack" if channel.format == "slack" else "json",
        enabled=channel.enabled,
        has_secret=bool(channel.secret),
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def delivery_response(delivery: NotificationDelivery) -> NotificationDeliveryResponse:
    pending = delivery.status == DeliveryStatus.PENDING
    return NotificationDeliveryResponse.model_validate(
        {
            **{name: getattr(delivery, name) for name in NotificationDeliveryResponse.model_fields},
            "next_attempt_at": delivery.next_attempt_at if pending else None,
        }
    )
