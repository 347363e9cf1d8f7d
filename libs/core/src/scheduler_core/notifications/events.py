"""The events a channel can subscribe to, and the JSON document each delivery carries (its envelope).

    run.failed     a slot's final attempt failed (its retries, if any, exhausted); not each failed attempt
    run.missed     a slot was not run: past its misfire grace time (written late, claimed late, or never claimed)
    run.skipped    a slot was not run: its job already had max_instances runs going (overlap policy skip)
    job.paused     a job was paused: by an operator, or by itself after pauseAfterFailures failed slots in a row
    job.recovered  a job's first successful slot after one or more failed ones
    job.silent     a job had no success within its expectSuccessWithinSeconds (reported once per silence)
    executor.lost  an executor was declared dead by the recovery sweep (its running runs are failed)

The envelope: {"id": event id (UUID, the same for every channel; a receiver deduplicates by it), "type",
"occurredAt" (ISO 8601, UTC), "job": {"id", "nameEn", "nameAr"} or null, "data": what the type adds}."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal


class EventType(StrEnum):
    RUN_FAILED = "run.failed"
    RUN_MISSED = "run.missed"
    RUN_SKIPPED = "run.skipped"
    JOB_PAUSED = "job.paused"
    JOB_RECOVERED = "job.recovered"
    JOB_SILENT = "job.silent"
    EXECUTOR_LOST = "executor.lost"


EVENT_TYPES: Final = tuple(event.value for event in EventType)

ChannelFormat = Literal["json", "slack"]
"""A channel's body: the envelope as JSON, or a Slack-compatible {"text": ...} (incoming webhooks)."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something to announce, as the transaction that records it knows it (the job's names are added when the
    event is written to the outbox)."""

    type: EventType
    occurred_at: datetime
    job_id: int | None = None
    data: Mapping[str, Any] = field(default_factory=dict)  # JSON values only (instants as `instant` text)


def instant(value: datetime | None) -> str | None:
    """An instant as the envelope writes it: ISO 8601 in UTC with a Z, to the microsecond."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def envelope(event_id: str, event: Event, job: Mapping[str, Any] | None) -> dict[str, Any]:
    """The document a delivery carries. `job`: {"id", "nameEn", "nameAr"} of the event's job, if it has one."""
    return {
        "id": event_id,
        "type": str(event.type),
        "occurredAt": instant(event.occurred_at),
        "job": None if job is None else dict(job),
        "data": dict(event.data),
    }
