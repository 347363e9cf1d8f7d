"""The scheduling pass: claim due jobs, write one execution per due slot, advance next_run_at.

A slot is due once it is at most the look-ahead away: its run is written and published that much ahead of its
time, so that it reaches an executor before it and starts on time (the executor holds it until its slot; see
scheduler_executor). Misfires are still judged against the pass's real `now`.

One pass is one transaction over a batch of jobs claimed with SKIP LOCKED, so any number of timekeepers
can run: each takes different jobs, and UNIQUE(job_id, scheduled_at) makes a second row for a slot
impossible even if two ever met on one job. Execution rows are the outbox: the runs to publish are
returned and published only after the commit.

The same transaction carries what the timekeeper's loop needs next, so a cycle costs one transaction (on
PostgreSQL: BEGIN, the claim with the database's `now`, one write statement, COMMIT): the published_at of
runs that earlier passes published, and the soonest next_run_at after this pass's advances."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from scheduler_core import verdicts
from scheduler_core.broker import RunMessage
from scheduler_core.observability.metrics import Metrics
from scheduler_core.observability.tracing import Tracing
from scheduler_core.schedule import (
    MisfirePlan,
    Schedule,
    ScheduleError,
    next_fire_time,
    plan_due_runs,
    schedule_of,
)
from scheduler_core.store import DueJob, JobAdvance, NewExecution, PublishedRun, Store
from scheduler_core.store.models import ExecutionStatus

log = structlog.get_logger(__name__)

# Slots one job may contribute in one pass; a long outage with a 1-s interval is walked over several passes.
MAX_SLOTS_PER_JOB = 1000


@dataclass(frozen=True, slots=True)
class DbClock:
    """The database's `now` as a pass read it, and this process's monotonic clock at that moment: the
    database's time at a later moment is extrapolated from the pair, without a round trip."""

    now: datetime
    monotonic: float

    def at(self, monotonic: float) -> datetime:
        """The database's time when this process's monotonic clock read `monotonic`."""
        return self.now + timedelta(seconds=monotonic - self.monotonic)

    def monotonic_at(self, instant: datetime) -> float:
        """This process's monotonic clock when the database's clock reaches `instant`."""
        return self.monotonic + (instant - self.now).total_seconds()


@dataclass(frozen=True, slots=True)
class PassResult:
    jobs: int  # jobs claimed
    to_publish: list[RunMessage]  # pending runs written in this pass
    missed: int  # rows written as missed
    more_due: bool  # the batch was full, or a job still has due slots: more work is due right now
    clock: DbClock  # the instant the pass claimed at
    horizon: datetime  # slots up to this instant (the clock's now plus the look-ahead) were taken
    earliest: datetime | None  # the soonest next_run_at after the pass (None: no job can fire)
    earliest_release: datetime | None = None  # the soonest release_at of a run still waiting (retries, queues)


