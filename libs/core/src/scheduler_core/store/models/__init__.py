"""SQLAlchemy models: the reference's seven tables with its exact names, plus the columns the design needs.

Additions to the reference, each named for what it means:
- scheduled_job: next_run_at (first unhandled slot; indexed for "due now"), is_paused, timezone,
  parameters (task arguments), timeout_seconds; run control: the retry policy, overlap_policy,
  pause_after_failures with consecutive_failures and paused_reason.
- scheduled_job_execution: UNIQUE(job_id, scheduled_at, attempt), trigger, coalesced_count/coalesced_from,
  published_at (outbox confirmation), status ids 5 (missed), 6 (skipped), 7 (cancelled), 8 (waiting); run
  control: attempt, first_execution_id, retried_by, claimed_at, queued_at, release_at, rerun_of,
  cancel_requested_at, cancelled_by.
- task_function: parameters_schema (JSON schema of the task's declared parameters).
- scheduler_instance: role (api/timekeeper/executor/embedded).
- scheduler_audit_log (new): who changed what, when and from where (store/audit.py).
- notifications: scheduled_job's silence watch (expect_success_within_seconds, success_expected_by) and
  failing_since; notification_channels (where events go) and notification_deliveries (the outbox of events, one
  row per event and channel).
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduler_core.store.models.audit import SchedulerAuditLog
from scheduler_core.store.models.base import NAMING_CONVENTION, Base, BigId, JsonDoc, partial_where
from scheduler_core.store.models.notifications import DeliveryStatus, NotificationChannel, NotificationDelivery
from scheduler_core.store.types import UTCDateTime


class JobType(IntEnum):
    INTERVAL = 1
    CRON = 2


class ExecutionStatus(IntEnum):
    """Ids 1-4 keep the reference's meaning; 5-7 are terminal states the design adds, 8 an open one."""

    PENDING = 1
    RUNNING = 2
    SUCCESS = 3
    FAILED = 4
    MISSED = 5  # not started: claimed after scheduled_at + misfire_grace_time
    SKIPPED = 6  # not started: max_instances runs of the job were already running
    CANCELLED = 7  # an operator cancelled it (cancelled_by), or a newer run replaced it (overlap_policy replace)
    # Held back, not published yet: a retry until its delay has passed (release_at), or a run queued for a free
    # place under max_instances (overlap_policy queue or replace; release_at set once a place frees).
    WAITING = 8

    @property
    def is_terminal(self) -> bool:
        return self not in (ExecutionStatus.PENDING, ExecutionStatus.RUNNING, ExecutionStatus.WAITING)


class OverlapPolicy(StrEnum):
    """What a run due while its job already has max_instances runs running does."""

    SKIP = "skip"  # recorded skipped (the default)
    QUEUE = "queue"  # waits for a free place and starts in slot order, within its misfire grace time
    REPLACE = "replace"  # the oldest running run is cancelled, with the reason, and this one starts instead


class Trigger:
    """Why an execution exists (scheduled_job_execution.trigger). A retry keeps its slot's trigger."""

    SCHEDULE = "schedule"
    MANUAL = "manual"  # run now, or a re-run of a finished run (rerun_of)
    BACKFILL = "backfill"  # a past slot run on request (POST /jobs/{id}/backfill)


class TaskFunction(Base):
    __tablename__ = "task_function"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    name_en: Mapped[str] = mapped_column(String(255), nullable=False)
    name_ar: Mapped[str] = mapped_column(String(255), nullable=False)
    description_en: Mapped[str | None] = mapped_column(Text)
    description_ar: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
    parameters_schema: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)


class SchedulerJobType(Base):
    __tablename__ = "scheduler_job_type"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)
    name_ar: Mapped[str] = mapped_column(String(100), nullable=False)


class SchedulerExecutionStatus(Base):
    __tablename__ = "scheduler_execution_status"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(50), nullable=False)
    name_en: Mapped[str] = mapped_column(String(100), nullable=False)
    name_ar: Mapped[str] = mapped_column(String(100), nullable=False)


