"""Job actions: enable, disable, pause, resume, and trigger (run now); each audited in its transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import structlog

from scheduler_api.errors import Conflict
from scheduler_api.services.audit import changes_between, job_fields
from scheduler_api.services.context import ServiceContext
from scheduler_api.services.jobs import success_due
from scheduler_api.services.responses import job_response
from scheduler_api.services.schedules import job_schedule
from scheduler_core import verdicts
from scheduler_core.notifications import Event, EventType
from scheduler_core.schedule import next_fire_time
from scheduler_core.schemas import JobAction, JobActionResponse, ScheduledJobResponse
from scheduler_core.store import Actor, AuditAction, AuditEntry, NewExecution
from scheduler_core.store.models import OverlapPolicy, ScheduledJob, Trigger

log = structlog.get_logger(__name__)


class ActionService:
    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def perform_action(self, job_id: int, action: JobAction, actor: Actor) -> JobActionResponse:
        if action == "trigger":
            execution_id, job = await self.trigger_job_now(job_id, actor)
            return JobActionResponse(
                success=True, message="Job triggered successfully", execution_id=execution_id, job=job
            )
        handlers = {
            "enable": (self.enable_job, "Job enabled successfully"),
            "disable": (self.disable_job, "Job disabled successfully"),
            "pause": (self.pause_job, "Job paused successfully"),
            "resume": (self.resume_job, "Job resumed successfully"),
        }
        handler, message = handlers[action]
        return JobActionResponse(success=True, message=message, job=await handler(job_id, actor))

    async def enable_job(self, job_id: int, actor: Actor) -> ScheduledJobResponse:
        """Enable and schedule from now (unless paused: then it stays without a next run until resumed)."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if job.is_enabled:
                raise Conflict(f"job {job_id} is already enabled")
            return {"is_enabled": True}

        return await self._transition(job_id, actor, AuditAction.ENABLE, change)

    async def disable_job(self, job_id: int, actor: Actor) -> ScheduledJobResponse:
        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_enabled:
                raise Conflict(f"job {job_id} is already disabled")
            return {"is_enabled": False}

        return await self._transition(job_id, actor, AuditAction.DISABLE, change)

    async def pause_job(self, job_id: int, actor: Actor) -> ScheduledJobResponse:
        """Suspend an enabled job without disabling it; slots while paused are not run (nor recorded)."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_enabled:
                raise Conflict(f"job {job_id} is disabled; only an enabled job can be paused")
            if job.is_paused:
                raise Conflict(f"job {job_id} is already paused")
            return {"is_paused": True}

        return await self._transition(job_id, actor, AuditAction.PAUSE, change, announce_pause=True)

    async def resume_job(self, job_id: int, actor: Actor) -> ScheduledJobResponse:
        """Continue from the next slot after now (a disabled job stays without a next run). A job that paused
        itself after failures starts counting them again from 0, and its pausedReason is cleared."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_paused:
                raise Conflict(f"job {job_id} is not paused")
            return {"is_paused": False}

        return await self._transition(
            job_id, actor, AuditAction.RESUME, change, also={"paused_reason": None, "consecutive_failures": 0}
        )

    async def trigger_job_now(self, job_id: int, actor: Actor) -> tuple[str, ScheduledJobResponse]:
        """Write a pending manual run scheduled now and return its execution id. The timekeeper's outbox relay
        (woken by notify_changed / on_schedule_change) publishes it and an executor runs it. Allowed whether the
        job is enabled or paused: an operator may run a job by hand at any time. The job's schedule is unchanged.
        Refused (409) while the job has max_instances runs pending or running and its overlap policy is skip: the
        run could only be skipped."""
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            # Under the job's row lock, so concurrent triggers count each other's runs.
            # Under overlap policy queue or replace the run waits for (or takes) a place instead.
            if job.overlap_policy == OverlapPolicy.SKIP:
                open_runs = await self._store.history.count_open(session, job_id)
                if open_runs >= job.max_instances:
                    raise Conflict(verdicts.trigger_refused(job_id, open_runs, job.max_instances))
            now = await self._store.clock.now(session)
            execution_id = str(uuid.uuid4())
            run = NewExecution(execution_id=execution_id, job_id=job_id, scheduled_at=now, trigger=Trigger.MANUAL)
            if not await self._store.outbox.add(session, [run]):
                raise Conflict(f"job {job_id} already has a run scheduled at {now.isoformat()}; try again")
            # last_run_at is when the job last fired (a run was handed to the executors), manual or not.
            await self._store.jobs.set_last_run_at(session, job_id, now)
            await self._store.jobs.notify_changed(session)
            response = job_response(job).model_copy(update={"last_run_at": now})
            await self._store.audit.record(session, AuditEntry(actor, AuditAction.TRIGGER, job_id, execution_id))
        self._context.schedule_changed()
        log.info("job_triggered", job_id=job_id, execution_id=execution_id, by=actor.subject)
        return execution_id, response

    async def _transition(
        self,
        job_id: int,
        actor: Actor,
        action: AuditAction,
        change: Callable[[ScheduledJob], dict[str, bool]],
        *,
        also: dict[str, object] | None = None,
        announce_pause: bool = False,
    ) -> ScheduledJobResponse:
        """Apply one change of is_enabled / is_paused under the job's row lock (`change` raises Conflict when it
        makes no sense). A job that can fire afterwards gets the next slot from now, and its silence watch starts
        again from now; one that cannot, neither. `announce_pause`: job.paused goes out with the change."""
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            flags = change(job)
            before = job_fields(job_response(job))
            can_fire = flags.get("is_enabled", job.is_enabled) and not flags.get("is_paused", job.is_paused)
            now = await self._store.clock.now(session)
            next_run_at = next_fire_time(job_schedule(job), now) if can_fire else None
            values = {
                **flags,
                **(also or {}),
                "next_run_at": next_run_at,
                "success_expected_by": success_due(job.expect_success_within_seconds, now, can_fire),
                "updated_by_id": actor.user_id,
            }
            job = await self._store.jobs.update(session, job_id, values)
            if announce_pause:
                data = {"reason": "paused by an operator", "automatic": False, "by": actor.subject}
                await self._store.deliveries.enqueue(session, [Event(EventType.JOB_PAUSED, now, job_id, data)])
            await self._store.jobs.notify_changed(session)
            response = job_response(job)
            changes = changes_between(before, job_fields(response))
            await self._store.audit.record(session, AuditEntry(actor, action, job_id, changes=changes))
        self._context.schedule_changed()
        log.info("job_state_changed", job_id=job_id, change=flags, by=actor.subject)
        return response
