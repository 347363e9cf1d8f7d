"""Scheduled jobs: the create and update bodies, the job as the API returns it, and a page of jobs.

Differences from the reference, all additions: `timezone` (cron jobs), `parameters` (the task's arguments,
checked against its declared JSON schema), `timeoutSeconds`, `isPaused`, `nextRunAt`, `scheduleDescription`,
`createdById`/`updatedById`; notifications: `expectSuccessWithinSeconds` (with the read-only `successExpectedBy`
and `failingSince`); run control: the retry policy (`maxRetries`, `retryDelaySeconds`,
`retryBackoffFactor`, `retryMaxDelaySeconds`), `overlapPolicy`, `pauseAfterFailures` (with the read-only
`consecutiveFailures` and `pausedReason`). `isPrimary`, `isActive` and `isPaused` are never set through a body:
primary jobs are seeded, deletion and pausing have their own endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal, Self

from pydantic import ConfigDict, Field, RootModel, field_validator, model_validator

from scheduler_core.schedule.grammar import CRON_PATTERN, ZONE_PATTERN, is_known_zone
from scheduler_core.schemas.base import (
    DB_INT_MAX,
    CamelModel,
    CamelRequest,
    DbInt,
    JsonObject,
    Name,
    PartialUpdate,
    StoredText,
    Text,
    absent_or_value,
    present_means_a_value,
)
from scheduler_core.schemas.pages import Page

# Priorities RabbitMQ can carry (x-max-priority is at most 255). The service refuses values above the
# deployment's SCHEDULER_MAX_PRIORITY (default 10), since the broker would clamp them and lose their order.
PRIORITY_MAX: Final = 255
MAX_INSTANCES_MAX: Final = 10
# Longest IANA zone name the timezone column holds.
TIMEZONE_MAX_LENGTH: Final = 64
# Longest cron expression the cron_expression column holds.
CRON_MAX_LENGTH: Final = 100
# Most of each interval field: 25 years' worth (9,125 days), so that the four together never pass the 100-year
# bound of a period (scheduler_core.schedule.definition) and the schema states every limit the API applies.
IntervalSeconds = Annotated[int, Field(ge=0, le=788_400_000)]
IntervalMinutes = Annotated[int, Field(ge=0, le=13_140_000)]
IntervalHours = Annotated[int, Field(ge=0, le=219_000)]
IntervalDays = Annotated[int, Field(ge=0, le=9_125)]
_INTERVAL_ALIASES: Final = ("intervalSeconds", "intervalMinutes", "intervalHours", "intervalDays")

# Run control's bounds.
MAX_RETRIES_MAX: Final = 10
RETRY_DELAY_MAX: Final = 86_400  # seconds: a day
RETRY_BACKOFF_MAX: Final = 10.0
RETRY_MAX_DELAY_MAX: Final = 604_800  # seconds: a week
PAUSE_AFTER_FAILURES_MAX: Final = 1000
EXPECT_SUCCESS_MAX: Final = 31_536_000  # seconds: a year
OverlapPolicyName = Literal["skip", "queue", "replace"]
MaxRetries = Annotated[
    int, Field(ge=0, le=MAX_RETRIES_MAX, description="Attempts after a failed (or timed-out, or lost) one; 0: none.")
]
RetryDelay = Annotated[
    int, Field(ge=0, le=RETRY_DELAY_MAX, description="Seconds from a failed attempt's end to the first retry.")
]
RetryBackoff = Annotated[
    float,
    Field(ge=1.0, le=RETRY_BACKOFF_MAX, description="Each further retry waits this many times longer than the last."),
]
RetryMaxDelay = Annotated[
    int,
    Field(ge=0, le=RETRY_MAX_DELAY_MAX, description="Seconds a retry waits at most (before up to 10 % of jitter)."),
]
OverlapPolicyField = Annotated[
    OverlapPolicyName,
    Field(
        description="A run due while max_instances runs are running: skip (recorded skipped), queue (waits for a "
        "free place and starts in slot order, within its misfire grace time) or replace (the oldest running run is "
        "cancelled and this one starts)."
    ),
]
PauseAfterFailures = Annotated[
    int,
    Field(
        ge=0,
        le=PAUSE_AFTER_FAILURES_MAX,
        description="The job pauses itself after this many slots in a row failed (retries exhausted); 0: never.",
    ),
]


ExpectSuccessWithin = Annotated[
    int,
    Field(
        ge=1,
        le=EXPECT_SUCCESS_MAX,
        description="Seconds within which a success is expected: without one, the job is reported silent (event "
        "job.silent), once, counted from its last success (or from when this was set, or it was enabled or resumed); "
        "null: not watched.",
    ),
]


def retry_delays_problem(delay: int, max_delay: int) -> str | None:
    """Why a retry policy's delays do not fit together: the longest wait may not be shorter than the first (the
    cap would shorten the first retry)."""
    if max_delay < delay:
        return f"must not be less than retryDelaySeconds ({delay}); raise it, or lower the delay"
    return None


class TimeZone(RootModel[Annotated[str, Field(max_length=TIMEZONE_MAX_LENGTH)]]):
    """An IANA time zone name, one of the pinned tzdata's (the pattern lists them)."""

    model_config = ConfigDict(
        strict=True, json_schema_extra={"pattern": ZONE_PATTERN, "examples": ["UTC", "Europe/Berlin"]}
    )

    @model_validator(mode="after")
    def _known(self) -> Self:
        if not is_known_zone(self.root):
            raise ValueError(f"unknown time zone {self.root!r}; use an IANA zone name such as 'Europe/Berlin'")
        return self


