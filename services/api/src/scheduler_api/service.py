"""`SchedulerService`: the reference's service layer. Routers call it; it validates, runs each operation in one
transaction through the repository (the only code that speaks SQL) and returns response schemas.

Every instant comes from the database clock (`db_now`). A change that can move a job's next slot sends the
PostgreSQL NOTIFY inside its transaction (timekeepers in other processes wake when it commits) and calls
`on_schedule_change` after the commit (embedded mode wakes its in-process timekeeper that way)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import structlog
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_api.errors import Conflict, InvalidInput, NotFound
from scheduler_core.db.models import (
    JobType,
    ScheduledJob,
    ScheduledJobExecution,
    SchedulerInstance,
    TaskFunction,
    Trigger,
)
from scheduler_core.db.repository import (
    ExecutionFilters,
    JobFilters,
    NewExecution,
    SchedulerRepository,
    db_now,
)
from scheduler_core.retention import purge_history
from scheduler_core.schedule import (
    INTERVAL_FIELDS,
    SCHEDULE_FIELDS,
    CronSchedule,
    Schedule,
    ScheduleError,
    describe_schedule,
    next_fire_time,
    schedule_from_fields,
    schedule_of,
)
from scheduler_core.schemas import (
    CleanupResponse,
    ExecutionStatusResponse,
    FieldError,
    JobAction,
    JobActionResponse,
    JobTypeResponse,
    ScheduledJobCreate,
    ScheduledJobExecutionResponse,
    ScheduledJobResponse,
    ScheduledJobUpdate,
    SchedulePreviewRequest,
    SchedulePreviewResponse,
    SchedulerInstanceResponse,
    SchedulerStatusResponse,
    TaskFunctionResponse,
)

log = structlog.get_logger(__name__)

# Running executions listed on the status page.
STATUS_RUNNING_LIMIT: Final = 100
# Zone of interval jobs, which are zone-free.
UTC_ZONE: Final = "UTC"

_JOB_COLUMNS: Final = frozenset(ScheduledJob.__table__.columns.keys())
_EXECUTION_COLUMNS: Final = frozenset(ScheduledJobExecution.__table__.columns.keys())
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
)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    mode: str  # "embedded" or "standalone": how this API runs
    instance_id: str  # this API process's scheduler_instance id
    instance_timeout: float  # seconds without a heartbeat after which an instance no longer counts as live
    max_priority: int  # highest job priority the broker honours (SCHEDULER_MAX_PRIORITY)


class SchedulerService:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        repository: SchedulerRepository,
        config: ServiceConfig,
        *,
        on_schedule_change: Callable[[], None] | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._repository = repository
        self._config = config
        self._on_schedule_change = on_schedule_change

    # --- job CRUD ---------------------------------------------------------------------------------

    async def create_job(self, data: ScheduledJobCreate, created_by_id: str | None) -> ScheduledJobResponse:
        """Create a job; its type follows from the schedule fields given. The first run of an interval job
        is one period after creation; a cron job's is its next fire time."""
        fields = data.model_dump(by_alias=False)
        async with self._sessionmaker.begin() as session:
            problems: list[FieldError] = []
            schedule = _checked_schedule(fields, problems)
            task = await self._checked_task(session, data.task_function_id, problems)
            self._check_priority(data.priority, problems)
            if task is not None:
                _check_parameters(task, data.parameters, problems)
            if problems or schedule is None:
                raise InvalidInput(problems)
            now = await db_now(session)
            row = {
                **{name: value for name, value in fields.items() if name in _JOB_COLUMNS},
                **_schedule_columns(schedule, fields),
                "job_type_id": _job_type(schedule),
                "next_run_at": next_fire_time(schedule, now) if data.is_enabled else None,
                "created_by_id": created_by_id,
            }
            job = await self._repository.create_job(session, row)
            await self._repository.notify_schedule_changed(session)
            response = _job_response(job)
        self._schedule_changed()
        log.info("job_created", job_id=response.id, by=created_by_id)
        return response

    async def get_job(self, job_id: int) -> ScheduledJobResponse:
        async with self._sessionmaker() as session:
            job = await self._repository.get_job_by_id(session, job_id)
            if job is None:
                raise _job_not_found(job_id)
            return _job_response(job)

    async def list_jobs(self, page: int, per_page: int, filters: JobFilters) -> tuple[list[ScheduledJobResponse], int]:
        async with self._sessionmaker() as session:
            jobs, total = await self._repository.get_jobs(session, filters, page, per_page)
            return [_job_response(job) for job in jobs], total

    async def update_job(
        self, job_id: int, data: ScheduledJobUpdate, updated_by_id: str | None
    ) -> ScheduledJobResponse:
        """Apply the fields present in `data`. A schedule that really changes, or enabling the job, moves
        nextRunAt to the next slot from now; disabling clears it."""
        changes = data.changes()
        async with self._sessionmaker.begin() as session:
            job = await self._locked_job(session, job_id)
            problems: list[FieldError] = []
            values: dict[str, Any] = {name: changes[name] for name in _PLAIN_UPDATE_FIELDS if name in changes}

            schedule: Schedule | None = None
            schedule_changed = False
            if any(name in changes for name in SCHEDULE_FIELDS):
                merged = _merged_schedule_fields(job, changes)
                schedule = _checked_schedule(merged, problems)
                if schedule is not None:
                    columns = _schedule_columns(schedule, merged)
                    if any(getattr(job, name) != value for name, value in columns.items()):
                        values.update(columns, job_type_id=_job_type(schedule))
                        schedule_changed = True

            # Values are checked when they change: an edit form that sends every field back must not fail on a
            # task that has since become inactive or a priority above a since-lowered maximum.
            task: TaskFunction | None = None
            task_function_id = changes.get("task_function_id", job.task_function_id)
            if task_function_id != job.task_function_id:
                task = await self._checked_task(session, task_function_id, problems)
                values["task_function_id"] = task_function_id
            elif "parameters" in changes:
                task = job.task_function
            if task is not None:
                _check_parameters(task, changes.get("parameters", job.parameters), problems)
            if "parameters" in changes:
                values["parameters"] = changes["parameters"]
            if changes.get("priority", job.priority) != job.priority:
                self._check_priority(changes["priority"], problems)
                values["priority"] = changes["priority"]
            if problems:
                raise InvalidInput(problems)

            enabled = changes.get("is_enabled", job.is_enabled)
            values["is_enabled"] = enabled
            wakes = schedule_changed or enabled != job.is_enabled
            if not enabled or job.is_paused:
                values["next_run_at"] = None
            elif wakes:
                values["next_run_at"] = next_fire_time(schedule or _job_schedule(job), await db_now(session))
            values["updated_by_id"] = updated_by_id
            job = await self._repository.update_job(session, job_id, values)
            if wakes:
                await self._repository.notify_schedule_changed(session)
            response = _job_response(job)
        if wakes:
            self._schedule_changed()
        return response

    async def delete_job(self, job_id: int, deleted_by_id: str | None = None) -> ScheduledJobResponse:
        """Soft delete (is_active = false, no next run). Primary jobs cannot be deleted. History is kept."""
        async with self._sessionmaker.begin() as session:
            job = await self._locked_job(session, job_id)
            if job.is_primary:
                raise Conflict(f"job {job_id} is a primary job and cannot be deleted; disable it instead")
            job = await self._repository.update_job(
                session, job_id, {"is_active": False, "next_run_at": None, "updated_by_id": deleted_by_id}
            )
            await self._repository.notify_schedule_changed(session)
            response = _job_response(job)
        self._schedule_changed()
        log.info("job_deleted", job_id=job_id, by=deleted_by_id)
        return response

    # --- actions ----------------------------------------------------------------------------------

    async def perform_action(self, job_id: int, action: JobAction, user_id: str | None) -> JobActionResponse:
        if action == "trigger":
            execution_id, job = await self.trigger_job_now(job_id, user_id)
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
        return JobActionResponse(success=True, message=message, job=await handler(job_id, user_id))

    async def enable_job(self, job_id: int, user_id: str | None = None) -> ScheduledJobResponse:
        """Enable and schedule from now (unless paused: then it stays without a next run until resumed)."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if job.is_enabled:
                raise Conflict(f"job {job_id} is already enabled")
            return {"is_enabled": True}

        return await self._transition(job_id, user_id, change)

    async def disable_job(self, job_id: int, user_id: str | None = None) -> ScheduledJobResponse:
        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_enabled:
                raise Conflict(f"job {job_id} is already disabled")
            return {"is_enabled": False}

        return await self._transition(job_id, user_id, change)

    async def pause_job(self, job_id: int, user_id: str | None = None) -> ScheduledJobResponse:
        """Suspend an enabled job without disabling it; slots while paused are not run (nor recorded)."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_enabled:
                raise Conflict(f"job {job_id} is disabled; only an enabled job can be paused")
            if job.is_paused:
                raise Conflict(f"job {job_id} is already paused")
            return {"is_paused": True}

        return await self._transition(job_id, user_id, change)

    async def resume_job(self, job_id: int, user_id: str | None = None) -> ScheduledJobResponse:
        """Continue from the next slot after now (a disabled job stays without a next run)."""

        def change(job: ScheduledJob) -> dict[str, bool]:
            if not job.is_paused:
                raise Conflict(f"job {job_id} is not paused")
            return {"is_paused": False}

        return await self._transition(job_id, user_id, change)

    async def trigger_job_now(self, job_id: int, triggered_by_user_id: str | None) -> tuple[str, ScheduledJobResponse]:
        """Write a pending manual run scheduled now and return its execution id. The timekeeper's outbox relay
        (woken by the NOTIFY / on_schedule_change) publishes it and an executor runs it. Allowed whether the job
        is enabled or paused: an operator may run a job by hand at any time. The job's schedule is unchanged."""
        async with self._sessionmaker.begin() as session:
            job = await self._locked_job(session, job_id)
            now = await db_now(session)
            execution_id = str(uuid.uuid4())
            run = NewExecution(execution_id=execution_id, job_id=job_id, scheduled_at=now, trigger=Trigger.MANUAL)
            if not await self._repository.create_executions(session, [run]):
                raise Conflict(f"job {job_id} already has a run scheduled at {now.isoformat()}; try again")
            # last_run_at is when the job last fired (a run was handed to the executors), manual or not.
            await self._repository.set_last_run_at(session, job_id, now)
            await self._repository.notify_schedule_changed(session)
            response = _job_response(job).model_copy(update={"last_run_at": now})
        self._schedule_changed()
        log.info("job_triggered", job_id=job_id, execution_id=execution_id, by=triggered_by_user_id)
        return execution_id, response

    # --- history ----------------------------------------------------------------------------------

    async def get_job_history(
        self, job_id: int, filters: ExecutionFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJobExecutionResponse], int]:
        """Runs of one job, newest first. Deleted jobs keep their history (and it stays readable here)."""
        async with self._sessionmaker() as session:
            if await self._repository.get_job_by_id(session, job_id, include_deleted=True) is None:
                raise _job_not_found(job_id)
            executions, total = await self._repository.get_executions(session, job_id, filters, page, per_page)
            return [_execution_response(execution) for execution in executions], total

    async def get_all_history(
        self, filters: ExecutionFilters, page: int, per_page: int
    ) -> tuple[list[ScheduledJobExecutionResponse], int]:
        async with self._sessionmaker() as session:
            executions, total = await self._repository.get_executions(session, None, filters, page, per_page)
            return [_execution_response(execution) for execution in executions], total

    # --- status and maintenance -------------------------------------------------------------------

    async def get_status(self) -> SchedulerStatusResponse:
        """Counters and instances. An instance is live when it has not stopped and its last heartbeat is younger
        than instance_timeout (a crashed process is live until then, or until a sweep marks it stopped)."""
        async with self._sessionmaker() as session:
            now = await db_now(session)
            instances = await self._repository.get_active_instances(session)
            total_jobs, enabled_jobs = await self._repository.count_jobs(session)
            running = await self._repository.count_running(session)
            in_progress = await self._repository.running_executions(session, limit=STATUS_RUNNING_LIMIT)
            described = [self._instance_response(instance, now) for instance in instances]
            live = [instance for instance in described if instance.is_live]
            return SchedulerStatusResponse(
                is_running=bool(live),
                mode=self._config.mode,
                instance_id=self._config.instance_id,
                active_instances=len(live),
                total_jobs=total_jobs,
                enabled_jobs=enabled_jobs,
                running_executions=running,
                # The reference makes lastHeartbeat a required timestamp; with no live instance listed (this
                # API's own row was declared stopped), the best answer is the latest heartbeat of any, else now.
                last_heartbeat=max(
                    (instance.last_heartbeat for instance in live or described),
                    default=now,
                ),
                instances=described,
                executions_in_progress=[_execution_response(execution) for execution in in_progress],
            )

    async def cleanup_history(self, retention_days: int = 30) -> CleanupResponse:
        """Delete finished executions created more than retention_days ago, in batches; open runs are kept."""
        deleted = await purge_history(self._sessionmaker, self._repository, retention_days)
        log.info("history_cleaned_up", deleted=deleted, retention_days=retention_days)
        return CleanupResponse(
            deleted_count=deleted,
            message=f"Cleaned up {deleted} execution records older than {retention_days} days",
        )

    # --- lookups ----------------------------------------------------------------------------------

    async def get_task_functions(self, *, include_inactive: bool = False) -> list[TaskFunctionResponse]:
        async with self._sessionmaker() as session:
            functions = await self._repository.get_task_functions(session, active_only=not include_inactive)
            return [TaskFunctionResponse.model_validate(function) for function in functions]

    async def get_job_types(self) -> list[JobTypeResponse]:
        async with self._sessionmaker() as session:
            return [JobTypeResponse.model_validate(row) for row in await self._repository.get_job_types(session)]

    async def get_execution_statuses(self) -> list[ExecutionStatusResponse]:
        async with self._sessionmaker() as session:
            statuses = await self._repository.get_execution_statuses(session)
            return [ExecutionStatusResponse.model_validate(row) for row in statuses]

    # --- schedule preview -------------------------------------------------------------------------

    async def preview_schedule(self, request: SchedulePreviewRequest) -> SchedulePreviewResponse:
        """The first `count` fire times a job with this schedule would have if created now."""
        problems: list[FieldError] = []
        schedule = _checked_schedule(request.model_dump(by_alias=False), problems)
        if schedule is None:
            raise InvalidInput(problems)
        async with self._sessionmaker() as session:
            now = await db_now(session)
        return _preview(schedule, _upcoming(schedule, now, request.count))

    async def preview_job(self, job_id: int, count: int) -> SchedulePreviewResponse:
        """A job's next `count` fire times: from its pending slot (nextRunAt) when it has one, else those it would
        have if enabled or resumed now."""
        async with self._sessionmaker() as session:
            job = await self._repository.get_job_by_id(session, job_id)
            if job is None:
                raise _job_not_found(job_id)
            schedule = _job_schedule(job)
            if job.next_run_at is not None:
                anchor = job.next_run_at if not isinstance(schedule, CronSchedule) else None
                times = [job.next_run_at, *_upcoming(schedule, job.next_run_at, count - 1, anchor=anchor)]
            else:
                times = _upcoming(schedule, await db_now(session), count)
        return _preview(schedule, times)

    # --- helpers ----------------------------------------------------------------------------------

    async def _locked_job(self, session: AsyncSession, job_id: int) -> ScheduledJob:
        """The active job, row-locked for the rest of the transaction so concurrent changes serialise."""
        job = await self._repository.lock_job(session, job_id)
        if job is None:
            raise _job_not_found(job_id)
        return job

    async def _transition(
        self, job_id: int, user_id: str | None, change: Callable[[ScheduledJob], dict[str, bool]]
    ) -> ScheduledJobResponse:
        """Apply one change of is_enabled / is_paused under the job's row lock (`change` raises Conflict when it
        makes no sense). A job that can fire afterwards gets the next slot from now; one that cannot, none."""
        async with self._sessionmaker.begin() as session:
            job = await self._locked_job(session, job_id)
            flags = change(job)
            can_fire = flags.get("is_enabled", job.is_enabled) and not flags.get("is_paused", job.is_paused)
            next_run_at = next_fire_time(_job_schedule(job), await db_now(session)) if can_fire else None
            values = {**flags, "next_run_at": next_run_at, "updated_by_id": user_id}
            job = await self._repository.update_job(session, job_id, values)
            await self._repository.notify_schedule_changed(session)
            response = _job_response(job)
        self._schedule_changed()
        log.info("job_state_changed", job_id=job_id, change=flags, by=user_id)
        return response

    async def _checked_task(
        self, session: AsyncSession, task_function_id: int, problems: list[FieldError]
    ) -> TaskFunction | None:
        task = await self._repository.get_task_function(session, task_function_id)
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
        if priority > self._config.max_priority:
            problems.append(
                FieldError(
                    field="priority",
                    reason=f"must be between 0 and {self._config.max_priority} (the broker's maximum priority)",
                )
            )

    def _instance_response(self, instance: SchedulerInstance, now: datetime) -> SchedulerInstanceResponse:
        age = max(0.0, (now - instance.last_heartbeat).total_seconds())
        return SchedulerInstanceResponse(
            id=instance.id,
            name=instance.instance_name,
            role=instance.role,
            mode=instance.mode,
            status=instance.status,
            host_name=instance.host_name,
            process_id=instance.process_id,
            started_at=instance.started_at,
            last_heartbeat=instance.last_heartbeat,
            heartbeat_age_seconds=round(age, 3),
            is_live=age <= self._config.instance_timeout,
        )

    def _schedule_changed(self) -> None:
        if self._on_schedule_change is None:
            return
        try:
            self._on_schedule_change()
        except Exception as exc:  # committed already; timekeepers still find the change on their next pass
            log.warning("schedule_change_hook_failed", error=str(exc))


