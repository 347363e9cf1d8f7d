"""Jobs: create, read, list, update, delete."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import structlog
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_api.errors import Conflict, InvalidInput
from scheduler_api.services.audit import changes_between, job_fields
from scheduler_api.services.context import ServiceContext, job_not_found
from scheduler_api.services.responses import job_response
from scheduler_api.services.schedules import (
    checked_schedule,
    job_schedule,
    job_type,
    merged_schedule_fields,
    not_about,
    schedule_columns,
    stand_ins,
)
from scheduler_core import verdicts
from scheduler_core.schedule import SCHEDULE_FIELDS, Schedule, next_fire_time
from scheduler_core.schemas import FieldError, ScheduledJobCreate, ScheduledJobResponse, ScheduledJobUpdate
from scheduler_core.schemas.jobs import retry_delays_problem
from scheduler_core.store import Actor, AuditAction, AuditEntry, JobFilters
from scheduler_core.store.models import ScheduledJob, TaskFunction

log = structlog.get_logger(__name__)

_JOB_COLUMNS: Final = frozenset(ScheduledJob.__table__.columns.keys())
# Columns of a job a PUT may set as given (the schedule, the task and its parameters are checked first).
_PLAIN_UPDATE_FIELDS: Final = (
    "name_en",
    "name_ar",
    "description_en",
    "description_ar",
    "max_instances",
    "misfire_grace_time",
    "coalesce",
    "timeout_seconds",
    "max_retries",
    "retry_delay_seconds",
    "retry_backoff_factor",
    "retry_max_delay_seconds",
    "overlap_policy",
    "pause_after_failures",
)


class JobService:
    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._sessionmaker = context.sessionmaker
        self._store = context.store

    async def create_job(self, data: ScheduledJobCreate, actor: Actor) -> ScheduledJobResponse:
        """Create a job; its type follows from the schedule fields given. The first run of an interval job
        is one period after creation; a cron job's is its next fire time. Audited with every field set."""
        fields = data.model_dump(by_alias=False)
        async with self._sessionmaker.begin() as session:
            problems: list[FieldError] = []
            schedule = await self._checked_create(session, fields, problems)
            if problems or schedule is None:
                raise InvalidInput(problems)
            now = await self._store.clock.now(session)
            row = {
                **{name: value for name, value in fields.items() if name in _JOB_COLUMNS},
                **schedule_columns(schedule, fields),
                "job_type_id": job_type(schedule),
                "next_run_at": next_fire_time(schedule, now) if data.is_enabled else None,
                "success_expected_by": success_due(data.expect_success_within_seconds, now, data.is_enabled),
                "created_by_id": actor.user_id,
            }
            job = await self._store.jobs.create(session, row)
            await self._store.jobs.notify_changed(session)
            response = job_response(job)
            changes = changes_between({}, job_fields(response))
            await self._store.audit.record(session, AuditEntry(actor, AuditAction.CREATE, job.id, changes=changes))
        self._context.schedule_changed()
        log.info("job_created", job_id=response.id, by=actor.subject)
        return response

    async def create_problems(self, data: ScheduledJobCreate, refused: frozenset[str]) -> list[FieldError]:
        """What create_job would refuse besides the fields the schema refused already (`refused`, by Python name;
        `data` holds the accepted ones, see schemas.base.accepted_part): the schedule's rules, the task, its
        parameters, the priority's and the retry delays' bounds. Nothing is written."""
        fields = {**data.model_dump(by_alias=False), **stand_ins(refused)}
        problems: list[FieldError] = []
        async with self._sessionmaker() as session:
            await self._checked_create(session, fields, problems, refused)
        return not_about(refused, problems)

    async def _checked_create(
        self,
        session: AsyncSession,
        fields: dict[str, Any],
        problems: list[FieldError],
        refused: frozenset[str] = frozenset(),
    ) -> Schedule | None:
        """Every check of a new job's fields, each problem added to `problems`; the schedule if it is valid.
        A check that reads a field in `refused` is left out (the schema already named that field)."""
        schedule = checked_schedule(fields, problems)
        task = None
        if "task_function_id" not in refused:
            task = await self._checked_task(session, fields["task_function_id"], problems)
        if "priority" not in refused:
            self._check_priority(fields["priority"], problems)
        if not refused & {"retry_delay_seconds", "retry_max_delay_seconds"}:
            _check_retry_delays(fields["retry_delay_seconds"], fields["retry_max_delay_seconds"], problems)
        if task is not None and "parameters" not in refused:
            check_parameters(task, fields["parameters"], problems)
        return schedule

    async def get_job(self, job_id: int) -> ScheduledJobResponse:
        async with self._sessionmaker() as session:
            job = await self._store.jobs.get(session, job_id)
            if job is None:
                raise job_not_found(job_id)
            return job_response(job)

    async def list_jobs(self, page: int, per_page: int, filters: JobFilters) -> tuple[list[ScheduledJobResponse], int]:
        async with self._sessionmaker() as session:
            jobs, total = await self._store.jobs.list(session, filters, page, per_page)
            return [job_response(job) for job in jobs], total

    async def update_job(self, job_id: int, data: ScheduledJobUpdate, actor: Actor) -> ScheduledJobResponse:
        """Apply the fields present in `data`. A schedule that really changes, or enabling the job, moves
        nextRunAt to the next slot from now; disabling clears it. Audited with the fields that changed (an update
        that changes none is not)."""
        changes = data.changes()
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            before = job_fields(job_response(job))
            problems: list[FieldError] = []
            checked = await self._checked_update(session, job, changes, problems)
            if problems:
                raise InvalidInput(problems)
            values = checked.values
            enabled = changes.get("is_enabled", job.is_enabled)
            values["is_enabled"] = enabled
            wakes = checked.schedule_changed or enabled != job.is_enabled
            if not enabled or job.is_paused:
                values["next_run_at"] = None
            elif wakes:
                values["next_run_at"] = next_fire_time(
                    checked.schedule or job_schedule(job), await self._store.clock.now(session)
                )
            expect = changes.get("expect_success_within_seconds", job.expect_success_within_seconds)
            if expect != job.expect_success_within_seconds or enabled != job.is_enabled:
                # The watch starts again from now (or stops): a new expectation, or a job enabled or disabled.
                values["expect_success_within_seconds"] = expect
                can_run = enabled and not job.is_paused
                values["success_expected_by"] = success_due(expect, await self._store.clock.now(session), can_run)
            values["updated_by_id"] = actor.user_id
            job = await self._store.jobs.update(session, job_id, values)
            if wakes:
                await self._store.jobs.notify_changed(session)
            response = job_response(job)
            if changed := changes_between(before, job_fields(response)):
                await self._store.audit.record(session, AuditEntry(actor, AuditAction.UPDATE, job_id, changes=changed))
        if wakes:
            self._context.schedule_changed()
        return response

    async def update_problems(self, job_id: int, data: ScheduledJobUpdate, refused: frozenset[str]) -> list[FieldError]:
        """What update_job would refuse besides the fields the schema refused already (as create_problems); none
        for a job that does not exist (the schema's answer stands). Nothing is written."""
        changes = {**data.changes(), **stand_ins(refused)}
        problems: list[FieldError] = []
        async with self._sessionmaker() as session:
            job = await self._store.jobs.get(session, job_id)
            if job is None:
                return []
            # A primary job's task change is a 409 once the body is valid; here only the fields count.
            with contextlib.suppress(Conflict):
                await self._checked_update(session, job, changes, problems, refused)
        return not_about(refused, problems)

    async def _checked_update(
        self,
        session: AsyncSession,
        job: ScheduledJob,
        changes: dict[str, Any],
        problems: list[FieldError],
        refused: frozenset[str] = frozenset(),
    ) -> _CheckedUpdate:
        """Every check of an update's fields against the job, each problem added to `problems`; the column values
        it sets (but is_enabled and next_run_at). A check that reads a field in `refused` is left out."""
        values: dict[str, Any] = {name: changes[name] for name in _PLAIN_UPDATE_FIELDS if name in changes}

        schedule: Schedule | None = None
        schedule_changed = False
        if any(name in changes for name in SCHEDULE_FIELDS):
            merged = merged_schedule_fields(job, changes)
            new_expression = changes.get("cron_expression") not in (None, job.cron_expression)
            schedule = checked_schedule(merged, problems, check_grammar=new_expression)
            if schedule is not None:
                columns = schedule_columns(schedule, merged)
                if any(getattr(job, name) != value for name, value in columns.items()):
                    values.update(columns, job_type_id=job_type(schedule))
                    schedule_changed = True

        # Values are checked when they change: an edit form that sends every field back must not fail on a
        # task that has since become inactive or a priority above a since-lowered maximum.
        task: TaskFunction | None = None
        task_function_id = changes.get("task_function_id", job.task_function_id)
        if "task_function_id" in refused:
            pass
        elif task_function_id != job.task_function_id:
            if job.is_primary:
                raise Conflict(
                    f"job {job.id} is a primary job: its task cannot change (its parameters and schedule can)"
                )
            task = await self._checked_task(session, task_function_id, problems)
            values["task_function_id"] = task_function_id
        elif "parameters" in changes:
            task = job.task_function
        if task is not None and "parameters" not in refused:
            check_parameters(task, changes.get("parameters", job.parameters), problems)
        if "parameters" in changes:
            values["parameters"] = changes["parameters"]
        if "priority" not in refused and changes.get("priority", job.priority) != job.priority:
            self._check_priority(changes["priority"], problems)
            values["priority"] = changes["priority"]
        delays = ("retry_delay_seconds", "retry_max_delay_seconds")
        if any(name in changes for name in delays) and not refused & set(delays):
            _check_retry_delays(
                changes.get("retry_delay_seconds", job.retry_delay_seconds),
                changes.get("retry_max_delay_seconds", job.retry_max_delay_seconds),
                problems,
            )
        return _CheckedUpdate(values, schedule, schedule_changed)

    async def delete_job(self, job_id: int, actor: Actor) -> ScheduledJobResponse:
        """Soft delete (is_active = false, no next run). Primary jobs cannot be deleted. History is kept."""
        async with self._sessionmaker.begin() as session:
            job = await self._context.locked_job(session, job_id)
            if job.is_primary:
                raise Conflict(f"job {job_id} is a primary job and cannot be deleted; disable it instead")
            before = job_fields(job_response(job))
            job = await self._store.jobs.update(
                session, job_id, {"is_active": False, "next_run_at": None, "updated_by_id": actor.user_id}
            )
            # Its retries and queued runs would otherwise still go out, for a job that no longer exists.
            now = await self._store.clock.now(session)
            cancelled = await self._store.history.cancel_waiting(session, job_id, reason=verdicts.JOB_DELETED, now=now)
            await self._store.jobs.notify_changed(session)
            response = job_response(job)
            changes = changes_between(before, job_fields(response))
            await self._store.audit.record(session, AuditEntry(actor, AuditAction.DELETE, job_id, changes=changes))
        self._context.runs_cancelled(job_id, cancelled)
        self._context.schedule_changed()
        log.info("job_deleted", job_id=job_id, by=actor.subject)
        return response

    async def _checked_task(
        self, session: AsyncSession, task_function_id: int, problems: list[FieldError]
    ) -> TaskFunction | None:
        task = await self._store.lookups.task_function(session, task_function_id)
        if task is None:
            problems.append(FieldError(field="taskFunctionId", reason=f"no task function has id {task_function_id}"))
            return None
        if not task.is_active:
            problems.append(
                FieldError(field="taskFunctionId", reason=f"task function {task.key!r} is no longer active")
            )
            return None
        return task

    def _check_priority(self, priority: int, problems: list[FieldError]) -> None:
        if priority > self._context.config.max_priority:
            problems.append(
                FieldError(
                    field="priority",
                    reason=f"must be between 0 and {self._context.config.max_priority} (the broker's maximum priority)",
                )
            )


