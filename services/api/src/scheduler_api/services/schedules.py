"""A job's schedule as the API handles it: checked from request fields, merged into a stored job on update,
turned into columns, read back from a stored job, and listed ahead."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from pydantic.alias_generators import to_camel

from scheduler_api.errors import Conflict
from scheduler_core.schedule import (
    INTERVAL_FIELDS,
    SCHEDULE_FIELDS,
    CronSchedule,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    describe_schedule,
    next_fire_time,
    schedule_from_fields,
    schedule_of,
)
from scheduler_core.schedule.grammar import is_accepted_cron
from scheduler_core.schemas import FieldError, SchedulePreviewResponse
from scheduler_core.store.models import JobType, ScheduledJob

# Zone of interval jobs, which are zone-free.
UTC_ZONE: Final = "UTC"
# Why a cron expression that croniter reads and that fires is still refused: it is outside the schema's pattern.
OUTSIDE_GRAMMAR: Final = (
    "is not in the form this API accepts: five fields of numbers, names (JAN-DEC, SUN-SAT), *, ranges, steps "
    "and lists (no L, W, # or ?), or an @-alias; with day-of-week *, the day-of-month must hold a day up to 29, "
    "a 30th with a month other than February, or a month of 31 days must be among the months (the schema's "
    "pattern states it)"
)


def checked_schedule(
    fields: Mapping[str, Any], problems: list[FieldError], *, check_grammar: bool = True
) -> Schedule | None:
    """The schedule of these fields, or None with the reason added to `problems`. A cron expression must also be
    one the schema's pattern accepts (`check_grammar`; an update leaves an unchanged stored expression alone)."""
    try:
        schedule = schedule_from_fields(fields)
    except ScheduleError as exc:
        problems.append(FieldError(field=exc.field, reason=exc.reason))
        return None
    expression = fields.get("cron_expression")
    if check_grammar and isinstance(expression, str) and not is_accepted_cron(expression):
        problems.append(FieldError(field="cronExpression", reason=OUTSIDE_GRAMMAR))
        return None
    return schedule


# Values standing in for schedule fields the schema refused, so that the rules between the schedule's fields still
# apply to the others (a cron expression beside an interval field whose value was refused is still both kinds);
# any problem the stand-in itself would raise is left out (not_about). A refused zone is left to the default
# (create) or the job's own (update).
_SCHEDULE_STAND_INS: Final = {
    **dict.fromkeys(INTERVAL_FIELDS, 1),
    "cron_expression": "* * * * *",
}


def stand_ins(refused: frozenset[str]) -> dict[str, Any]:
    """Stand-ins for the schedule fields among `refused` (Python names)."""
    return {name: value for name, value in _SCHEDULE_STAND_INS.items() if name in refused}


def not_about(refused: frozenset[str], problems: list[FieldError]) -> list[FieldError]:
    """The problems that are not about a refused field (the schema's answer names those already)."""
    named = {to_camel(name) for name in refused} | refused
    return [problem for problem in problems if problem.field.split(".", 1)[0] not in named]


def merged_schedule_fields(job: ScheduledJob, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The job's schedule fields with `changes` applied. Giving a cron expression without interval fields makes
    (or keeps) it a cron job and drops its interval parts; giving interval fields without a cron expression
    drops the cron expression. Giving both is left for build_schedule to refuse."""
    merged = {name: getattr(job, name) for name in SCHEDULE_FIELDS}
    cron_given = changes.get("cron_expression") is not None
    interval_given = any(changes.get(name) is not None for name in INTERVAL_FIELDS)
    if cron_given and not interval_given:
        merged.update(dict.fromkeys(INTERVAL_FIELDS))
    elif interval_given and not cron_given:
        merged["cron_expression"] = None
    merged.update((name, changes[name]) for name in SCHEDULE_FIELDS if name in changes)
    return merged


def schedule_columns(schedule: Schedule, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule columns of a job with this (valid) schedule: the other kind's fields cleared, the cron
    expression trimmed, and the zone of interval jobs (which ignore it) UTC."""
    if isinstance(schedule, CronSchedule):
        return {
            **dict.fromkeys(INTERVAL_FIELDS),
            "cron_expression": schedule.expression,
            "timezone": schedule.timezone,
        }
    return {**{name: fields.get(name) for name in INTERVAL_FIELDS}, "cron_expression": None, "timezone": UTC_ZONE}


def job_type(schedule: Schedule) -> JobType:
    return JobType.CRON if isinstance(schedule, CronSchedule) else JobType.INTERVAL


def job_schedule(job: ScheduledJob) -> Schedule:
    """The schedule of a stored job. Jobs are validated when written, so failing here means the row was changed
    behind the API's back: a conflict the operator fixes with a PUT."""
    try:
        return schedule_of(job)
    except ScheduleError as exc:
        raise Conflict(f"job {job.id} has an invalid schedule ({exc.field}: {exc.reason}); fix it with PUT") from exc


def upcoming(schedule: Schedule, after: datetime, count: int, *, anchor: datetime | None = None) -> list[datetime]:
    """The first `count` fire times strictly after `after` (fewer if the schedule stops firing)."""
    times: list[datetime] = []
    while len(times) < count:
        following = next_fire_time(schedule, times[-1] if times else after, anchor=anchor)
        if following is None:
            break
        times.append(following)
    return times


def preview(schedule: Schedule, times: list[datetime]) -> SchedulePreviewResponse:
    kind = job_type(schedule)
    return SchedulePreviewResponse(
        job_type_id=kind,
        job_type_name=kind.name.lower(),
        description=describe_schedule(schedule),
        timezone=schedule.timezone if isinstance(schedule, CronSchedule) else UTC_ZONE,
        fire_times=times,
    )


def job_grid(job: ScheduledJob, schedule: Schedule, at_or_before: datetime) -> datetime | None:
    """The anchor that puts a job's own slots around `at_or_before`: None for a cron job (the wall clock is its
    grid); for an interval job, the latest of its slots (next_run_at, or else last_run_at or created_at, minus
    whole periods) at or before that instant, so that fire times from there are the job's, past ones included."""
    if not isinstance(schedule, IntervalSchedule):
        return None
    slot = job.next_run_at or job.last_run_at or job.created_at
    period = timedelta(seconds=schedule.period_seconds)
    if slot > at_or_before:
        slot -= period * math.ceil((slot - at_or_before) / period)
    return slot
