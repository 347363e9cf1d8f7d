"""Notification channels (where events are sent) and their deliveries: the create and update bodies, a channel as
the API returns it (its secret never: only whether it has one), and a delivery with its state."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, Field, field_validator

from scheduler_core.notifications import EVENT_TYPES
from scheduler_core.schemas.base import (
    DB_INT_MAX,
    CamelModel,
    CamelRequest,
    Name,
    PartialUpdate,
    StoredText,
    absent_or_value,
    present_means_a_value,
)
from scheduler_core.schemas.pages import Page

URL_MAX_LENGTH: Final = 2048
# http or https, a host (no user:password@: the URL is shown to every Super Admin), then no space and no NUL.
URL_PATTERN: Final = r"^https?://[^\s/?#@\\\u0000]+(?:[/?#][^\s\u0000]*)?$"
# Jobs one channel may be limited to (a longer list is better written as a channel per team).
JOB_IDS_MAX: Final = 100
SECRET_MIN_LENGTH: Final = 16

EventTypeName = Literal["run.failed", "run.missed", "run.skipped", "job.paused", "job.recovered", "job.silent",
                        "executor.lost"]  # fmt: skip
ChannelFormatName = Literal["json", "slack"]
DeliveryStatusName = Literal["pending", "delivered", "failed"]


def _channel_url(value: str) -> str:
    # The pattern's own error would quote the regular expression; this says what the field takes.
    if re.fullmatch(URL_PATTERN, value) is None:
        raise ValueError("must be an http:// or https:// URL with a host, without user:password and spaces")
    return value


ChannelUrl = Annotated[
    StoredText,
    AfterValidator(_channel_url),
    Field(
        min_length=len("http://x"),
        max_length=URL_MAX_LENGTH,
        json_schema_extra={"pattern": URL_PATTERN},  # in place of StoredText's, which this one implies
        description="Where deliveries are POSTed: an http or https URL without credentials. Calls go through the "
        "outbound guard (SCHEDULER_OUTBOUND_ALLOW for private addresses).",
        examples=["https://hooks.example.com/scheduler"],
    ),
]
Events = Annotated[
    list[EventTypeName],
    Field(
        min_length=1,
        max_length=len(EVENT_TYPES),
        json_schema_extra={"uniqueItems": True},
        description="The event types the channel takes: run.failed (a slot's final attempt failed), run.missed, "
        "run.skipped, job.paused (by an operator or after failures), job.recovered (first success after failures), "
        "job.silent (no success within the job's expectSuccessWithinSeconds), executor.lost.",
    ),
]
JobIds = Annotated[
    list[Annotated[int, Field(ge=1, le=DB_INT_MAX)]],
    Field(
        min_length=1,
        max_length=JOB_IDS_MAX,
        json_schema_extra={"uniqueItems": True},
        description="Only these jobs' events (executor.lost, which is about no job, then never comes); null: every "
        "job's.",
    ),
]
Secret = Annotated[
    StoredText,
    Field(
        min_length=SECRET_MIN_LENGTH,
        max_length=255,
        description="Key of the deliveries' signature (X-Scheduler-Signature: HMAC-SHA256). Write-only: never "
        "returned (hasSecret says whether one is set); null or absent: deliveries are not signed.",
    ),
]
ChannelFormat = Annotated[
    ChannelFormatName,
    Field(description='json: the event as JSON; slack: {"text": ...} for Slack-compatible incoming webhooks.'),
]


def _unique(values: list[Any] | None) -> list[Any] | None:
    if values is not None and len(set(values)) != len(values):
        raise ValueError("must not repeat an item")
    return values


class NotificationChannelCreate(CamelRequest):
    name: Name = Field(min_length=1)
    url: ChannelUrl
    events: Events
    job_ids: JobIds | None = None
    secret: Secret | None = None
    format: ChannelFormat = "json"
    enabled: bool = True

    _unique_items = field_validator("events", "job_ids")(_unique)


class NotificationChannelUpdate(PartialUpdate):
    """A partial update: only the fields present change. null clears jobIds (every job's events) and secret
    (unsigned deliveries); the other fields cannot be null."""

    name: Name | None = Field(default=None, min_length=1, json_schema_extra=absent_or_value)
    url: ChannelUrl | None = Field(default=None, json_schema_extra=absent_or_value)
    events: Events | None = Field(default=None, json_schema_extra=absent_or_value)
    job_ids: JobIds | None = None
    secret: Secret | None = None
    format: ChannelFormat | None = Field(default=None, json_schema_extra=absent_or_value)
    enabled: bool | None = Field(default=None, json_schema_extra=absent_or_value)

    _unique_items = field_validator("events", "job_ids")(_unique)

    _not_null = field_validator("name", "url", "events", "format", "enabled")(present_means_a_value)


class NotificationChannelResponse(CamelModel):
    id: int
    name: str
    url: str
    events: list[str]
    job_ids: list[int] | None
    format: ChannelFormatName
    enabled: bool
    has_secret: bool = Field(description="Whether deliveries are signed (the secret itself is never returned).")
    created_at: datetime
    updated_at: datetime | None


class NotificationChannelPage(Page[NotificationChannelResponse]):
    """A page of channels, ordered by id."""


class NotificationDeliveryResponse(CamelModel):
    id: int
    event_id: str = Field(description="The event's id, the same for every channel (receivers deduplicate by it).")
    channel_id: int
    event_type: str
    job_id: int | None
    status: DeliveryStatusName = Field(
        description="pending (to be sent, or sent again after a failed attempt), delivered (a 2xx), or failed "
        "(given up after SCHEDULER_NOTIFICATION_GIVE_UP_AFTER)."
    )
    attempts: int
    next_attempt_at: datetime | None = Field(description="When the next attempt begins; null once not pending.")
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] = Field(description="The event as a json channel receives it.")


class NotificationDeliveryPage(Page[NotificationDeliveryResponse]):
    """A page of a channel's deliveries, newest first."""