UTC: Final = TimeZone("UTC")

CronText = Annotated[StoredText, Field(max_length=CRON_MAX_LENGTH, json_schema_extra={"pattern": CRON_PATTERN})]
"""A cron expression. The schema states the grammar the API accepts; the API checks it after its own, more
readable, checks (a pattern mismatch says little about what is wrong)."""


def _one_schedule(schema: dict[str, Any]) -> None:
    """State the schedule rule in the schema: a cron expression and no interval field, or no cron expression
    and at least one interval field of 1 or more (each is at least 0, so their sum is then positive)."""
    cron = {
        "title": "cron schedule",
        "required": ["cronExpression"],
        "properties": {"cronExpression": {"type": "string"}} | {name: {"type": "null"} for name in _INTERVAL_ALIASES},
    }
    interval = {
        "title": "interval schedule",
        "properties": {"cronExpression": {"type": "null"}},
        "anyOf": [
            {"required": [name], "properties": {name: {"type": "integer", "minimum": 1}}} for name in _INTERVAL_ALIASES
        ],
    }
    schema["oneOf"] = [cron, interval]


class ScheduleFields(CamelRequest):
    """A schedule: one or more interval fields (summed) or a cron expression (with its time zone)."""

    model_config = ConfigDict(json_schema_extra=_one_schedule)

    interval_seconds: IntervalSeconds | None = Field(default=None, description="Interval part, in seconds.")
    interval_minutes: IntervalMinutes | None = Field(default=None, description="Interval part, in minutes.")
    interval_hours: IntervalHours | None = Field(default=None, description="Interval part, in hours.")
    interval_days: IntervalDays | None = Field(default=None, description="Interval part, in days (86,400 s each).")
    cron_expression: CronText | None = Field(
        default=None,
        description="Standard 5-field cron expression (or @hourly, @daily, ...). Excludes the interval fields.",
        examples=["0 2 * * *"],
    )
    timezone: TimeZone = Field(
        default=UTC,
        description="IANA zone the cron expression is read in. Interval jobs are zone-free and ignore it.",
    )


class ScheduledJobCreate(ScheduleFields):
    """A new job; its type (interval or cron) follows from which schedule fields are given."""

    task_function_id: int = Field(ge=1, le=DB_INT_MAX, description="The task function the job runs.")
    name_en: Name | None = None
    name_ar: Name | None = None
    description_en: Text | None = None
    description_ar: Text | None = None

    priority: int = Field(
        default=0, ge=0, le=PRIORITY_MAX, description="Higher runs first; at most SCHEDULER_MAX_PRIORITY."
    )
    max_instances: int = Field(default=1, ge=1, le=MAX_INSTANCES_MAX, description="Runs of the job at once.")
    misfire_grace_time: DbInt = Field(
        default=60, description="Seconds after its slot a run may still start; later it is recorded missed."
    )
    coalesce: bool = Field(default=True, description="Fold slots missed during an outage into one run.")
    is_enabled: bool = True
    parameters: JsonObject | None = Field(
        default=None, description="Arguments of the task, checked against its parametersSchema."
    )
    timeout_seconds: int | None = Field(
        default=None, ge=1, le=DB_INT_MAX, description="Run timeout in seconds; null: the executor's default."
    )
    max_retries: MaxRetries = 0
    retry_delay_seconds: RetryDelay = 10
    retry_backoff_factor: RetryBackoff = 2.0
    retry_max_delay_seconds: RetryMaxDelay = 3600
    overlap_policy: OverlapPolicyField = "skip"
    pause_after_failures: PauseAfterFailures = 0
    expect_success_within_seconds: ExpectSuccessWithin | None = None