def success_due(expect_within: int | None, now: datetime, can_run: bool) -> datetime | None:
    """When a job's silence watch expects its next success: `expect_within` seconds from now, if it is watched
    and can run (a paused or disabled job is not judged silent)."""
    if expect_within is None or not can_run:
        return None
    return now + timedelta(seconds=expect_within)


@dataclass(frozen=True, slots=True)
class _CheckedUpdate:
    values: dict[str, Any]  # the columns the update sets (is_enabled and next_run_at still to come)
    schedule: Schedule | None  # the schedule, if the update gives one
    schedule_changed: bool


def _check_retry_delays(delay: int, max_delay: int, problems: list[FieldError]) -> None:
    if (problem := retry_delays_problem(delay, max_delay)) is not None:
        problems.append(FieldError(field="retryMaxDelaySeconds", reason=problem))


def check_parameters(task: TaskFunction, parameters: dict[str, Any] | None, problems: list[FieldError]) -> None:
    """Check a job's parameters against its task's JSON schema; absent parameters are checked as {} so that a
    task with required parameters cannot be scheduled without them."""
    schema = task.parameters_schema
    if schema is None:
        return
    validator_class = validators.validator_for(schema, default=Draft202012Validator)
    try:
        validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(parameters or {}), key=lambda error: list(error.absolute_path))
    except SchemaError as exc:  # the task's own declaration is broken: no parameters can be checked
        problems.append(FieldError(field="taskFunctionId", reason=f"task {task.key!r} declares an invalid schema"))
        log.error("task_parameters_schema_invalid", task=task.key, error=str(exc))
        return
    for error in errors:
        path = ".".join(["parameters", *(str(part) for part in error.absolute_path)])
        if error.validator == "required" and isinstance(error.instance, dict):
            required = error.validator_value if isinstance(error.validator_value, list) else []
            for name in required:
                if name not in error.instance:
                    problems.append(FieldError(field=f"{path}.{name}", reason="required"))
            continue
        problems.append(FieldError(field=path, reason=error.message))