class ScheduledJob(Base):
    __tablename__ = "scheduled_job"
    __table_args__ = (
        # The timekeeper's "due now" query: only schedulable jobs are in the index, ordered by slot.
        Index(
            "ix_scheduled_job_due",
            "next_run_at",
            postgresql_where=text("is_enabled AND is_active AND NOT is_paused"),
            sqlite_where=text("is_enabled = 1 AND is_active = 1 AND is_paused = 0"),
        ),
        # The silence sweep's "success overdue": only watched jobs are in the index.
        Index("ix_scheduled_job_silence", "success_expected_by", **partial_where("success_expected_by IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_function_id: Mapped[int] = mapped_column(ForeignKey("task_function.id"), nullable=False)
    job_type_id: Mapped[int] = mapped_column(ForeignKey("scheduler_job_type.id"), nullable=False)

    name_en: Mapped[str | None] = mapped_column(String(255))
    name_ar: Mapped[str | None] = mapped_column(String(255))
    description_en: Mapped[str | None] = mapped_column(Text)
    description_ar: Mapped[str | None] = mapped_column(Text)

    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    interval_minutes: Mapped[int | None] = mapped_column(Integer)
    interval_hours: Mapped[int | None] = mapped_column(Integer)
    interval_days: Mapped[int | None] = mapped_column(Integer)
    cron_expression: Mapped[str | None] = mapped_column(String(100))
    # IANA zone the cron expression is read in; interval jobs ignore it.
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC", nullable=False)

    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    max_instances: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    misfire_grace_time: Mapped[int] = mapped_column(Integer, default=60, server_default="60", nullable=False)
    coalesce: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
    # Task arguments, validated against task_function.parameters_schema by the service layer.
    parameters: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    # Per-job run timeout in seconds; NULL = the executor's default.
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)

    # Retries of a failed (or timed-out, or lost) attempt: up to max_retries more attempts, the n-th after
    # min(retry_delay_seconds * retry_backoff_factor ** (n - 1), retry_max_delay_seconds) seconds plus jitter.
    max_retries: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    retry_delay_seconds: Mapped[int] = mapped_column(Integer, default=10, server_default="10", nullable=False)
    retry_backoff_factor: Mapped[float] = mapped_column(Float, default=2.0, server_default="2.0", nullable=False)
    retry_max_delay_seconds: Mapped[int] = mapped_column(Integer, default=3600, server_default="3600", nullable=False)
    overlap_policy: Mapped[str] = mapped_column(
        String(10), default=OverlapPolicy.SKIP, server_default=OverlapPolicy.SKIP, nullable=False
    )
    # The job pauses itself after this many slots in a row ended failed (0: never); paused_reason says why.
    pause_after_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # When the first slot of the current streak of failed slots (final attempts) failed; NULL once a slot succeeds.
    # A success while it is set is the job's recovery (event job.recovered). Resume leaves it (the count is reset).
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The silence watch (event job.silent): a success is expected within this many seconds; NULL: not watched.
    expect_success_within_seconds: Mapped[int | None] = mapped_column(Integer)
    # The instant the next success is due by: the last success (or the watch's start: creation, a change of the
    # expectation, enable, resume) plus expect_success_within_seconds. NULL while not watched, paused or disabled,
    # and once the silence was reported, until the next success.
    success_expected_by: Mapped[datetime | None] = mapped_column(UTCDateTime())

    is_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), nullable=False)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    # Paused jobs keep is_enabled; resuming continues from the next slot after the resume instant.
    is_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)

    # First slot not yet handled by a timekeeper; NULL when the job cannot fire (disabled, paused, deleted).
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), nullable=False)
    # Set by edits through the API (JobRepository.update_job), not by the scheduler's own bookkeeping
    # (next_run_at, last_run_at), which would otherwise bump it every time the job fires.
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by_id: Mapped[str | None] = mapped_column(String(36))
    updated_by_id: Mapped[str | None] = mapped_column(String(36))

    task_function: Mapped[TaskFunction] = relationship(lazy="raise")
    job_type: Mapped[SchedulerJobType] = relationship(lazy="raise")
    executions: Mapped[list[ScheduledJobExecution]] = relationship(back_populates="job", lazy="raise")