class SchedulingPass:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        store: Store,
        metrics: Metrics,
        *,
        batch_size: int,
        lookahead: float,
        tracing: Tracing | None = None,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._store = store
        self._metrics = metrics
        self._batch_size = batch_size
        self._lookahead = lookahead  # seconds: slots due this soon are written and published already
        self._tracing = tracing or Tracing()

    async def run_once(self, published: Sequence[PublishedRun] = ()) -> PassResult:
        """One pass; `published` are runs the broker confirmed since, whose published_at it writes too."""
        started_ns = time.time_ns()  # where the runs' traces begin, when traces are on
        async with self._sessionmaker.begin() as session:
            claim = await self._store.passes.claim_due(session, self._batch_size, self._lookahead)
            clock = DbClock(claim.now, time.monotonic())
            now, due, horizon = claim.now, claim.jobs, claim.horizon
            rows: list[NewExecution] = []
            messages: dict[str, RunMessage] = {}
            advances: list[JobAdvance] = []
            for job in due:
                plan = self._plan(job, now, horizon)
                if plan is None:
                    advances.append(JobAdvance(job.id, None))
                    continue
                for run in plan.run:
                    execution_id = str(uuid.uuid4())
                    rows.append(
                        NewExecution(
                            execution_id,
                            job.id,
                            run.scheduled_at,
                            coalesced_count=run.coalesced_count,
                            coalesced_from=run.coalesced_from,
                        )
                    )
                    messages[execution_id] = RunMessage(execution_id, job.id, run.scheduled_at, job.priority)
                for run in plan.missed:
                    rows.append(
                        NewExecution(
                            str(uuid.uuid4()),
                            job.id,
                            run.scheduled_at,
                            status_id=ExecutionStatus.MISSED,
                            coalesced_count=run.coalesced_count,
                            coalesced_from=run.coalesced_from,
                            error_message=verdicts.missed_at_pass(
                                run.scheduled_at,
                                now,
                                job.misfire_grace_time,
                                coalesced_from=run.coalesced_from,
                                coalesced_count=run.coalesced_count,
                            ),
                            completed_at=now,
                        )
                    )
                fired = plan.run[-1].scheduled_at if plan.run else None
                advances.append(JobAdvance(job.id, plan.next_run_at, fired))
            record = await self._store.passes.record(
                session, rows, advances, published, release_until=now, release_limit=self._batch_size
            )
        written = set(record.written)

        to_publish = [message for execution_id, message in messages.items() if execution_id in written]
        # Waiting runs released (retries whose delay has passed, queued runs with a place free): no look-ahead,
        # they are due now.
        to_publish += [RunMessage(r.execution_id, r.job_id, r.scheduled_at, r.priority) for r in record.released]
        if self._tracing.enabled:
            to_publish = self._tracing.written(to_publish, started_ns)
        missed_by_job = Counter(
            row.job_id for row in rows if row.status_id == ExecutionStatus.MISSED and row.execution_id in written
        )
        missed = missed_by_job.total()
        self._metrics.scheduled.inc(len(to_publish))
        self._metrics.runs_recorded("missed", missed)
        for job_id, count in missed_by_job.items():
            self._metrics.job_run(job_id, "missed", count)
        if missed:
            log.warning("runs_missed", count=missed)
        more_due = (
            len(due) >= self._batch_size
            or len(record.released) >= self._batch_size
            or any(a.next_run_at is not None and a.next_run_at <= horizon for a in advances)
        )  # a job walked only MAX_SLOTS_PER_JOB of a long outage: its next slot is due already
        return PassResult(
            len(due), to_publish, missed, more_due, clock, horizon, record.earliest, record.earliest_release
        )

    async def schedule_unscheduled(self) -> int:
        """Give schedulable jobs without a next_run_at their first slot after now; returns how many."""
        async with self._sessionmaker.begin() as session:
            jobs = await self._store.passes.claim_unscheduled(session, self._batch_size)
            if not jobs:
                return 0
            now = await self._store.clock.now(session)
            advances: list[JobAdvance] = []
            for job in jobs:
                schedule = job_schedule(job)
                advances.append(JobAdvance(job.id, None if schedule is None else next_fire_time(schedule, now)))
            await self._store.passes.advance(session, advances)
        log.info("jobs_scheduled", count=len(advances))
        return len(advances)

    @staticmethod
    def _plan(job: DueJob, now: datetime, horizon: datetime) -> MisfirePlan | None:
        schedule = job_schedule(job)
        if schedule is None:
            return None
        assert job.next_run_at is not None  # claim_due_jobs only returns jobs with a slot
        return plan_due_runs(
            schedule,
            job.next_run_at,
            now,
            misfire_grace_time=job.misfire_grace_time,
            coalesce=job.coalesce,
            limit=MAX_SLOTS_PER_JOB,
            horizon=horizon,
        )


def job_schedule(job: DueJob) -> Schedule | None:
    """The job's schedule, or None if its stored definition is invalid (only reachable if the row was edited
    around the API's validation): the job then stops firing (next_run_at NULL) and the log says why, rather
    than every pass failing on it."""
    try:
        return schedule_of(job)
    except ScheduleError as exc:
        log.error("job_schedule_invalid", job_id=job.id, field=exc.field, reason=exc.reason)
        return None
