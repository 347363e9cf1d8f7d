"""Schedule preview: the next fire times of a schedule being written, or of an existing job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from scheduler_api.errors import InvalidInput
from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_api.services.schedules import (
    checked_schedule,
    job_schedule,
    not_about,
    preview,
    stand_ins,
    upcoming,
)
from scheduler_core.schedule import CronSchedule
from scheduler_core.schemas import FieldError, SchedulePreviewRequest, SchedulePreviewResponse

# "At or after `from`": fire times strictly after this much before it (the schedule's resolution is a second).
_JUST_BEFORE: Final = timedelta(microseconds=1)


class PreviewService:
    def __init__(self, context: ServiceContext) -> None:
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def preview_schedule(self, request: SchedulePreviewRequest) -> SchedulePreviewResponse:
        """The first `count` fire times a job with this schedule would have if created now."""
        problems: list[FieldError] = []
        schedule = checked_schedule(request.model_dump(by_alias=False), problems)
        if schedule is None:
            raise InvalidInput(problems)
        if request.from_ is not None:
            return preview(schedule, upcoming(schedule, request.from_ - _JUST_BEFORE, request.count))
        async with self._sessionmaker() as session:
            now = await self._store.clock.now(session)
        return preview(schedule, upcoming(schedule, now, request.count))

    def preview_problems(self, request: SchedulePreviewRequest, refused: frozenset[str]) -> list[FieldError]:
        """What preview_schedule would refuse besides the fields the schema refused already (`refused`, by Python
        name; `request` holds the accepted ones, see schemas.base.accepted_part): the schedule's rules."""
        problems: list[FieldError] = []
        checked_schedule({**request.model_dump(by_alias=False), **stand_ins(refused)}, problems)
        return not_about(refused, problems)

    async def preview_job(self, job_id: int, count: int, start: datetime | None = None) -> SchedulePreviewResponse:
        """A job's next `count` fire times: from `start` (at or after it, on the job's own slots) when given;
        else from its pending slot (nextRunAt) when it has one, else those it would have if enabled or resumed
        now."""
        async with self._sessionmaker() as session:
            job = await self._store.jobs.get(session, job_id)
            if job is None:
                raise job_not_found(job_id)
            schedule = job_schedule(job)
            if start is not None:
                grid = (
                    None if isinstance(schedule, CronSchedule) else job.next_run_at or job.last_run_at or job.created_at
                )
                times = upcoming(schedule, start - _JUST_BEFORE, count, anchor=grid)
            elif job.next_run_at is not None:
                anchor = job.next_run_at if not isinstance(schedule, CronSchedule) else None
                times = [job.next_run_at, *upcoming(schedule, job.next_run_at, count - 1, anchor=anchor)]
            else:
                times = upcoming(schedule, await self._store.clock.now(session), count)
        return preview(schedule, times)