def _job_not_found(job_id: int) -> NotFound:
    return NotFound(f"job {job_id} does not exist")


def _checked_schedule(fields: Mapping[str, Any], problems: list[FieldError]) -> Schedule | None:
    try:
        return schedule_from_fields(fields)
    except ScheduleError as exc:
        problems.append(FieldError(field=exc.field, reason=exc.reason))
        return None


def _merged_schedule_fields(job: ScheduledJob, changes: Mapping[str, Any]) -> dict[str, Any]:
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


def _schedule_columns(schedule: Schedule, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The schedule columns of a job with this (valid) schedule: the other kind's fields cleared, the cron
    expression trimmed, and the zone of interval jobs (which ignore it) UTC."""
    if isinstance(schedule, CronSchedule):
        return {
            **dict.fromkeys(INTERVAL_FIELDS),
            "cron_expression": schedule.expression,
            "timezone": schedule.timezone,
        }
    return {**{name: fields.get(name) for name in INTERVAL_FIELDS}, "cron_expression": None, "timezone": UTC_ZONE}


def _job_type(schedule: Schedule) -> JobType:
    return JobType.CRON if isinstance(schedule, CronSchedule) else JobType.INTERVAL


def _job_schedule(job: ScheduledJob) -> Schedule:
    """The schedule of a stored job. Jobs are validated when written, so failing here means the row was changed
    behind the API's back: a conflict the operator fixes with a PUT."""
    try:
        return schedule_of(job)
    except ScheduleError as exc:
        raise Conflict(f"job {job.id} has an invalid schedule ({exc.field}: {exc.reason}); fix it with PUT") from exc


def _check_parameters(task: TaskFunction, parameters: dict[str, Any] | None, problems: list[FieldError]) -> None:
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


def _upcoming(schedule: Schedule, after: datetime, count: int, *, anchor: datetime | None = None) -> list[datetime]:
    """The first `count` fire times strictly after `after` (fewer if the schedule stops firing)."""
    times: list[datetime] = []
    while len(times) < count:
        following = next_fire_time(schedule, times[-1] if times else after, anchor=anchor)
        if following is None:
            break
        times.append(following)
    return times


def _preview(schedule: Schedule, times: list[datetime]) -> SchedulePreviewResponse:
    job_type = _job_type(schedule)
    return SchedulePreviewResponse(
        job_type_id=job_type,
        job_type_name=job_type.name.lower(),
        description=describe_schedule(schedule),
        timezone=schedule.timezone if isinstance(schedule, CronSchedule) else UTC_ZONE,
        fire_times=times,
    )


def _describe(job: ScheduledJob) -> str | None:
    try:
        return describe_schedule(schedule_of(job))
    except ScheduleError:
        return None


def _job_response(job: ScheduledJob) -> ScheduledJobResponse:
    """The response of a job loaded with its task function and job type (the repository's job queries do)."""
    columns = {name: getattr(job, name) for name in ScheduledJobResponse.model_fields if name in _JOB_COLUMNS}
    return ScheduledJobResponse(
        **columns,
        task_function_key=job.task_function.key,
        job_type_name=job.job_type.name,
        schedule_description=_describe(job),
    )


def _execution_response(execution: ScheduledJobExecution) -> ScheduledJobExecutionResponse:
    """The response of an execution loaded with its status (the repository's execution queries do)."""
    columns = {
        name: getattr(execution, name)
        for name in ScheduledJobExecutionResponse.model_fields
        if name in _EXECUTION_COLUMNS
    }
    return ScheduledJobExecutionResponse(**columns, status_name=execution.status.name)