class ScheduledJobExecution(Base):
    """One run of a job. On PostgreSQL the table is partitioned by day of scheduled_at (migration 0012;
    store/postgres/partitions.py): its primary key there is (id, scheduled_at), and every statement on a run's path
    names the run's slot, so that it reads one partition."""

    __tablename__ = "scheduled_job_execution"
    __table_args__ = (
        # Guarantee 1: one execution per slot and attempt, whatever number of timekeepers race.
        UniqueConstraint("job_id", "scheduled_at", "attempt"),
        UniqueConstraint("execution_id", "scheduled_at"),
        # History in slot order, newest first (keyset paging on (scheduled_at, id)), whole or by one filter: each
        # filter has an index that then holds the slot order, so a page is one ordered range scan that stops after
        # the page, and a time range (from, to) bounds it too (migrations 0008, 0010). Every full index costs four
        # entries per run (an insert and three updates, none HOT), so the filters reuse what exists where they can:
        # a job's history reads the unique (job_id, scheduled_at, attempt) above, in (slot, attempt) order; a status
        # reads the partial index of the rare statuses below, or (success, nearly every row) the slot index, or
        # (pending, running: few) the open runs' index.
        Index("ix_scheduled_job_execution_slot", "scheduled_at", "id"),
        # Runs that did not succeed (failed, missed, skipped, cancelled; waiting retries), by status: a successful
        # run never enters it.
        Index(
            "ix_scheduled_job_execution_rare_status_slot",
            "status_id",
            "scheduled_at",
            "id",
            postgresql_where=text("status_id > 3"),
            sqlite_where=text("+status_id > 3"),
        ),
        # A job's runs that did not succeed (failed, missed, skipped, cancelled; waiting retries): the dashboard's
        # "failures of this job". Partial, so it costs nothing for the runs that succeed (nearly all): a job's
        # successes read its unique (job_id, scheduled_at, attempt) and drop the few others, its open runs the open
        # runs' index.
        Index(
            "ix_scheduled_job_execution_job_status_slot",
            "job_id",
            "status_id",
            "scheduled_at",
            "id",
            postgresql_where=text("status_id > 3"),
            # `+status_id`: a query states this term to use the index on SQLite (store/sqlite/history.py), and the
            # unary plus keeps SQLite from taking it for the index's range instead of the status's equality.
            sqlite_where=text("+status_id > 3"),
        ),
        # Runs on request (manual, backfill) only: scheduled runs are nearly every row, so `trigger = 'schedule'`
        # reads the slot index and drops the few others, and this index costs nothing on the scheduled path.
        Index(
            "ix_scheduled_job_execution_trigger_slot",
            "trigger",
            "scheduled_at",
            "id",
            postgresql_where=text("trigger <> 'schedule'"),
            sqlite_where=text("trigger <> 'schedule'"),
        ),
        Index("ix_scheduled_job_execution_created_at", "created_at"),
        # Runs in flight (pending/running) are few; the sweep and status page look only at them.
        Index(
            "ix_scheduled_job_execution_open",
            "status_id",
            postgresql_where=text("status_id IN (1, 2)"),
            sqlite_where=text("status_id IN (1, 2)"),
        ),
        # The outbox: pending runs the broker has not confirmed yet (normally empty within milliseconds).
        Index(
            "ix_scheduled_job_execution_outbox",
            "created_at",
            postgresql_where=text("status_id = 1 AND published_at IS NULL"),
            sqlite_where=text("status_id = 1 AND published_at IS NULL"),
        ),
        # Waiting runs whose time is known (retries, released queued runs), for the pass that releases them.
        Index(
            "ix_scheduled_job_execution_waiting",
            "release_at",
            postgresql_where=text("status_id = 8"),
            sqlite_where=text("status_id = 8"),
        ),
        # Each job's queue (overlap_policy queue or replace): queued runs not yet running, in slot order.
        Index(
            "ix_scheduled_job_execution_queue",
            "job_id",
            "scheduled_at",
            postgresql_where=text("queued_at IS NOT NULL AND status_id IN (1, 8)"),
            sqlite_where=text("queued_at IS NOT NULL AND status_id IN (1, 8)"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("scheduled_job.id"), nullable=False)
    # Unique with its slot (UniqueConstraint above): on PostgreSQL the table is partitioned by slot (migration
    # 0012), and a partitioned table's unique indexes must contain the partition key. Ids are UUIDv4s.
    execution_id: Mapped[str] = mapped_column(String(36), nullable=False)

    scheduled_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_ms: Mapped[int | None] = mapped_column(Integer)

    status_id: Mapped[int] = mapped_column(ForeignKey("scheduler_execution_status.id"), nullable=False)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_traceback: Mapped[str | None] = mapped_column(Text)
    result_summary: Mapped[str | None] = mapped_column(Text)

    # The reference makes these NOT NULL strings; a run nobody has claimed yet carries "" (no executor).
    # The executor's final UPDATE is fenced on executor_id = its own instance id.
    executor_id: Mapped[str] = mapped_column(String(36), default="", server_default="", nullable=False)
    host_name: Mapped[str] = mapped_column(String(255), default="", server_default="", nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now(), nullable=False)

    trigger: Mapped[str] = mapped_column(
        String(20), default=Trigger.SCHEDULE, server_default=Trigger.SCHEDULE, nullable=False
    )
    # A coalesced run stands for this many slots, the earliest being coalesced_from.
    coalesced_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    coalesced_from: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once the broker confirmed the run's message; pending rows without it are the outbox.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # 1-based; a retry is a new row of the same slot with the next attempt, linked both ways.
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1", nullable=False)
    first_execution_id: Mapped[str | None] = mapped_column(String(36))  # the slot's first attempt; NULL on it
    retried_by: Mapped[str | None] = mapped_column(String(36))  # the attempt that followed this failed one
    # The instant an executor claimed it; started_at is the instant its task function began.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # First queued for a free place (overlap_policy queue or replace); NULL if it never waited for one.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Waiting: when it may be published (NULL: once a place frees). Pending after waiting: when it was released.
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rerun_of: Mapped[str | None] = mapped_column(String(36))  # the finished run this manual run runs again
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(255))  # a user id, or "replaced by <execution id>"

    job: Mapped[ScheduledJob] = relationship(back_populates="executions", lazy="raise")
    status: Mapped[SchedulerExecutionStatus] = relationship(lazy="raise")


class ScheduledJobLock(Base):
    __tablename__ = "scheduled_job_lock"
    # Ids never reused (SQLite: AUTOINCREMENT; PostgreSQL: its identity sequence): a lock's id is its run's fencing
    # token, which grows with every claim of a job.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("scheduled_job.id"), nullable=False, index=True)
    # One lock per run: a run is claimed once.
    execution_id: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    locked_by: Mapped[str] = mapped_column(String(36), nullable=False, index=True)  # instance id
    locked_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    # Its run's cancel request, mirrored from the execution (cancelled_by, "" if nobody was named): lease renewals
    # return it with no read of the executions (migration 0011).
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255))


class SchedulerInstance(Base):
    __tablename__ = "scheduler_instance"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_name: Mapped[str] = mapped_column(String(255), nullable=False)
    host_name: Mapped[str] = mapped_column(String(255), nullable=False)
    process_id: Mapped[int] = mapped_column(Integer, nullable=False)
    mode: Mapped[str] = mapped_column(String(20), nullable=False)  # embedded | standalone
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # starting | running | paused | stopped
    role: Mapped[str] = mapped_column(String(20), default="embedded", server_default="embedded", nullable=False)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class InstanceStatus:
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


__all__ = [
    "NAMING_CONVENTION",
    "Base",
    "BigId",
    "DeliveryStatus",
    "JsonDoc",
    "NotificationChannel",
    "NotificationDelivery",
    "SchedulerAuditLog",
]
