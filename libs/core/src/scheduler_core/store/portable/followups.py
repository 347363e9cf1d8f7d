"""What follows the end of a run, in the transaction that records it (an executor's finish, the sweep's verdict):
its retry, its job's count of failed slots in a row (and the pause it may trigger), the release of a queued run of
its job now that a place is free, and the events these announce (run.failed, job.paused; after a success,
job.recovered and a silence found late, job.silent). In SQLAlchemy, for both backends; failures are rare, so these
statements stay off the per-run path (PostgreSQL's finish does the success path's part in its own statement)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, func, insert, literal_column, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.notifications import Event, EventType, instant
from scheduler_core.retries import RetryPolicy
from scheduler_core.store.audit import SCHEDULER_ACTOR_NAME, Actor, AuditAction, AuditEntry, AuditStore
from scheduler_core.store.claims import RunSlot
from scheduler_core.store.models import ExecutionStatus, ScheduledJob, ScheduledJobExecution
from scheduler_core.store.portable.events import EventOutbox


def _literal(status: ExecutionStatus) -> ColumnElement[int]:
    return literal_column(str(int(status)), Integer())


@dataclass(frozen=True, slots=True)
class EndedRun:
    """A run whose outcome a transaction just recorded."""

    execution_id: str
    job_id: int
    scheduled_at: datetime
    trigger: str
    attempt: int
    first_execution_id: str | None
    status: int
    completed_at: datetime


@dataclass(frozen=True, slots=True)
class WatchedJob:
    """A job with a success just recorded, as it was before: its streak of failed slots and its silence watch."""

    job_id: int
    failing_since: datetime | None  # set: the success is a recovery
    success_expected_by: datetime | None  # earlier than the success: the job was silent, and nobody reported it
    expect_success_within_seconds: int | None
    succeeded_at: datetime  # the job's latest success in the batch


class Followups:
    def __init__(self, events: EventOutbox, audit: AuditStore, jitter: Callable[[], float] = random.random) -> None:
        """jitter() in [0, 1): where each retry's delay falls in its jitter range (retries.JITTER). audit: a job
        that pauses itself is a change to it like an operator's pause, recorded with the scheduler as the actor."""
        self._events = events
        self._audit = audit
        self._jitter = jitter

    async def after_failures(self, session: AsyncSession, failed: Sequence[EndedRun]) -> int:
        """For each failed run: its next attempt, waiting for its delay, if its job's policy allows one; otherwise
        its slot has failed for good, which counts towards the job's pause_after_failures. Returns how many
        retries were scheduled."""
        if not failed:
            return 0
        job = ScheduledJob
        policies = {
            row.id: RetryPolicy(
                row.max_retries, row.retry_delay_seconds, row.retry_backoff_factor, row.retry_max_delay_seconds
            )
            for row in (
                await session.execute(
                    select(
                        job.id,
                        job.max_retries,
                        job.retry_delay_seconds,
                        job.retry_backoff_factor,
                        job.retry_max_delay_seconds,
                    ).where(job.id.in_({run.job_id for run in failed}))
                )
            ).all()
        }
        retries: list[dict[str, object]] = []
        final: list[EndedRun] = []
        for run in failed:
            policy = policies.get(run.job_id)
            delay = None if policy is None else policy.delay_after(run.attempt, self._jitter())
            if delay is None:
                final.append(run)
                continue
            retries.append(
                {
                    "execution_id": str(uuid.uuid4()),
                    "job_id": run.job_id,
                    "scheduled_at": run.scheduled_at,
                    "trigger": run.trigger,
                    "attempt": run.attempt + 1,
                    "first_execution_id": run.first_execution_id or run.execution_id,
                    "status_id": int(ExecutionStatus.WAITING),
                    "release_at": run.completed_at + timedelta(seconds=delay),
                    "error_message": verdicts.retry_waiting(run.attempt + 1, delay),
                    "retried_by_of": run.execution_id,
                }
            )
        if retries:
            execution = ScheduledJobExecution
            await session.execute(
                insert(execution), [{k: v for k, v in r.items() if k != "retried_by_of"} for r in retries]
            )
            for retry in retries:
                await session.execute(
                    update(execution)
                    # Its slot too (the retry's is the failed run's): on PostgreSQL, one partition's index.
                    .where(
                        execution.execution_id == retry["retried_by_of"],
                        execution.scheduled_at == retry["scheduled_at"],
                    )
                    .values(retried_by=retry["execution_id"])
                )
        # The slots that failed for good: announced, then counted (a pause they cause is announced after them).
        await self._events.add_runs(
            session, EventType.RUN_FAILED, (RunSlot(r.execution_id, r.scheduled_at) for r in final)
        )
        await self._count_failures(session, final)
        return len(retries)

    async def _count_failures(self, session: AsyncSession, final: Sequence[EndedRun]) -> None:
        """Add each job's slots that failed for good to its consecutive_failures (the streak starts at the first:
        failing_since); pause the jobs that reach their pause_after_failures (0: never), which announces it."""
        job = ScheduledJob
        counts = Counter(run.job_id for run in final)
        first: dict[int, datetime] = {}  # job id -> when its first slot of these failed
        last: dict[int, EndedRun] = {}  # job id -> its latest of these (the one that may tip it into a pause)
        for run in final:
            first[run.job_id] = min(first.get(run.job_id, run.completed_at), run.completed_at)
            if run.job_id not in last or last[run.job_id].completed_at <= run.completed_at:
                last[run.job_id] = run
        paused: list[Event] = []
        for job_id, count in counts.items():
            row = (
                await session.execute(
                    update(job)
                    .where(job.id == job_id)
                    .values(
                        consecutive_failures=job.consecutive_failures + count,
                        failing_since=func.coalesce(job.failing_since, first[job_id]),
                    )
                    .returning(job.consecutive_failures, job.pause_after_failures, job.is_paused)
                )
            ).one_or_none()
            if row is None:
                continue
            failures, threshold, is_paused = row
            if threshold > 0 and failures >= threshold and not is_paused:
                reason = verdicts.paused_after_failures(threshold)
                await session.execute(
                    update(job)
                    .where(job.id == job_id)
                    .values(is_paused=True, next_run_at=None, paused_reason=reason, success_expected_by=None)
                )
                data = {"reason": reason, "automatic": True, "consecutiveFailures": failures, "by": None}
                paused.append(Event(EventType.JOB_PAUSED, first[job_id], job_id, data))
                # As an operator's pause records it (the API's field names; nextRunAt follows from them), in
                # this transaction; the run whose failure paused the job ties the row to its log lines.
                changes: dict[str, dict[str, object]] = {
                    "isPaused": {"before": False, "after": True},
                    "pausedReason": {"before": None, "after": reason},
                }
                tipping = last[job_id].execution_id
                actor = Actor(None, SCHEDULER_ACTOR_NAME, request_id=tipping)
                entry = AuditEntry(actor, AuditAction.PAUSE, job_id, target=tipping, changes=changes)
                await self._audit.record(session, entry)
        await self._events.add(session, paused)

    async def after_successes(
        self, session: AsyncSession, succeeded: Sequence[EndedRun], watched: Sequence[WatchedJob]
    ) -> int:
        """Announce what the successes just recorded mean (the backends have reset the jobs' streaks and moved
        their silence watch on, and report how each job was before): job.recovered for a job that was failing,
        job.silent for one whose success came after it was due and whose silence nobody reported (the sweep had
        not run since: its timekeepers were down). Returns how many deliveries were written."""
        if not watched:
            return 0
        latest = {run.job_id: run for run in sorted(succeeded, key=lambda r: r.completed_at)}
        events: list[Event] = []
        for job in watched:
            run = latest.get(job.job_id)
            if run is None:
                continue
            if job.failing_since is not None:
                data = {
                    "executionId": run.execution_id,
                    "scheduledAt": instant(run.scheduled_at),
                    "failingSince": instant(job.failing_since),
                }
                events.append(Event(EventType.JOB_RECOVERED, run.completed_at, job.job_id, data))
            if job.success_expected_by is not None and job.success_expected_by < job.succeeded_at:
                events.append(silent_event(job.job_id, job.success_expected_by, job.expect_success_within_seconds,
                                           detected_at=job.succeeded_at, late=True))  # fmt: skip
        return await self._events.add(session, events)

    @staticmethod
    async def release_queued(session: AsyncSession, job_ids: Iterable[int], now: datetime) -> int:
        """A place under max_instances freed for each of these jobs: release the earliest of its queued runs still
        waiting for one (release_at = now: the next scheduling pass publishes it). Returns how many."""
        execution = ScheduledJobExecution
        released = 0
        for job_id in set(job_ids):
            head = (
                select(execution.id, execution.scheduled_at)
                .where(
                    execution.job_id == job_id,
                    # Literals, as ix_scheduled_job_execution_queue's predicate needs (see PENDING_LITERAL).
                    execution.queued_at.is_not(None),
                    execution.status_id.in_([_literal(ExecutionStatus.PENDING), _literal(ExecutionStatus.WAITING)]),
                    execution.status_id == _literal(ExecutionStatus.WAITING),
                    execution.release_at.is_(None),
                )
                .order_by(execution.scheduled_at, execution.attempt)
                .limit(1)
            )
            result = await session.execute(
                update(execution)
                # By id and slot: on PostgreSQL, the head's own partition only.
                .where(tuple_(execution.id, execution.scheduled_at).in_(head), execution.release_at.is_(None))
                .values(release_at=now)
                .returning(execution.id)
            )
            released += len(result.all())
        return released


def silent_event(job_id: int, expected_by: datetime, within: int | None, *, detected_at: datetime, late: bool) -> Event:
    """job.silent: no success of the job by `expected_by`. `late`: found only when the next success came (no
    sweep ran in between)."""
    data = {
        "expectSuccessWithinSeconds": within,
        "successExpectedBy": instant(expected_by),
        "detectedAt": instant(detected_at),
        "detectedLate": late,
    }
    return Event(EventType.JOB_SILENT, detected_at, job_id, data)
