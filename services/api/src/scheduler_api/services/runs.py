"""A job's runs on request: cancel one, run a finished one again, backfill past slots; each audited in its
transaction (a request that changes nothing, such as a repeated cancel or a backfill of slots that all have runs,
is not)."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_api.errors import Conflict, InvalidInput, NotFound
from scheduler_api.services.audit import changes_between
from scheduler_api.services.context import ServiceContext
from scheduler_api.services.responses import execution_response
from scheduler_api.services.schedules import job_grid, job_schedule
from scheduler_core import verdicts
from scheduler_core.schedule import fire_times_between
from scheduler_core.schemas import (
    MAX_BACKFILL_SLOTS,
    BackfillRequest,
    BackfillResponse,
    ExecutionAction,
    ExecutionActionResponse,
    FieldError,
)
from scheduler_core.store import Actor, AuditAction, AuditEntry, Cancellation, NewExecution
from scheduler_core.store.models import ExecutionStatus, OverlapPolicy, ScheduledJobExecution, Trigger

log = structlog.get_logger(__name__)

# A run's fields a cancel changes, by API name.
_CANCEL_FIELDS = ("statusName", "cancelRequestedAt", "cancelledBy")


class RunService:
    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def perform_action(
        self, job_id: int, execution_id: str, action: ExecutionAction, actor: Actor
    ) -> ExecutionActionResponse:
        if action == "cancel":
            return await self.cancel(job_id, execution_id, actor)
        return await self.rerun(job_id, execution_id, actor)

    async def cancel(self, job_id: int, execution_id: str, actor: Actor) -> ExecutionActionResponse:
        """Cancel a run of the job: at once if it has not started, else by asking its executor (409 once ended)."""
        by = verdicts.cancelled_by_user(actor.user_id)
        async with self._sessionmaker.begin() as session:
            before = _cancel_fields(await self._run_of(session, job_id, execution_id))
            now = await self._store.clock.now(session)
            outcome = await self._store.history.cancel(session, execution_id, by=by, now=now)
            if outcome is Cancellation.FINISHED:
                raise Conflict(f"run {execution_id} has ended already: there is nothing to cancel")
            run = await self._run_of(session, job_id, execution_id)
            response = execution_response(run)
            if outcome is not Cancellation.ALREADY_REQUESTED:
                changes = changes_between(before, _cancel_fields(run))
                entry = AuditEntry(actor, AuditAction.CANCEL, job_id, execution_id, changes)
                await self._store.audit.record(session, entry)
        if outcome is Cancellation.CANCELLED:  # a running one is counted by its executor, once it has stopped
            self._context.runs_cancelled(job_id, 1)
        messages = {
            Cancellation.CANCELLED: "Run cancelled before it started",
            Cancellation.REQUESTED: "Cancellation requested: the executor stops the run within a heartbeat",
            Cancellation.ALREADY_REQUESTED: "Cancellation was already requested: the executor is stopping the run",
        }
        log.info("run_cancel", job_id=job_id, execution_id=execution_id, outcome=outcome.value, by=actor.subject)
        return ExecutionActionResponse(success=True, message=messages[outcome], execution=response)

    async def rerun(self, job_id: int, execution_id: str, actor: Actor) -> ExecutionActionResponse:
        """Run a finished run again now, as a manual run of the job with its current parameters (409 while the
        original has not ended, or when the job has no place for it and would only skip it)."""
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            original = await self._run_of(session, job_id, execution_id)
            if not ExecutionStatus(original.status_id).is_terminal:
                raise Conflict(f"run {execution_id} has not ended yet: cancel it, or wait for it, before a re-run")
            if job.overlap_policy == OverlapPolicy.SKIP:
                open_runs = await self._store.history.count_open(session, job_id)
                if open_runs >= job.max_instances:
                    raise Conflict(verdicts.trigger_refused(job_id, open_runs, job.max_instances))
            now = await self._store.clock.now(session)
            new_id = str(uuid.uuid4())
            run = NewExecution(new_id, job_id, now, trigger=Trigger.MANUAL, rerun_of=execution_id)
            if not await self._store.outbox.add(session, [run]):
                raise Conflict(f"job {job_id} already has a run scheduled at {now.isoformat()}; try again")
            await self._store.jobs.set_last_run_at(session, job_id, now)
            await self._store.jobs.notify_changed(session)
            response = execution_response(await self._run_of(session, job_id, new_id))
            changes = {"rerunOf": {"before": None, "after": execution_id}}
            await self._store.audit.record(session, AuditEntry(actor, AuditAction.RERUN, job_id, new_id, changes))
        self._context.schedule_changed()
        log.info("run_rerun", job_id=job_id, execution_id=new_id, rerun_of=execution_id, by=actor.subject)
        return ExecutionActionResponse(success=True, message="Run started again", execution=response)

    async def backfill(self, job_id: int, request: BackfillRequest, actor: Actor) -> BackfillResponse:
        """Write a run for every slot of the job's schedule in [from, to] that has none (trigger 'backfill'): at
        most MAX_BACKFILL_SLOTS slots, none in the future; a slot with a run already keeps it (idempotent)."""
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            now = await self._store.clock.now(session)
            if request.to > now:
                raise InvalidInput(
                    [FieldError(field="to", reason="must not be in the future: backfill runs past slots")]
                )
            schedule = job_schedule(job)
            # The job's own slots: an interval job's grid, a cron job's wall clock.
            anchor = job_grid(job, schedule, request.from_)
            slots = fire_times_between(schedule, request.from_, request.to, limit=MAX_BACKFILL_SLOTS + 1, anchor=anchor)
            if len(slots) > MAX_BACKFILL_SLOTS:
                raise InvalidInput(
                    [
                        FieldError(
                            field="to",
                            reason=f"the range holds more than {MAX_BACKFILL_SLOTS} slots of the job's schedule; "
                            "backfill it in parts",
                        )
                    ]
                )
            runs = [NewExecution(str(uuid.uuid4()), job_id, slot, trigger=Trigger.BACKFILL) for slot in slots]
            written = await self._store.outbox.add(session, runs)
            if written:
                await self._store.jobs.notify_changed(session)
                # The range as an ISO 8601 interval; the runs are in the history (trigger 'backfill').
                interval = f"{request.from_.isoformat()}/{request.to.isoformat()}"
                await self._store.audit.record(session, AuditEntry(actor, AuditAction.BACKFILL, job_id, interval))
        if written:
            self._context.schedule_changed()
        log.info("job_backfilled", job_id=job_id, slots=len(slots), created=len(written), by=actor.subject)
        return BackfillResponse(
            success=True,
            message=f"{len(written)} run(s) created for {len(slots)} slot(s); {len(slots) - len(written)} had a run",
            slots=len(slots),
            created=len(written),
            existing=len(slots) - len(written),
            execution_ids=written,
        )

    async def _run_of(self, session: AsyncSession, job_id: int, execution_id: str) -> ScheduledJobExecution:
        run = await self._store.history.get(session, execution_id)
        if run is None or run.job_id != job_id:
            raise NotFound(f"job {job_id} has no run {execution_id}")
        return run


def _cancel_fields(run: ScheduledJobExecution) -> dict[str, object]:
    dumped = execution_response(run).model_dump(mode="json", by_alias=True)
    return {name: dumped[name] for name in _CANCEL_FIELDS}
