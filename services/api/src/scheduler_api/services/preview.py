"""Schedule preview: the next fire times of a schedule being written, or of an existing job."""

from __future__ import annotations

from scheduler_api.errors import InvalidInput
from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_api.services.schedules import checked_schedule, job_schedule, preview, upcoming
from scheduler_core.schedule import CronSchedule
from scheduler_core.schemas import FieldError, SchedulePreviewRequest, SchedulePreviewResponse


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
        async with self._sessionmaker() as session:
            now = await self._store.clock.now(session)
        return preview(schedule, upcoming(schedule, now, request.count))

    async def preview_job(self, job_id: int, count: int) -> SchedulePreviewResponse:
        """A job's next `count` fire times: from its pending slot (nextRunAt) when it has one, else those it would
        have if enabled or resumed now."""
        async with self._sessionmaker() as session:
            job = await self._store.jobs.get(session, job_id)
            if job is None:
                raise job_not_found(job_id)
            schedule = job_schedule(job)
            if job.next_run_at is not None:
                anchor = job.next_run_at if not isinstance(schedule, CronSchedule) else None
                times = [job.next_run_at, *upcoming(schedule, job.next_run_at, count - 1, anchor=anchor)]
            else:
                times = upcoming(schedule, await self._store.clock.now(session), count)
        return preview(schedule, times)