class ScheduledJobUpdate(PartialUpdate):
    """A partial update: only the fields present change. null clears an optional field (a name, an interval
    part, the cron expression, parameters, timeoutSeconds); the others cannot be null. Giving cron fields to an
    interval job (or interval fields to a cron job) switches its type and clears the other kind's fields."""

    task_function_id: int | None = Field(default=None, ge=1, le=DB_INT_MAX, json_schema_extra=absent_or_value)
    name_en: Name | None = None
    name_ar: Name | None = None
    description_en: Text | None = None
    description_ar: Text | None = None

    interval_seconds: IntervalSeconds | None = None
    interval_minutes: IntervalMinutes | None = None
    interval_hours: IntervalHours | None = None
    interval_days: IntervalDays | None = None
    cron_expression: CronText | None = None
    timezone: TimeZone | None = Field(default=None, json_schema_extra=absent_or_value)

    priority: int | None = Field(default=None, ge=0, le=PRIORITY_MAX, json_schema_extra=absent_or_value)
    max_instances: int | None = Field(default=None, ge=1, le=MAX_INSTANCES_MAX, json_schema_extra=absent_or_value)
    misfire_grace_time: DbInt | None = Field(default=None, json_schema_extra=absent_or_value)
    coalesce: bool | None = Field(default=None, json_schema_extra=absent_or_value)
    is_enabled: bool | None = Field(default=None, json_schema_extra=absent_or_value)
    parameters: JsonObject | None = None
    timeout_seconds: int | None = Field(default=None, ge=1, le=DB_INT_MAX)
    max_retries: MaxRetries | None = Field(default=None, json_schema_extra=absent_or_value)
    retry_delay_seconds: RetryDelay | None = Field(default=None, json_schema_extra=absent_or_value)
    retry_backoff_factor: RetryBackoff | None = Field(default=None, json_schema_extra=absent_or_value)
    retry_max_delay_seconds: RetryMaxDelay | None = Field(default=None, json_schema_extra=absent_or_value)
    overlap_policy: OverlapPolicyField | None = Field(default=None, json_schema_extra=absent_or_value)
    pause_after_failures: PauseAfterFailures | None = Field(default=None, json_schema_extra=absent_or_value)
    expect_success_within_seconds: ExpectSuccessWithin | None = None

    _not_null = field_validator(
        "task_function_id",
        "timezone",
        "priority",
        "max_instances",
        "misfire_grace_time",
        "coalesce",
        "is_enabled",
        "max_retries",
        "retry_delay_seconds",
        "retry_backoff_factor",
        "retry_max_delay_seconds",
        "overlap_policy",
        "pause_after_failures",
    )(present_means_a_value)


class ScheduledJobResponse(CamelModel):
    """A job as the API returns it (every field of the reference's `ScheduledJob`, plus ours)."""

    id: int
    task_function_id: int
    task_function_key: str
    job_type_id: int
    job_type_name: str
    name_en: str | None
    name_ar: str | None
    description_en: str | None
    description_ar: str | None
    cron_expression: str | None
    timezone: str
    interval_seconds: int | None
    interval_minutes: int | None
    interval_hours: int | None
    interval_days: int | None
    schedule_description: str | None = Field(description="The schedule in words, e.g. 'every 30 minutes'.")
    priority: int
    max_instances: int
    misfire_grace_time: int
    coalesce: bool
    parameters: dict[str, Any] | None
    timeout_seconds: int | None
    max_retries: int
    retry_delay_seconds: int
    retry_backoff_factor: float
    retry_max_delay_seconds: int
    overlap_policy: OverlapPolicyName
    pause_after_failures: int
    consecutive_failures: int = Field(
        description="Slots in a row that failed (retries exhausted) since the last success."
    )
    paused_reason: str | None = Field(description="Why the job paused itself (pauseAfterFailures); null otherwise.")
    failing_since: datetime | None = Field(
        description="When the first of the failed slots in a row since the last success failed; null: not failing."
    )
    expect_success_within_seconds: int | None
    success_expected_by: datetime | None = Field(
        description="When its next success is due (expectSuccessWithinSeconds); null: not watched, paused, disabled, "
        "or reported silent until its next success."
    )
    is_enabled: bool
    is_active: bool
    is_primary: bool
    is_paused: bool
    last_run_at: datetime | None
    next_run_at: datetime | None = Field(description="The next slot; null while disabled, paused or deleted.")
    created_at: datetime
    updated_at: datetime | None
    created_by_id: str | None
    updated_by_id: str | None


class ScheduledJobPage(Page[ScheduledJobResponse]):
    """A page of jobs, ordered by id."""
