"""What follows the end of a run, in the transaction that records it (an executor's finish, the sweep's verdict):
its retry, its job's count of failed slots in a row (and the pause it may trigger), and the release of a queued
run of its job now that a place is free. In SQLAlchemy, for both backends; failures are rare, so these statements
stay off the per-run path (PostgreSQL's finish does the success path's part in its own statement)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Integer, insert, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from scheduler_core import verdicts
from scheduler_core.retries import RetryPolicy
from scheduler_core.store.models import ExecutionStatus, ScheduledJob, ScheduledJobExecution


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


class Followups:
    def __init__(self, jitter: Callable[[], float] = random.random) -> None:
        """jitter() in [0, 1): where each retry's delay falls in its jitter range (retries.JITTER)."""
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
        final: Counter[int] = Counter()
        for run in failed:
            policy = policies.get(run.job_id)
            delay = None if policy is None else policy.delay_after(run.attempt, self._jitter())
            if delay is None:
                final[run.job_id] += 1
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
                    .where(execution.execution_id == retry["retried_by_of"])
                    .values(retried_by=retry["execution_id"])
                )
        await self._count_failures(session, final)
        return len(retries)

    @staticmethod
    async def _count_failures(session: AsyncSession, final: Counter[int]) -> None:
        """Add each job's slots that failed for good to its consecutive_failures; pause the jobs that reach their
        pause_after_failures (0: never)."""
        job = ScheduledJob
        for job_id, count in final.items():
            row = (
                await session.execute(
                    update(job)
                    .where(job.id == job_id)
                    .values(consecutive_failures=job.consecutive_failures + count)
                    .returning(job.consecutive_failures, job.pause_after_failures, job.is_paused)
                )
            ).one_or_none()
            if row is None:
                continue
            failures, threshold, paused = row
            if threshold > 0 and failures >= threshold and not paused:
                await session.execute(
                    update(job)
                    .where(job.id == job_id)
                    .values(is_paused=True, next_run_at=None, paused_reason=verdicts.paused_after_failures(threshold))
                )

    @staticmethod
    async def reset_failures(session: AsyncSession, job_ids: Iterable[int]) -> None:
        """A slot of each of these jobs succeeded: their count of failed slots in a row starts again (no write
        for a job whose count is 0 already)."""
        ids = set(job_ids)
        if ids:
            job = ScheduledJob
            await session.execute(
                update(job).where(job.id.in_(ids), job.consecutive_failures != 0).values(consecutive_failures=0)
            )

    @staticmethod
    async def release_queued(session: AsyncSession, job_ids: Iterable[int], now: datetime) -> int:
        """A place under max_instances freed for each of these jobs: release the earliest of its queued runs still
        waiting for one (release_at = now: the next scheduling pass publishes it). Returns how many."""
        execution = ScheduledJobExecution
        released = 0
        for job_id in set(job_ids):
            head = (
                select(execution.id)
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
                .scalar_subquery()
            )
            result = await session.execute(
                update(execution)
                .where(execution.id == head, execution.release_at.is_(None))
                .values(release_at=now)
                .returning(execution.id)
            )
            released += len(result.all())
        return released
